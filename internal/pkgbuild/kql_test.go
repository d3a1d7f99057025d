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
	// RenameFields rewrites the names and keeps the rest of the text.
	k, err := ParseKQL(`network_traffic.status : "Error" or (network_traffic.mysql.num_rows >= 1 and not x:(a or "b c"))`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.RenameFields(func(f string) (string, error) {
		return map[string]string{"network_traffic.status": "status", "network_traffic.mysql.num_rows": "mysql.num_rows"}[f] + map[bool]string{true: f}[f == "x"], nil
	})
	if want := `status : "Error" or (mysql.num_rows >= 1 and not x:(a or "b c"))`; err != nil || got != want {
		t.Errorf("renamed: %q, %v; want %q", got, err, want)
	}
	if _, err := k.RenameFields(func(string) (string, error) { return "two words", nil }); err == nil {
		t.Error("renaming a field to two words passed")
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
		d, err := json.Marshal(k.ToDSL())
		if err != nil {
			t.Fatal(err)
		}
		// Renaming every field to itself changes nothing; to another name, only the names.
		same, err := k.RenameFields(func(f string) (string, error) { return f, nil })
		if err != nil || same != q {
			t.Fatalf("identity rename of %q: %q, %v", q, same, err)
		}
		r, err := k.RenameFields(func(f string) (string, error) { return "x." + f, nil })
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParseKQL(r)
		if err != nil {
			t.Fatalf("renamed %q to %q: %v", q, r, err)
		}
		if len(k2.Fields()) != len(k.Fields()) {
			t.Fatalf("renamed %q to %q: fields %v, were %v", q, r, k2.Fields(), k.Fields())
		}
		for i, f := range k.Fields() {
			if k2.Fields()[i] != "x."+f {
				t.Fatalf("renamed %q to %q: field %d is %s", q, r, i, k2.Fields()[i])
			}
		}
		// The renamed query means what the original does, on the renamed fields.
		var prefixed func(n kqlNode) kqlNode
		prefixed = func(n kqlNode) kqlNode {
			if n.field != "" {
				n.field = "x." + n.field
			}
			kids := make([]kqlNode, len(n.kids))
			for i, c := range n.kids {
				kids[i] = prefixed(c)
			}
			n.kids = kids
			return n
		}
		want, _ := json.Marshal(dsl(prefixed(k.node)))
		if d2, _ := json.Marshal(k2.ToDSL()); string(d2) != string(want) {
			t.Fatalf("renamed %q to %q: DSL %s, want %s (was %s)", q, r, d2, want, d)
		}
	})
}
