package sip

import (
	"fmt"
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, path string) ([]string, *Protocol) {
	inst, col := protocoltest.New(t, "sip", map[string]any{"transport_protocol": "tcp"})
	protocoltest.Replay(t, path, inst)
	return protocoltest.Summaries(col.Docs, "%v %v %v %v", "sip.method", "sip.code", "sip.cseq.method", "sip.call_id"),
		inst.TCP.(*Protocol)
}

// TestGapsResync: tcp.pcap (real SIPp calls over TCP) and tcp-gaps.pcap,
// the same without one message in each direction
// (_dev/capture/resync/sip.sh): the two messages are missing, every other
// one is decoded as without the gaps.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, tcpPcap)
	gapped, _ := gapSummaries(t, "../../_dev/pcaps/sip/tcp-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	if len(lost) != 2 || len(changed) != 0 || len(gapped) != len(full)-2 {
		t.Fatalf("lost %q\nchanged %q", lost, changed)
	}
	var kinds []string
	for _, s := range lost {
		var method, code, cseq string
		fmt.Sscan(s, &method, &code, &cseq)
		kinds = append(kinds, method+" "+code+" "+cseq)
	}
	slices.Sort(kinds)
	if want := []string{"<nil> 200 INVITE", "BYE <nil> BYE"}; !slices.Equal(kinds, want) {
		t.Errorf("lost %q, want %q", kinds, want)
	}
}
