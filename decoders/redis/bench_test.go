package redis

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchConn(b *testing.B, events *int) protocol.TCPParser {
	spec, _ := protocol.Lookup("redis")
	common, opts, _ := protocol.SplitCommon(spec, map[string]any{})
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "redis"}
	inst, err := spec.New(common, opts, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:6379"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn)
}

// BenchmarkSetGet: one SET and one GET with their replies per iteration,
// each message in its own segment, events encoded as the engine would.
func BenchmarkSetGet(b *testing.B) {
	set := []byte(cmd("SET", "key:000000012345", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
	ok := []byte("+OK\r\n")
	getc := []byte(cmd("GET", "key:000000012345"))
	val := []byte("$48\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n")
	events := 0
	p := benchConn(b, &events)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(set) + len(ok) + len(getc) + len(val)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, set, ts)
		p.Parse(protocol.FromServer, ok, ts)
		p.Parse(protocol.FromClient, getc, ts)
		p.Parse(protocol.FromServer, val, ts)
	}
	if events != 2*b.N {
		b.Fatalf("%d events for %d iterations", events, b.N)
	}
}

// BenchmarkPipelined: 16 pipelined GETs in one segment, 16 replies in one.
func BenchmarkPipelined(b *testing.B) {
	reqs := []byte(strings.Repeat(cmd("GET", "key:__rand_int__"), 16))
	resps := []byte(strings.Repeat("$3\r\nVXK\r\n", 16))
	events := 0
	p := benchConn(b, &events)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(reqs) + len(resps)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, reqs, ts)
		p.Parse(protocol.FromServer, resps, ts)
	}
	if events != 16*b.N {
		b.Fatalf("%d events", events)
	}
}

// BenchmarkBulkSegment: the per-segment cost inside a large value: no
// allocation.
func BenchmarkBulkSegment(b *testing.B) {
	events := 0
	p := benchConn(b, &events)
	ts := time.Unix(1700000000, 0)
	p.Parse(protocol.FromClient, []byte(cmd("GET", "big")), ts)
	p.Parse(protocol.FromServer, []byte("$1000000000000\r\n"), ts)
	seg := []byte(strings.Repeat("y", 1448))
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromServer, seg, ts)
	}
}
