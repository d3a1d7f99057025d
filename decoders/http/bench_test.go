package http

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// BenchmarkGetExchange parses a typical browser-ish GET and a 200 response
// (headers + 2 KiB body in two segments) on one keep-alive connection and
// encodes the event, as the engine would. Allocations are per transaction.
func BenchmarkGetExchange(b *testing.B) {
	req := []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
		"Referer: http://www.example.com/\r\nConnection: keep-alive\r\n\r\n")
	body := strings.Repeat("x", 2048)
	resp1 := []byte("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 26 Nov 2024 01:10:08 GMT\r\n" +
		"Content-Type: application/javascript\r\nContent-Length: 2048\r\nConnection: keep-alive\r\n" +
		"ETag: \"6744f0a0-800\"\r\nAccept-Ranges: bytes\r\n\r\n" + body[:1000])
	resp2 := []byte(body[1000:])

	spec, _ := protocol.Lookup("http")
	common, opts, _ := protocol.SplitCommon(spec, map[string]any{})
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "http"}
	events := 0
	inst, err := spec.New(common, opts, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80"), IPProtocol: 6}
	p := inst.TCP.NewConn(&conn)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(req) + len(resp1) + len(resp2)))
	b.ReportAllocs()
	for b.Loop() {
		p.Parse(protocol.FromClient, req, ts)
		p.Parse(protocol.FromServer, resp1, ts)
		p.Parse(protocol.FromServer, resp2, ts)
	}
	if events != b.N {
		b.Fatalf("%d events for %d exchanges", events, b.N)
	}
}

// BenchmarkBodySegment measures the per-packet cost inside a large body
// that is not kept: it must not allocate.
func BenchmarkBodySegment(b *testing.B) {
	h := newHarness(&testing.T{}, nil)
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
	seg := []byte(strings.Repeat("y", 1448))
	b.ReportAllocs()
	for b.Loop() {
		h.c.Parse(protocol.FromServer, seg, t0)
	}
}
