package protocoltest

import (
	"slices"
	"strings"
	"testing"
)

// Summaries fills the format from each document in order, a missing path
// printing as <nil>; GapDiff keeps only what the two lists do not share.
func TestSummariesAndGapDiff(t *testing.T) {
	docs := []map[string]any{
		{"query": "GET /a", "http": map[string]any{"response": map[string]any{"status_code": 200.0}}},
		{"query": "GET /b"},
		{"query": "GET /a", "http": map[string]any{"response": map[string]any{"status_code": 200.0}}},
	}
	full := Summaries(docs, "%v -> %v", "query", "http.response.status_code")
	if want := []string{"GET /a -> 200", "GET /b -> <nil>", "GET /a -> 200"}; !slices.Equal(full, want) {
		t.Fatalf("summaries %q, want %q", full, want)
	}
	upper := SummariesBy(docs, func(d map[string]any, p string) string { return strings.ToUpper(Get(d, p).(string)) }, "%s", "query")
	if want := []string{"GET /A", "GET /B", "GET /A"}; !slices.Equal(upper, want) {
		t.Fatalf("summaries by %q, want %q", upper, want)
	}
	// One of the two GET /a lost, GET /b changed.
	lost, changed := GapDiff(full, []string{"GET /a -> 200", "GET /b -> 404"})
	if !slices.Equal(lost, []string{"GET /a -> 200", "GET /b -> <nil>"}) || !slices.Equal(changed, []string{"GET /b -> 404"}) {
		t.Errorf("lost %q changed %q", lost, changed)
	}
}
