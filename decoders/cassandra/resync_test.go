package cassandra

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, p := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v %v %v -> %v %v", "source.port", "cassandra.request.headers.op",
		"cassandra.request.query", "cassandra.response.headers.op", "cassandra.response.result.type"), p
}

// TestGapsResync: v4.pcap (real Cassandra, Python driver) and
// v4-gaps.pcap, the same without one request segment and one response
// segment of a connection (_dev/capture/resync/cassandra.sh). Responses
// carry their request's stream id: every other request keeps its
// response; Packetbeat publishes cassandra transactions only with their
// response, so both straddling ones are dropped and counted.
func TestGapsResync(t *testing.T) {
	full, fp := gapSummaries(t, "v4.pcap")
	gapped, p := gapSummaries(t, "v4-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	if len(lost) != 2 || len(changed) != 0 {
		t.Fatalf("lost %q\nchanged %q", lost, changed)
	}
	// One more of each than without the gaps.
	if p.stats.Unmatched.Load() != fp.stats.Unmatched.Load()+1 ||
		p.stats.UnmatchedResponses.Load() != fp.stats.UnmatchedResponses.Load()+1 {
		t.Errorf("requests without response %d (%d without the gaps), responses without request %d (%d)",
			p.stats.Unmatched.Load(), fp.stats.Unmatched.Load(), p.stats.UnmatchedResponses.Load(), fp.stats.UnmatchedResponses.Load())
	}
}
