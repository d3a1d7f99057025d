package pipelinetest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDiff(t *testing.T) {
	want := doc(t, `{"a":{"b":1,"c":[1,2]},"d":[{"e":"x"}],"t":"2026-01-01T00:00:00Z"}`)
	if d := Diff(want, doc(t, `{"a":{"b":1,"c":[1,2]},"d":[{"e":"x"}],"t":"2026-01-01T00:00:00Z"}`), nil); len(d) != 0 {
		t.Fatalf("equal docs differ: %v", d)
	}
	got := doc(t, `{"a":{"b":2,"c":[2,1]},"d":[{"e":"y"}],"f":true,"t":"2027-05-05T01:02:03Z"}`)
	dyn := map[string]*regexp.Regexp{"t": regexp.MustCompile(`^\d{4}-.*Z$`)}
	d := strings.Join(Diff(want, got, dyn), "\n")
	for _, w := range []string{"~ a.b: want 1, got 2", "~ a.c: want [1,2], got [2,1]", "~ d.0.e:", "+ f: true"} {
		if !strings.Contains(d, w) {
			t.Errorf("diff lacks %q:\n%s", w, d)
		}
	}
	if strings.Contains(d, "t:") {
		t.Errorf("dynamic field t reported:\n%s", d)
	}
	// A dotted key is a different document from the nested object.
	if d := Diff(doc(t, `{"event":{"action":"x"}}`), doc(t, `{"event.action":"x"}`), nil); len(d) != 2 {
		t.Errorf("dotted key not told apart: %v", d)
	}
}

func TestLeafNames(t *testing.T) {
	got := strings.Join(LeafNames(doc(t, `{"a":{"b":1},"l":[{"x":1},{"y":2}],"s":["p","q"],"e.f":3}`)), ",")
	if got != "a.b,e.f,l.x,l.y,s" {
		t.Fatalf("LeafNames = %s", got)
	}
}
