package protocoltest

import "sort"

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
