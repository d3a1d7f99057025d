package nfs

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, p := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v %v %v -> %v", "source.port", "rpc.xid", "nfs.opcode", "rpc.status"), p
}

// TestGapsResync: v4.pcap (real Linux NFS server and client) and
// v4-gaps.pcap, the same without one call segment and one reply segment
// (_dev/capture/resync/nfs.sh). Pairing is by xid, so every other call
// keeps its reply; the call whose reply was lost is published alone, the
// reply whose call was lost is counted and dropped.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "v4.pcap")
	gapped, p := gapSummaries(t, "v4-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	if len(lost) != 2 || len(changed) != 1 {
		t.Fatalf("lost %q\nchanged %q", lost, changed)
	}
	// The call whose reply was lost (OPEN, reported by its last
	// operation) is published alone; the SETCLIENTID_CONFIRM whose call
	// was lost is gone, its reply counted.
	want := []string{"589 486a726f SETCLIENTID_CONFIRM -> success", "601 486c727d ACCESS -> success"}
	if !slices.Equal(lost, want) || changed[0] != "601 486c727d ACCESS -> <nil>" {
		t.Errorf("lost %q, changed %q", lost, changed)
	}
	if n := p.stats.UnmatchedReplies.Load(); n != 1 {
		t.Errorf("replies without a call: %d, want 1", n)
	}
}
