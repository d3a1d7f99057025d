package protocoltest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Get walks a decoded event along a dotted path ("http.request.method")
// through nested objects; it returns nil where the path leaves the document.
func Get(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// GetKeyOrPath is Get for events that also carry dotted keys at the root
// (user.id, ...): a root key spelled exactly like path wins over the walk.
func GetKeyOrPath(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	return Get(doc, path)
}

// ExpectFields checks each dotted path of want against doc, comparing as
// text (fmt.Sprint) after turning whole JSON numbers back into integers, so
// literal expectations can be written as 42 or "42". label names the event
// in failure messages (usually its query); keys are checked in sorted order
// so failures read the same on every run.
func ExpectFields(t testing.TB, doc map[string]any, want map[string]any, label any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got := Get(doc, k)
		if f, ok := got.(float64); ok && f == float64(int64(f)) {
			got = int64(f) // JSON numbers decode as float64
		}
		if fmt.Sprint(got) != fmt.Sprint(want[k]) {
			t.Errorf("%v: %s = %v, want %v", label, k, got, want[k])
		}
	}
}
