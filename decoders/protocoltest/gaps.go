package protocoltest

import (
	"fmt"
	"sort"
)

// GapDiff compares the transactions of a capture with those of the same
// capture with segments removed (see _dev/capture/resync/gap.sh), each
// summarised as a string by the caller: it returns the summaries only the
// full capture has (transactions the gaps took or changed) and those only
// the gapped one has (what the changed ones became), both sorted. Every
// other transaction must come out of the gapped capture unchanged, which
// is what a gap test asserts by comparing both lists with the few
// transactions that straddle the gaps.
func GapDiff(full, gapped []string) (lost, changed []string) {
	count := map[string]int{}
	for _, s := range full {
		count[s]++
	}
	for _, s := range gapped {
		count[s]--
	}
	for s, n := range count {
		for ; n > 0; n-- {
			lost = append(lost, s)
		}
		for ; n < 0; n++ {
			changed = append(changed, s)
		}
	}
	sort.Strings(lost)
	sort.Strings(changed)
	return lost, changed
}

// Summaries is the one line per transaction a gap test hands GapDiff:
// format (fmt verbs) filled with the value at each dotted path of fields
// in each document, in order (Get: a path the document lacks is nil).
func Summaries(docs []map[string]any, format string, fields ...string) []string {
	return SummariesBy(docs, Get, format, fields...)
}

// SummariesBy is Summaries with the caller's lookup of a field, for
// protocols whose tests print values their own way.
func SummariesBy[V any](docs []map[string]any, get func(map[string]any, string) V, format string, fields ...string) []string {
	out := make([]string, 0, len(docs))
	args := make([]any, len(fields))
	for _, d := range docs {
		for i, f := range fields {
			args[i] = get(d, f)
		}
		out = append(out, fmt.Sprintf(format, args...))
	}
	return out
}
