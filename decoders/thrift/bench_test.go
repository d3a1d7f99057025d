package thrift

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchConn(b *testing.B, opts map[string]any, events *int) protocol.TCPParser {
	spec, _ := protocol.Lookup("thrift")
	common, o, _ := protocol.SplitCommon(spec, opts)
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "thrift"}
	inst, err := spec.New(common, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:9090"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn)
}

// BenchmarkCallReply: add(1, 2) and its reply per iteration, each in its
// own segment, events encoded as the engine would.
func BenchmarkCallReply(b *testing.B) {
	req, resp := callMsg("add", 0, 1, 2), result("add", 0, 3)
	events := 0
	p := benchConn(b, nil, &events)
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

// BenchmarkStructFramed: a framed call with a struct, list and map
// argument.
func BenchmarkStructFramed(b *testing.B) {
	m := enc(nil).i32(strictHeader(mCall)).str("roundtrip").i32(0).
		field(tStruct, 1).field(tI32, 1).i32(7).field(tString, 2).str("sample name").
		field(tList, 3).i8(tI64).i32(20)
	for i := range 20 {
		m = m.i64(int64(i))
	}
	m = m.field(tMap, 4).i8(tString).i8(tI32).i32(2).str("a").i32(1).str("b").i32(2).stop().stop()
	req := append(enc(nil).i32(int32(len(m))), m...)
	r := enc(nil).i32(strictHeader(mReply)).str("roundtrip").i32(0).field(tI32, 0).i32(1).stop()
	resp := append(enc(nil).i32(int32(len(r))), r...)
	events := 0
	p := benchConn(b, map[string]any{"transport_type": "framed"}, &events)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp, ts)
	}
	if events != b.N {
		b.Fatalf("%d events", events)
	}
}

// BenchmarkIncompleteSegment: the per-segment cost while a large message
// arrives (the scan of an incomplete message): no allocation.
func BenchmarkIncompleteSegment(b *testing.B) {
	events := 0
	p := benchConn(b, nil, &events)
	big := enc(nil).i32(strictHeader(mCall)).str("echo").i32(0).field(tString, 1).i32(1 << 20)
	buf := append(big, make([]byte, 64<<10)...)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if p.Parse(protocol.FromClient, buf, ts) != 0 {
			b.Fatal("consumed an incomplete message")
		}
	}
}
