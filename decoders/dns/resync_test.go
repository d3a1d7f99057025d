package dns

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, p := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v %v -> %v %v err=%v", "dns.id", "query", "dns.response_code",
		"dns.answers_count", "error.message"), p
}

// TestGapsResync: tcp.pcap (real DNS server and client over TCP) and
// tcp-gaps.pcap, the same without the first response and the second query
// of its three-query connection (_dev/capture/resync/dns.sh). The server
// direction used to be abandoned at its gap, losing every later answer;
// now the next response is found, and responses pair by id: the query
// whose response was lost is published alone, the response whose query
// was lost alone, the third query keeps its own answer.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "tcp.pcap")
	gapped, p := gapSummaries(t, "tcp-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	wantLost := []string{
		"34713 class IN, type AAAA, www.example.test -> NOERROR 1 err=<nil>",
		"36459 class IN, type MX, example.test -> NOERROR 1 err=<nil>",
	}
	wantChanged := []string{
		"34713 class IN, type AAAA, www.example.test -> NOERROR 1 err=Response: received without an associated Query",
		"36459 class IN, type MX, example.test -> NOERROR 0 err=No response to this query was received",
	}
	if !slices.Equal(lost, wantLost) || !slices.Equal(changed, wantChanged) {
		t.Errorf("lost %q\nwant %q\nchanged %q\nwant %q", lost, wantLost, changed, wantChanged)
	}
	if n := p.stats.Resync.Resynced.Load(); n != 2 {
		t.Errorf("resynced %d, want 2", n)
	}
}
