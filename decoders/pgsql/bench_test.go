package pgsql

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchConn(b *testing.B, opts map[string]any) (protocol.TCPParser, *int) {
	spec, _ := protocol.Lookup("pgsql")
	common, rest, _ := protocol.SplitCommon(spec, opts)
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "pgsql"}
	events := new(int)
	inst, err := spec.New(common, rest, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:5432"), IPProtocol: 6}
	p := inst.TCP.NewConn(&conn)
	p.(*connection).dirs[0].mode = modeMessage
	return p, events
}

// BenchmarkSimpleQuery: one Query, a 3-column result of 5 rows, encoded.
func BenchmarkSimpleQuery(b *testing.B) {
	req := query("SELECT id, name, colour FROM fruit WHERE id < 6 ORDER BY id")
	resp := cat(rowDesc("id", "name", "colour"), dataRowMsg("1", "apple", "red"), dataRowMsg("2", "banana", "yellow"),
		dataRowMsg("3", "cherry", "red"), dataRowMsg("4", "kiwi", "green"), dataRowMsg("5", "lemon", "yellow"),
		complete("SELECT 5"), ready)
	p, events := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp, ts)
	}
	if *events != b.N {
		b.Fatalf("%d events for %d queries", *events, b.N)
	}
}

// BenchmarkExtended: pgbench -M extended's SELECT (Parse/Bind/Describe/
// Execute/Sync and its answer), encoded.
func BenchmarkExtended(b *testing.B) {
	req := cat(msg('P', "\x00SELECT abalance FROM pgbench_accounts WHERE aid = $1;\x00", i16(0)),
		msg('B', "\x00\x00", i16(0), i16(1), i32(5), "12345", i16(1), i16(0)),
		msg('D', "P\x00"), msg('E', "\x00", i32(0)), msg('S'))
	resp := cat(msg('1'), msg('2'), rowDesc("abalance"), dataRowMsg("-1793"), complete("SELECT 1"), ready)
	p, events := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp, ts)
	}
	if *events != b.N {
		b.Fatalf("%d events for %d statements", *events, b.N)
	}
}

// BenchmarkDataRows: the per-segment cost inside a large result (rows not
// kept): must not allocate.
func BenchmarkDataRows(b *testing.B) {
	p, _ := benchConn(b, nil)
	ts := time.Unix(1700000000, 0)
	p.Parse(protocol.FromClient, query("select * from big"), ts)
	p.Parse(protocol.FromServer, rowDesc("a", "b", "c"), ts)
	var seg []byte
	for len(seg) < 1400 {
		seg = append(seg, dataRowMsg("12345", "some text value", "2024-11-26 01:29:30")...)
	}
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromServer, seg, ts)
	}
}
