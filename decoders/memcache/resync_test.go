package memcache

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummary(docs []map[string]any) []string {
	g := func(d map[string]any, p string) string { return str(protocoltest.GetKeyOrPath(d, p)) }
	return protocoltest.SummariesBy(docs, g, "%s %s -> %s %s value=%s req=%s resp=%s err=%s", "memcache.request.command",
		"memcache.request.keys", "memcache.response.command", "status",
		"memcache.response.bytes", "source.bytes", "destination.bytes", "error.message")
}

// TestGapsResync: text.pcap (real memcached) and text-gaps.pcap, the same
// without the segment of "add key 0 0 3" (a whole command lost) and
// without the response to "replace nokey" (_dev/capture/resync/memcache.sh).
// Everything else decodes as without the gaps; the NOT_STORED answering
// the lost add is not given to the next command (add fresh keeps its own
// STORED), and replace nokey is published alone.
func TestGapsResync(t *testing.T) {
	fd, _ := replay(t, "text.pcap", nil)
	gd, p := replay(t, "text-gaps.pcap", nil)
	full, gapped := gapSummary(fd), gapSummary(gd)
	lost, changed := protocoltest.GapDiff(full, gapped)
	var wantLost, wantChanged []string
	for _, s := range full {
		if len(s) > 8 && (s[:8] == "add key " || s[:14] == "replace nokey ") {
			wantLost = append(wantLost, s)
		}
	}
	slices.Sort(wantLost)
	if len(wantLost) != 2 || !slices.Equal(lost, wantLost) {
		t.Errorf("changed by the gaps:\n got %q\nwant %q", lost, wantLost)
	}
	for _, s := range changed {
		switch {
		case len(s) > 22 && s[:22] == "<nil> <nil> -> NOT_STO":
		case len(s) > 26 && s[:26] == "replace nokey -> <nil> Ser":
		default:
			wantChanged = append(wantChanged, s)
		}
	}
	if len(changed) != 2 || len(wantChanged) != 0 {
		t.Errorf("what they became: %q", changed)
	}
	if !slices.Contains(gapped, findPrefix(full, "add fresh ")) {
		t.Errorf("add fresh lost its response: %q", gapped)
	}
	if p.stats.UnmatchedRequests.Load() != 1 || p.stats.UnmatchedResponses.Load() != 1 {
		t.Errorf("unmatched requests %d responses %d", p.stats.UnmatchedRequests.Load(), p.stats.UnmatchedResponses.Load())
	}
}

func findPrefix(list []string, p string) string {
	for _, s := range list {
		if len(s) >= len(p) && s[:len(p)] == p {
			return s
		}
	}
	return "none: " + p
}
