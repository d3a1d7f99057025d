package tls

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// BenchmarkHandshake decodes the full TLS 1.2 handshake of tls12.pcap
// (ClientHello, ServerHello, two certificates, key exchange) and encodes
// its event, per iteration: the cost of one connection.
func BenchmarkHandshake(b *testing.B) {
	for _, name := range []string{"tls12.pcap", "tls13.pcap"} {
		st := readStreams(b, name)[0]
		b.Run(name, func(b *testing.B) {
			var w ecsmap.Writer
			meta := ecsmap.Meta{Dataset: "tls"}
			p, _ := newProto(b, nil)
			p.pub = protocol.PublisherFunc(func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta) })
			var n int64
			for _, s := range st.segs {
				n += int64(len(s.data))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				c := p.NewConn(&st.conn)
				for _, s := range st.segs {
					c.Parse(s.dir, s.data, s.ts)
				}
				c.Close(st.segs[len(st.segs)-1].ts)
			}
		})
	}
}

// BenchmarkApplicationData is the steady state after the handshake: 16 KiB
// records counted, not parsed.
func BenchmarkApplicationData(b *testing.B) {
	st := readStreams(b, "tls12.pcap")[0]
	p, _ := newProto(b, nil)
	p.pub = protocol.PublisherFunc(func(ecsmap.Event) {})
	c := p.NewConn(&st.conn)
	for _, s := range st.segs[:4] {
		c.Parse(s.dir, s.data, s.ts)
	}
	rec := make([]byte, 5+16384)
	rec[0], rec[1], rec[2], rec[3], rec[4] = 23, 3, 3, 0x40, 0
	ts := st.segs[3].ts
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromServer, rec, ts)
	}
}
