package pgsql

import (
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"select 1", []string{"select 1"}},
		{"select 1;\n", []string{"select 1;\n"}},
		{"BEGIN;", []string{"BEGIN;"}},
		{"select 1; select 2;", []string{"select 1;", "select 2;"}},
		{"select 1;\r\nselect 2;\r\n", []string{"select 1;", "select 2;\r\n"}},
		{"select 1;;  ;select 2", []string{"select 1;;  ;", "select 2"}},
		{";", nil},
		{"  ; ;\n", nil},
		{"  select\n  1  ", []string{"  select\n  1  "}},
		{"insert into t values ('a;b'); select 2", []string{"insert into t values ('a;b');", "select 2"}},
		{"select 'it''s;'; select 2", []string{"select 'it''s;';", "select 2"}},
		{`select E'\';'; select 2`, []string{`select E'\';';`, "select 2"}},
		{`select "a;b" from t; x`, []string{`select "a;b" from t;`, "x"}},
		{"select 1 -- a;b\n; select 2", []string{"select 1 -- a;b\n;", "select 2"}},
		{"select /* a; /* b; */ c; */ 1; select 2", []string{"select /* a; /* b; */ c; */ 1;", "select 2"}},
		{"create function f() returns int as $$ select 1; $$ language sql; select f()",
			[]string{"create function f() returns int as $$ select 1; $$ language sql;", "select f()"}},
		{"do $body$ begin perform 1; end $body$; select 2", []string{"do $body$ begin perform 1; end $body$;", "select 2"}},
		{"select $1; select 2", []string{"select $1;", "select 2"}},
		{"select 'unterminated; select 2", []string{"select 'unterminated; select 2"}},
	}
	for _, c := range cases {
		got := splitStatements(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("splitStatements(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMethod(t *testing.T) {
	cases := map[string]string{
		"select * from t":               "SELECT",
		"SELECT 1":                      "SELECT",
		"  \n\tinsert into t":           "INSERT",
		"(select 1) union (select 2)":   "SELECT",
		"/* app=x */ update t set a=1":  "UPDATE",
		"-- note\ndelete from t":        "DELETE",
		"with x as (select 1) select 2": "WITH",
		"BEGIN":                         "BEGIN",
		"select\n1":                     "SELECT",
		"":                              "",
		"-- only a comment":             "",
	}
	for in, want := range cases {
		if got := method(in); got != want {
			t.Errorf("method(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorFields(t *testing.T) {
	body := []byte("SERROR\x00VERROR\x00C42P01\x00Mrelation \"x\" does not exist\x00P15\x00\x00")
	f := parseErrorFields(body)
	if string(f.severity) != "ERROR" || string(f.code) != "42P01" || string(f.message) != `relation "x" does not exist` {
		t.Errorf("got %q %q %q", f.severity, f.code, f.message)
	}
	// Localized S missing: the non-localized V is used. Truncated: what is there.
	f = parseErrorFields([]byte("VFATAL\x00C28P01\x00Mpassword auth"))
	if string(f.severity) != "FATAL" || string(f.code) != "28P01" || string(f.message) != "password auth" {
		t.Errorf("got %q %q %q", f.severity, f.code, f.message)
	}
}
