package memcache

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchConn(b *testing.B, opts map[string]any) (protocol.TCPParser, protocol.UDPProtocol, *int) {
	spec, _ := protocol.Lookup("memcache")
	common, o, _ := protocol.SplitCommon(spec, opts)
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "memcache"}
	events := new(int)
	inst, err := spec.New(common, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:11211"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn), inst.UDP, events
}

// BenchmarkTextGetSet parses a memcslap-like set + get pair on one
// connection and encodes both events: allocations are per transaction
// (message, key strings, event).
func BenchmarkTextGetSet(b *testing.B) {
	val := make([]byte, 1024)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	setReq := []byte("set user:1234567 0 0 1024\r\n" + string(val) + "\r\n")
	setResp := []byte("STORED\r\n")
	getReq := []byte("get user:1234567\r\n")
	getResp := []byte("VALUE user:1234567 0 1024\r\n" + string(val) + "\r\nEND\r\n")
	c, _, events := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(setReq) + len(setResp) + len(getReq) + len(getResp)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromClient, setReq, ts)
		c.Parse(protocol.FromServer, setResp, ts)
		c.Parse(protocol.FromClient, getReq, ts)
		c.Parse(protocol.FromServer, getResp, ts)
	}
	if *events != 2*b.N {
		b.Fatalf("%d events for %d rounds", *events, b.N)
	}
}

// BenchmarkBinaryGet is the binary protocol's Get round trip.
func BenchmarkBinaryGet(b *testing.B) {
	req := []byte(binMsg(0x80, 0x00, "user:1234567", "", "", 7, 0))
	resp := []byte(binMsg(0x81, 0x00, "", "\x00\x00\x00\x00", string(make([]byte, 512)), 7, 0))
	c, _, events := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromClient, req, ts)
		c.Parse(protocol.FromServer, resp, ts)
	}
	if *events != b.N {
		b.Fatalf("%d events for %d rounds", *events, b.N)
	}
}

// BenchmarkValueSegment is the per-packet cost inside a large value that is
// not kept (maxvalues 0): it must not allocate.
func BenchmarkValueSegment(b *testing.B) {
	c, _, _ := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	c.Parse(protocol.FromClient, []byte("get big\r\n"), ts)
	c.Parse(protocol.FromServer, []byte("VALUE big 0 4000000000\r\n"), ts)
	seg := make([]byte, 1448)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromServer, seg, ts)
	}
}

// BenchmarkUDPGet is a text get over UDP with its frame header.
func BenchmarkUDPGet(b *testing.B) {
	_, u, events := benchConn(b, nil)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("10.0.0.2:11211"), IPProtocol: 17}
	req := udpDatagram(1, 0, 1, "get user:1234567\r\n")
	resp := udpDatagram(1, 0, 1, "VALUE user:1234567 0 5\r\nhello\r\nEND\r\n")
	ts := time.Unix(1700000000, 0)
	b.ReportAllocs()
	for b.Loop() {
		u.Datagram(&conn, protocol.FromClient, req, ts)
		u.Datagram(&conn, protocol.FromServer, resp, ts)
	}
	if *events != b.N {
		b.Fatalf("%d events for %d rounds", *events, b.N)
	}
}
