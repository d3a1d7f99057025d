package processors

import "testing"

func TestReadFieldOptsDefaults(t *testing.T) {
	o, err := readFieldOpts(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if o != (fieldOpts{ignoreMissing: false, failOnError: true, ignoreFailure: false}) {
		t.Fatalf("defaults: %+v", o)
	}
	o, err = readFieldOpts(map[string]any{"ignore_missing": "true", "fail_on_error": false, "ignore_failure": true})
	if err != nil {
		t.Fatal(err)
	}
	if o != (fieldOpts{ignoreMissing: true, failOnError: false, ignoreFailure: true}) {
		t.Fatalf("set: %+v", o)
	}
	if _, err := readFieldOpts(map[string]any{"fail_on_error": "maybe"}); err == nil || err.Error() != `fail_on_error: "maybe" is not true or false` {
		t.Fatalf("bad value: %v", err)
	}
}

func TestFieldOptsStr(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"s": "x", "n": 1}}
	for _, c := range []struct {
		ignore bool
		path   string
		want   string
		ok     bool
		err    string
	}{
		{false, "a.s", "x", true, ""},
		{false, "a.n", "", false, `field "a.n" is not a string`},
		{true, "a.n", "", false, `field "a.n" is not a string`},
		{false, "a.x", "", false, `field "a.x" not found`},
		{true, "a.x", "", false, ""},
	} {
		s, ok, err := fieldOpts{ignoreMissing: c.ignore}.str(doc, c.path)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if s != c.want || ok != c.ok || got != c.err {
			t.Errorf("str(%q, ignore=%v) = %q, %v, %q; want %q, %v, %q", c.path, c.ignore, s, ok, got, c.want, c.ok, c.err)
		}
	}
}

func TestCheckTarget(t *testing.T) {
	doc := map[string]any{"a": "1", "b": "2"}
	if err := checkTarget(doc, "a", "b", false); err == nil || err.Error() != `target field "b" already exists` {
		t.Fatalf("taken: %v", err)
	}
	if err := checkTarget(doc, "a", "b", true); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if err := checkTarget(doc, "a", "a", false); err != nil {
		t.Fatalf("in place: %v", err)
	}
	if err := checkTarget(doc, "a", "c", false); err != nil {
		t.Fatalf("free: %v", err)
	}
}

func TestTagListAppendNew(t *testing.T) {
	for _, c := range []struct {
		in    any
		ok    bool
		want  string
		added bool
	}{
		{nil, true, `["a","b"]`, true},
		{"a", true, `["a","b"]`, true},
		{[]any{"b", "a"}, true, `["b","a"]`, false},
		{map[string]any{}, false, `["a","b"]`, true},
	} {
		list, ok := tagList(c.in)
		out, added := appendNew(list, "a", "b", "a")
		got, _ := appendJSON(nil, out)
		if ok != c.ok || string(got) != c.want || added != c.added {
			t.Errorf("%v: ok %v, %s, added %v; want %v, %s, %v", c.in, ok, got, added, c.ok, c.want, c.added)
		}
	}
}

func TestPutUnlessSetMergeRoot(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b": "old"}}
	if err := putUnlessSet(doc, "a.b", "new", false); err != nil || field(doc, "a.b") != "old" {
		t.Fatalf("kept: %v %v", err, doc)
	}
	if err := putUnlessSet(doc, "a.b", "new", true); err != nil || field(doc, "a.b") != "new" {
		t.Fatalf("overwritten: %v %v", err, doc)
	}
	if err := putUnlessSet(doc, "a.b.c", "x", true); err == nil {
		t.Fatalf("through a string: %v", doc)
	}
	doc = map[string]any{"x": 1}
	mergeRoot(doc, map[string]any{"x": 2, "y": 3}, false)
	if doc["x"] != 1 || doc["y"] != 3 {
		t.Fatalf("merge: %v", doc)
	}
	mergeRoot(doc, map[string]any{"x": 2}, true)
	if doc["x"] != 2 {
		t.Fatalf("merge overwrite: %v", doc)
	}
}

// eachString with fail_on_error reverts the event on the first failure;
// without it the other fields are still done and nothing is reported.
func TestEachString(t *testing.T) {
	items := []fromTo{{from: "a"}, {from: "n"}, {from: "b"}}
	upper := func(doc map[string]any) func(p fromTo, s string) error {
		return func(p fromTo, s string) error { return putPath(doc, p.from, s+"!") }
	}
	for _, c := range []struct {
		o    fieldOpts
		doc  map[string]any
		want string
		err  string
	}{
		{fieldOpts{failOnError: true}, map[string]any{"a": "x", "n": 1, "b": "y"}, `{"a":"x","b":"y","n":1}`, `field "n" is not a string`},
		{fieldOpts{}, map[string]any{"a": "x", "n": 1, "b": "y"}, `{"a":"x!","b":"y!","n":1}`, ""},
		{fieldOpts{failOnError: true}, map[string]any{"a": "x", "b": "y"}, `{"a":"x","b":"y"}`, `field "n" not found`},
		{fieldOpts{failOnError: true, ignoreMissing: true}, map[string]any{"a": "x", "b": "y"}, `{"a":"x!","b":"y!"}`, ""},
	} {
		err := eachString(c.o, c.doc, items, upper(c.doc))
		got, _ := appendJSON(nil, c.doc)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if string(got) != c.want || msg != c.err {
			t.Errorf("%+v: %s, %q; want %s, %q", c.o, got, msg, c.want, c.err)
		}
	}
}
