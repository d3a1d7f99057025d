package amqp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchConn(b *testing.B, opts map[string]any) (protocol.TCPParser, *int) {
	spec, _ := protocol.Lookup("amqp")
	common, o, _ := protocol.SplitCommon(spec, opts)
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "amqp"}
	events := new(int)
	inst, err := spec.New(common, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:5672"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn), events
}

// BenchmarkSession replays both directions of the captured RabbitMQ session
// (36 events: declares, publishes with a full header table, gets, consume,
// acks, tx, confirms, errors) through one parser per iteration, encoding
// every event.
func BenchmarkSession(b *testing.B) {
	segs := segments(b, "session.pcap")
	size := 0
	for _, s := range segs {
		size += len(s.payload)
	}
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		p, events := benchConn(b, nil)
		// Segments in capture order; each holds whole frames (loopback,
		// small messages), so nothing is left pending.
		for _, s := range segs {
			p.Parse(s.dir, s.payload, ts)
		}
		p.Close(ts)
		total += *events
	}
	b.ReportMetric(float64(total)/float64(b.N), "events/op")
	if total != 36*b.N {
		b.Fatalf("%d events in %d replays, want 36 each", total, b.N)
	}
}

// BenchmarkPublish measures one basic.publish (method, header with
// content-type, 1 KiB body in one frame) and its event.
func BenchmarkPublish(b *testing.B) {
	msg := publish(1, string(make([]byte, 1024)))
	p, events := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if n := p.Parse(protocol.FromClient, msg, ts); n != len(msg) {
			b.Fatalf("consumed %d", n)
		}
	}
	if *events != b.N {
		b.Fatalf("%d events for %d messages", *events, b.N)
	}
}

// BenchmarkBodySegment is the per-packet cost inside a large message body
// that is not kept: it must not allocate.
func BenchmarkBodySegment(b *testing.B) {
	p, _ := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	start := method(1, 60, 40, u16(0), sstr(""), sstr("rk"), []byte{0})
	start = append(start, header(1, 1<<40)...)
	start = append(start, []byte{frameBody, 0, 1, 0x7f, 0xff, 0xff, 0xff}...)
	p.Parse(protocol.FromClient, start, ts)
	seg := make([]byte, 1448)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, seg, ts)
	}
}
