package mongodb

import (
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// BenchmarkFindReply: an OP_MSG find and its reply per iteration, events
// encoded as the engine would.
func BenchmarkFindReply(b *testing.B) {
	req := msgFrame(1, 0, 0, doc("find", "items", "$db", "shop", "comment", "bench"))
	resp := msgFrame(2, 1, 0, doc("ok", "1", "note", "a reply document of moderate size for the benchmark"))
	events := 0
	p := fuzzConn(b, &events)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp, ts)
	}
	if events != b.N {
		b.Fatalf("%d events for %d iterations", events, b.N)
	}
}

// BenchmarkPartial: a segment that does not complete a message costs no
// allocation.
func BenchmarkPartial(b *testing.B) {
	events := 0
	p := fuzzConn(b, &events)
	req := msgFrame(1, 0, 0, doc("find", "items", "$db", "shop"))
	ts := time.Unix(1700000000, 0)
	b.ReportAllocs()
	for b.Loop() {
		if p.Parse(protocol.FromClient, req[:len(req)-1], ts) != 0 {
			b.Fatal("consumed a partial message")
		}
	}
}
