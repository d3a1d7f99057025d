package amqp

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) []string {
	return protocoltest.Summaries(replay(t, name, nil), "%v %v -> %v err=%v", "method", "amqp.queue", "status", "error.message")
}

// TestGapsResync: session.pcap (real RabbitMQ, pika) and session-gaps.pcap,
// the same without the Queue.Declare segment and without the first
// Basic.Get-Ok (_dev/capture/resync/amqp.sh). Every other method keeps its
// reply; the Queue.Declare-Ok whose request was lost pairs with nothing,
// and the Basic.Get whose reply was lost is dropped (the following
// Basic.Get gets its own Get-Ok, not a shifted one).
func TestGapsResync(t *testing.T) {
	full := gapSummaries(t, "session.pcap")
	gapped := gapSummaries(t, "session-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	// Packetbeat publishes AMQP methods that wait for a reply only with
	// it: both straddling ones are dropped and counted.
	want := []string{"basic.get orders -> OK err=<nil>", "queue.declare orders -> OK err=<nil>"}
	if !slices.Equal(lost, want) || len(changed) != 0 {
		t.Errorf("lost %q, want %q\nchanged %q", lost, want, changed)
	}
}
