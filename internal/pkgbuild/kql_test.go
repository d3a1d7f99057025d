package pkgbuild

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseKQL(t *testing.T) {
	for _, tc := range []struct {
		q      string
		fields []string
		dsl    string
	}{
		{``, nil, `{"match_all":{}}`},
		{`network_traffic.status : "Error"`, []string{"network_traffic.status"}, `{"match_phrase":{"network_traffic.status":"Error"}}`},
		{`http.response.status_code >= 400`, []string{"http.response.status_code"}, `{"range":{"http.response.status_code":{"gte":"400"}}}`},
		{`a.b : * and not c : "x y" or d : (1 or 2)`, []string{"a.b", "c", "d"},
			`{"bool":{"minimum_should_match":1,"should":[{"bool":{"filter":[{"exists":{"field":"a.b"}},{"bool":{"must_not":[{"match_phrase":{"c":"x y"}}]}}]}},{"bool":{"minimum_should_match":1,"should":[{"match":{"d":"1"}},{"match":{"d":"2"}}]}}]}}`},
		{`NOT (x : true AND y < 3)`, []string{"x", "y"}, `{"bool":{"must_not":[{"bool":{"filter":[{"match":{"x":"true"}},{"range":{"y":{"lt":"3"}}}]}}]}}`},
	} {
		k, err := ParseKQL(tc.q)
		if err != nil {
			t.Errorf("%q: %v", tc.q, err)
			continue
		}
		if !slices.Equal(k.Fields(), tc.fields) {
			t.Errorf("%q: fields %v, want %v", tc.q, k.Fields(), tc.fields)
		}
		b, _ := json.Marshal(k.ToDSL())
		if string(b) != tc.dsl {
			t.Errorf("%q: DSL\n %s\nwant\n %s", tc.q, b, tc.dsl)
		}
	}
	for _, tc := range []struct{ q, err string }{
		{`just words`, "want : or a comparison"},
		{`"free text"`, "want a field name"},
		{`a : foo*`, "not in the supported subset"},
		{`a : "open`, "unterminated"},
		{`(a : 1`, "missing )"},
		{`a > b`, "want a number"},
		{`a : 1 b : 2`, `unexpected "b"`},
		{`a : 1 and`, "unexpected end"},
	} {
		if _, err := ParseKQL(tc.q); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.q, err, tc.err)
		}
	}
}

func FuzzParseKQL(f *testing.F) {
	for _, s := range []string{`a : "b" and not (c : * or d >= 1)`, `x : (1 or 2)`, `"`, `((`, `a:`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		k, err := ParseKQL(q)
		if err != nil {
			return
		}
		if _, err := json.Marshal(k.ToDSL()); err != nil {
			t.Fatal(err)
		}
	})
}
