package quic

import (
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// BenchmarkConnection decodes one real connection's long-header packets
// (quic-go, v1: a ClientHello over two Initials, the server's Initial and
// Handshake packets) and encodes its event, per iteration: events/s is
// 1e9/(ns/op), allocations per event are allocs/op.
func BenchmarkConnection(b *testing.B) {
	for _, name := range []string{"gov1.pcap", "aioquic.pcap"} {
		ds := datagrams(b, name)
		b.Run(name, func(b *testing.B) {
			var w ecsmap.Writer
			meta := ecsmap.Meta{Dataset: "quic"}
			p, _ := newProto(b, map[string]any{"ports": []any{443, 8443}})
			events := 0
			p.pub = protocol.PublisherFunc(func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta); events++ })
			var n int64
			for _, d := range ds {
				n += int64(len(d.payload))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				feed(p, ds)
				p.Flush()
			}
			b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
		})
	}
}

// BenchmarkShortHeader is the steady state: 1-RTT datagrams of a known
// connection are only counted.
func BenchmarkShortHeader(b *testing.B) {
	ds := datagrams(b, "gov1.pcap")
	p, _ := newProto(b, nil)
	p.pub = protocol.PublisherFunc(func(ecsmap.Event) {})
	feed(p, ds)
	pkt := make([]byte, 1200)
	pkt[0] = 0x40
	c := ds[0].conn
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		p.Datagram(&c, protocol.FromServer, pkt, ds[0].ts)
	}
}
