package mysql

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func benchParser(b *testing.B) (protocol.TCPParser, *int) {
	spec, _ := protocol.Lookup("mysql")
	common, opts, _ := protocol.SplitCommon(spec, map[string]any{})
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "mysql"}
	events := new(int)
	inst, err := spec.New(common, opts, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:3306"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn), events
}

// BenchmarkSelect parses a SELECT and a 2-column, 10-row result set (EOF
// mode) on one connection and encodes the event, as the engine would.
func BenchmarkSelect(b *testing.B) {
	p, events := benchParser(b)
	req := query("SELECT name, price FROM items WHERE price > 2 ORDER BY name")
	var rows [][]string
	for i := 0; i < 10; i++ {
		rows = append(rows, []string{"item name number " + strings.Repeat("x", i), "12345"})
	}
	resp := resultSet(false, rows...)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp, ts)
	}
	if *events != b.N {
		b.Fatalf("%d events for %d exchanges", *events, b.N)
	}
}

// BenchmarkRowSegment measures the per-packet cost inside a long result
// set (1448-byte segments of 181-byte rows): it must not allocate.
func BenchmarkRowSegment(b *testing.B) {
	p, _ := benchParser(b)
	ts := time.Unix(1700000000, 0)
	p.Parse(protocol.FromClient, query("SELECT name, price FROM items"), ts)
	head := resultSet(false)
	p.Parse(protocol.FromServer, head[:len(head)-len(eof(4, 2))], ts) // up to the rows
	// 181-byte rows: 80 of them fill exactly ten 1448-byte segments, so
	// every iteration starts on a row boundary.
	var seg []byte
	for i := 0; i < 80; i++ {
		seg = append(seg, row(5, strings.Repeat("r", 170), "12345")...)
	}
	// Two fixed buffers stand in for the stream's tail handling.
	buf, pending := make([]byte, 0, 4096), make([]byte, 0, 4096)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < len(seg); i += 1448 {
			buf = append(append(buf[:0], pending...), seg[i:i+1448]...)
			n := p.Parse(protocol.FromServer, buf, ts)
			pending = append(pending[:0], buf[n:]...)
		}
	}
	c := p.(*connection)
	if len(c.queue) != 1 || c.queue[0].ev.NumRows != int64(b.N)*80 {
		b.Fatalf("rows not counted: queue %d", len(c.queue))
	}
}
