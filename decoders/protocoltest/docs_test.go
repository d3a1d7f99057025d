package protocoltest

import (
	"encoding/json"
	"fmt"
	"testing"
)

// recorder keeps ExpectFields' failures instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Errorf(f string, args ...any) { r.errs = append(r.errs, fmt.Sprintf(f, args...)) }

func TestGetAndExpectFields(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(`{"a":{"b":{"c":7}},"x.y":"root","x":{"y":"nested"},"s":"v"}`), &doc); err != nil {
		t.Fatal(err)
	}
	if got := Get(doc, "a.b.c"); got != float64(7) {
		t.Errorf("Get a.b.c = %v", got)
	}
	if got := Get(doc, "a.b.c.d"); got != nil {
		t.Errorf("Get past a leaf = %v, want nil", got)
	}
	if got := Get(doc, "x.y"); got != "nested" {
		t.Errorf("Get x.y = %v, want nested", got)
	}
	if got := GetKeyOrPath(doc, "x.y"); got != "root" {
		t.Errorf("GetKeyOrPath x.y = %v, want root", got)
	}
	if got := GetKeyOrPath(doc, "a.b.c"); got != float64(7) {
		t.Errorf("GetKeyOrPath a.b.c = %v", got)
	}

	r := &recorder{TB: t}
	ExpectFields(r, doc, map[string]any{"a.b.c": 7, "s": "v", "missing": nil}, "q")
	if len(r.errs) != 0 {
		t.Errorf("matching fields reported: %v", r.errs)
	}
	ExpectFields(r, doc, map[string]any{"s": "w", "a.b.c": "8"}, "q")
	want := []string{"q: a.b.c = 7, want 8", "q: s = v, want w"}
	if fmt.Sprint(r.errs) != fmt.Sprint(want) {
		t.Errorf("failures = %q, want %q", r.errs, want)
	}
}
