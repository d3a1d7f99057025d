package redis

import (
	"slices"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, inst := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v %v -> %v err=%v", "source.port", "query", "redis.return_value", "error.message"),
		inst.TCP.(*Protocol)
}

// TestGapsResync: pubsub.pcap and pipeline.pcap (real redis-server) with
// segments removed by _dev/capture/resync/redis.sh. Commands away from the
// gaps pair as without them; the lost command's reply pairs with nothing
// (not with the next command), the commands whose replies were lost are
// published alone, and the command that came with the ACK revealing the
// loss still gets its own reply.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "pubsub.pcap")
	gapped, p := gapSummaries(t, "pubsub-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	wantLost := []string{
		"56670 PUBLISH sport goal -> 1 err=<nil>",
		"56670 PUBLISH sport goal -> 1 err=<nil>",
	}
	wantChanged := []string{"56670 PUBLISH sport goal -> <nil> err=Response lost (gap or unparsable data)"}
	if !slices.Equal(lost, wantLost) || !slices.Equal(changed, wantChanged) {
		t.Errorf("changed by the gaps:\n got %q\nwant %q\nbecame %q\nwant %q", lost, wantLost, changed, wantChanged)
	}
	// The reply to the lost PUBLISH came in the packet whose ACK revealed
	// the loss (parsed before it): an ordinary unmatched reply.
	if n := p.stats.UnmatchedResponses.Load(); n != 1 {
		t.Errorf("unmatched replies %d, want 1", n)
	}

	full, _ = gapSummaries(t, "pipeline.pcap")
	gapped, p = gapSummaries(t, "pipeline-gap.pcap")
	lost, changed = protocoltest.GapDiff(full, gapped)
	if len(lost) != 20 || len(changed) != 20 {
		t.Fatalf("lost %q\nchanged %q", lost, changed)
	}
	for i := range lost {
		if want := lost[i][:len(lost[i])-len("OK err=<nil>")] + "<nil> err=Response lost (gap or unparsable data)"; changed[i] != want {
			t.Errorf("%q became %q, want %q", lost[i], changed[i], want)
		}
	}
	// Everything else is unchanged (GapDiff): in particular the ECHO that
	// carried the ACK revealing the loss keeps its reply.
	echo := slices.IndexFunc(gapped, func(s string) bool { return strings.HasPrefix(s, "56646 ECHO ") })
	if echo < 0 || strings.HasSuffix(gapped[echo], "-> <nil> err=<nil>") || !slices.Contains(full, gapped[echo]) {
		t.Errorf("ECHO after the gap: %q", gapped)
	}
	if n := p.stats.Resync.UnpairedReqs.Load() + p.stats.UnmatchedRequests.Load(); n != 20 {
		t.Errorf("unpaired %d, want the 20 SETs", n)
	}
}
