package mongodb

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, p := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v %v %v -> %v docs=%v err=%v", "source.port", "method", "resource",
		"status", "mongodb.numberReturned", "error.message"), p
}

// TestGapsResync: opmsg.pcap (real mongod and driver) and opmsg-gaps.pcap,
// the same without one request segment and one reply segment
// (_dev/capture/resync/mongodb.sh). Replies name their request, so every
// other request keeps its reply; the request whose reply was lost is
// published alone, the reply whose request was lost is dropped.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "opmsg.pcap")
	gapped, p := gapSummaries(t, "opmsg-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	// insert: its request was lost, its reply dropped. getMore: its reply
	// was lost, published alone. update: sent with the ACK that revealed
	// that loss, so still waiting then: it keeps its own reply, with the
	// loss noted.
	wantLost := []string{"44682 getMore shop.items -> OK docs=1 err=<nil>",
		"44682 insert shop.items -> OK docs=<nil> err=<nil>", "44682 update shop.items -> OK docs=<nil> err=<nil>"}
	wantChanged := []string{"44682 getMore shop.items -> Error docs=<nil> err=[Packet loss while capturing the response Unmatched request]",
		"44682 update shop.items -> OK docs=<nil> err=Packet loss while capturing the response"}
	if !slices.Equal(lost, wantLost) || !slices.Equal(changed, wantChanged) {
		t.Errorf("lost %q\nchanged %q", lost, changed)
	}
	if p.stats.UnmatchedResponses.Load() != 1 {
		t.Errorf("replies without a request %d, want 1", p.stats.UnmatchedResponses.Load())
	}
}
