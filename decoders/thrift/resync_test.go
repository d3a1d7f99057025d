package thrift

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string, opts map[string]any) ([]string, *Protocol) {
	docs, p := replay(t, name, opts)
	return protocoltest.Summaries(docs, "%v -> %v ret=%v exc=%v err=%v", "method", "status",
		"thrift.return_value", "thrift.exceptions", "error.message"), p
}

// TestGapsResync: socket.pcap and framed.pcap (real Python thrift server
// and client) and their -gaps copies without one call and one reply
// segment (_dev/capture/resync/thrift.sh). Replies are paired by sequence
// id: every other call keeps its own reply; the call whose reply was lost
// is published alone, and the reply whose call was lost pairs with
// nothing.
func TestGapsResync(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]any
	}{{"socket", nil}, {"framed", map[string]any{"transport_type": "framed"}}} {
		t.Run(tc.name, func(t *testing.T) {
			full, _ := gapSummaries(t, tc.name+".pcap", tc.opts)
			gapped, p := gapSummaries(t, tc.name+"-gaps.pcap", tc.opts)
			lost, changed := protocoltest.GapDiff(full, gapped)
			// calculate lost its call (its reply pairs with nothing), echo
			// its reply (published alone).
			if len(lost) != 2 || len(changed) != 1 || changed[0] != "echo -> Error ret=<nil> exc=<nil> err=Unmatched request" ||
				lost[0] != "calculate -> OK ret=42 exc=<nil> err=<nil>" {
				t.Fatalf("lost %q\nchanged %q", lost, changed)
			}
			if p.stats.UnmatchedResponses.Load() != 1 {
				t.Errorf("replies without a call: %d", p.stats.UnmatchedResponses.Load())
			}
		})
	}
}
