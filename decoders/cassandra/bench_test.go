package cassandra

import (
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// BenchmarkCapture replays every payload of v4.pcap (26 transactions, one
// frame per segment) on one connection per iteration, events encoded as
// the engine would.
func BenchmarkCapture(b *testing.B) {
	segs := payloads(b, "v4.pcap")
	var bytes int64
	for _, s := range segs {
		bytes += int64(len(s[0]) + len(s[1]))
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "cassandra"}
	events := 0
	opts := map[string]any{"send_request": true, "send_response": true}
	pub := func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta); events++ }
	ts := time.Unix(1700000000, 0)
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		c := newConn(b, opts, pub)
		for _, s := range segs {
			if s[0] != nil {
				c.Parse(protocol.FromClient, s[0], ts)
			} else {
				c.Parse(protocol.FromServer, s[1], ts)
			}
		}
		c.Close(ts)
	}
	if events < 26*b.N {
		b.Fatalf("%d events for %d iterations", events, b.N)
	}
}

// BenchmarkQueryRows: one QUERY and its ROWS result per iteration.
func BenchmarkQueryRows(b *testing.B) {
	var req, resp []byte
	for _, s := range payloads(b, "v4.pcap") {
		if s[0] != nil && len(s[0]) == 47 { // SELECT * FROM users (38-byte body)
			req = s[0]
		}
		if s[1] != nil && len(s[1]) == 146 && req != nil && resp == nil {
			resp = s[1]
		}
	}
	if req == nil || resp == nil {
		b.Fatal("frames not found")
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "cassandra"}
	events := 0
	c := newConn(b, map[string]any{"send_request": true, "send_response": true}, func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta); events++ })
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromClient, req, ts)
		c.Parse(protocol.FromServer, resp, ts)
	}
	if events != b.N {
		b.Fatalf("%d events for %d iterations", events, b.N)
	}
}
