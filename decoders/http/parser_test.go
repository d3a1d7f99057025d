package http

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t       *testing.T
	p       *Protocol
	c       protocol.TCPParser
	col     *protocoltest.Collector
	pending [2][]byte
	ts      time.Time
}

func newHarness(t *testing.T, opts map[string]any) *harness {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "http", stream)
	conn := protocol.Conn{
		Client:     netip.MustParseAddrPort("10.0.0.1:40000"),
		Server:     netip.MustParseAddrPort("10.0.0.2:80"),
		IPProtocol: 6,
	}
	return &harness{t: t, p: inst.TCP.(*Protocol), c: inst.TCP.NewConn(&conn), col: col, ts: t0}
}

// send delivers data in dir the way the engine does: unconsumed bytes are
// kept and handed back with the next segment, bounded like the stream.
func (h *harness) send(dir protocol.Dir, data string) {
	h.ts = h.ts.Add(time.Millisecond)
	buf := append(h.pending[dir], data...)
	n := h.c.Parse(dir, buf, h.ts)
	if n < 0 || n > len(buf) {
		h.t.Fatalf("consumed %d of %d", n, len(buf))
	}
	h.pending[dir] = append([]byte(nil), buf[n:]...)
	if len(h.pending[dir]) > maxHeaderBytes+64 {
		h.t.Fatalf("parser left %d bytes pending: unbounded", len(h.pending[dir]))
	}
}

func (h *harness) gap(dir protocol.Dir, n int) {
	h.pending[dir] = nil // the stream drops what it held
	h.c.Gap(dir, n, h.ts)
}

func (h *harness) docs() []map[string]any { return h.col.Docs }

const (
	getReq  = "GET /a.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\n\r\n"
	okResp  = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
	chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
		"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n"
)

func TestChunkedEverySplit(t *testing.T) {
	for split := 1; split < len(chunked); split++ {
		h := newHarness(t, map[string]any{"include_body_for": "text/plain"})
		h.send(protocol.FromClient, getReq)
		h.send(protocol.FromServer, chunked[:split])
		h.send(protocol.FromServer, chunked[split:])
		d := h.docs()
		if len(d) != 1 {
			t.Fatalf("split %d: %d events", split, len(d))
		}
		expect(t, d[0], map[string]any{
			"http.response.body.content": "hello, world", "http.response.body.bytes": 12,
			"http.response.bytes": len(chunked), "status": "OK", "error": nil,
		})
	}
}

func TestByteAtATime(t *testing.T) {
	h := newHarness(t, nil)
	for i := range len(getReq) {
		h.send(protocol.FromClient, getReq[i:i+1])
	}
	for i := range len(okResp) {
		h.send(protocol.FromServer, okResp[i:i+1])
	}
	if len(h.docs()) != 1 {
		t.Fatalf("%d events", len(h.docs()))
	}
	expect(t, h.docs()[0], map[string]any{
		"http.request.bytes": len(getReq), "http.response.bytes": len(okResp),
		"url.full": "http://example.com/a.html?x=1", "url.port": nil, "url.extension": "html",
	})
}

func TestPipelining(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n")
	if len(h.docs()) != 0 {
		t.Fatal("published before responses")
	}
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n") // HEAD: no body follows
	d := h.docs()
	if len(d) != 3 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"query": "GET /1", "http.response.status_code": 200, "status": "OK"})
	expect(t, d[1], map[string]any{"query": "POST /2", "http.request.body.bytes": 3, "http.response.status_code": 500,
		"status": "Error", "http.response.status_phrase": "oops"})
	expect(t, d[2], map[string]any{"query": "HEAD /3", "http.response.headers.content-length": 999, "http.response.bytes": 40})
}

func TestContinue(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	h.send(protocol.FromServer, "HTTP/1.1 100 Continue\r\n\r\n")
	h.send(protocol.FromClient, "data")
	h.send(protocol.FromServer, "HTTP/1.1 204 No Content\r\n\r\n")
	d := h.docs()
	if len(d) != 1 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"query": "PUT /up", "http.response.status_code": 204, "http.request.body.bytes": 4})
	if h.p.stats.InterimResponses.Load() != 1 {
		t.Error("interim response not counted")
	}

	// The server may refuse before the body: the response claims the
	// request still being received.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	h.send(protocol.FromServer, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
	h.send(protocol.FromClient, "data")
	h.c.Close(h.ts)
	if d := h.docs(); len(d) != 1 || protocoltest.Get(d[0], "http.response.status_code") != 417.0 {
		t.Fatalf("early answer: %v", d)
	}
}

func TestGapMidBody(t *testing.T) {
	h := newHarness(t, map[string]any{"include_body_for": "text"})
	h.send(protocol.FromClient, getReq+getReq)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nfirst")
	h.gap(protocol.FromServer, 50)
	h.send(protocol.FromServer, strings.Repeat("z", 45)+okResp)
	d := h.docs()
	if len(d) != 2 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{
		"http.response.body.bytes":             50, // kept bytes: the 50 lost are not content
		"http.response.headers.content-length": 100,
		"error.message":                        "Packet loss while capturing the response",
	})
	expect(t, d[1], map[string]any{"http.response.status_code": 200, "http.response.bytes": len(okResp), "error": nil})
}

func TestGapPastBodyResyncs(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, getReq+getReq+getReq)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
	h.gap(protocol.FromServer, 30) // the rest of the body and the start of the next response
	h.send(protocol.FromServer, "tent-Length: 5\r\n\r\nhello"+okResp)
	h.c.Close(h.ts)
	d := h.docs()
	// 1: body cut by the gap. The second response was lost and nothing
	// tells the third from it: the two requests still waiting from before
	// the gap are published alone, and the response after the
	// resynchronisation is not given to either of them.
	if len(d) != 4 {
		t.Fatalf("%d events: %v", len(d), d)
	}
	expect(t, d[0], map[string]any{"error.message": "Packet loss while capturing the response"})
	expect(t, d[1], map[string]any{"status": "Error", "error.message": "Unmatched request", "http.response": nil})
	expect(t, d[2], map[string]any{"status": "Error", "error.message": "Unmatched request", "http.response": nil})
	expect(t, d[3], map[string]any{"http.response.status_code": 200, "http.request": nil, "error.message": "Unmatched response"})
	rs := &h.p.stats.Resync
	if rs.SkippedBytes.Load() == 0 || rs.Resynced.Load() != 1 || rs.UnpairedReqs.Load() != 2 {
		t.Errorf("resync skipped %d, resynced %d, unpaired requests %d", rs.SkippedBytes.Load(), rs.Resynced.Load(), rs.UnpairedReqs.Load())
	}
}

func TestGapInHeaders(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "GET /lost HTTP/1.1\r\nHo")
	h.gap(protocol.FromClient, 100)
	h.send(protocol.FromClient, "ader: x\r\n\r\n")
	// The server answers the request lost in the gap, then the client
	// sends the next one: a clean turn, so pairing resumes with it.
	h.send(protocol.FromServer, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, okResp)
	d := h.docs()
	if len(d) != 2 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"http.response.status_code": 404, "http.request": nil, "error.message": "Unmatched response"})
	expect(t, d[1], map[string]any{"query": "GET /a.html", "status": "OK", "http.response.status_code": 200})
	if h.p.stats.GapDrops.Load() != 1 || h.p.stats.Resync.UnpairedResps.Load() != 1 {
		t.Errorf("GapDrops = %d, unpaired responses %d", h.p.stats.GapDrops.Load(), h.p.stats.Resync.UnpairedResps.Load())
	}
}

// A pipelining client that lost a request in a gap: the responses cannot
// be told apart, so none of those after the gap is paired.
func TestGapPipelinedRequestsNotMisPaired(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, getReq)
	h.gap(protocol.FromClient, len(getReq)) // a whole request lost
	h.send(protocol.FromClient, strings.Replace(getReq, "/a.html", "/c.html", 1))
	h.send(protocol.FromServer, okResp+"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"+okResp)
	h.c.Close(h.ts)
	d := h.docs()
	if len(d) != 4 {
		t.Fatalf("%d events: %v", len(d), d)
	}
	expect(t, d[0], map[string]any{"query": "GET /c.html", "http.response": nil})
	expect(t, d[1], map[string]any{"query": "GET /a.html", "http.response.status_code": 200})
	expect(t, d[2], map[string]any{"http.request": nil, "http.response.status_code": 404})
	expect(t, d[3], map[string]any{"http.request": nil, "http.response.status_code": 200})
}

// Garbage both ways, then a request and a response each after more
// garbage: both are found. They are not paired: unparsable client bytes
// may have been a request (answered by the server's garbage, or by the
// response after it), so as after a gap the guard waits for a clean turn.
func TestGarbage(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 binary TLS hello")
	h.send(protocol.FromServer, "\x16\x03\x03\x00\x5a\x02")
	h.send(protocol.FromClient, "\r\nmore junk\n"+getReq)
	h.send(protocol.FromServer, "junk\n"+okResp)
	h.send(protocol.FromClient, getReq) // a clean turn: paired again
	h.send(protocol.FromServer, okResp)
	d := h.docs()
	if len(d) != 3 {
		t.Fatalf("%d events: %v", len(d), d)
	}
	expect(t, d[0], map[string]any{"query": "GET /a.html", "http.response": nil})
	expect(t, d[1], map[string]any{"http.request": nil, "http.response.status_code": 200})
	expect(t, d[2], map[string]any{"query": "GET /a.html", "http.response.status_code": 200})
	if h.p.stats.ParseErrors.Load() < 2 {
		t.Errorf("ParseErrors = %d", h.p.stats.ParseErrors.Load())
	}
}

func TestHugeHeadersBounded(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "GET / HTTP/1.1\r\nHost: h\r\n")
	line := "X-Filler: " + strings.Repeat("f", 1000) + "\r\n"
	for range 200 { // 200 KB of headers, never terminated
		h.send(protocol.FromClient, line)
	}
	if h.p.stats.HeaderOverflows.Load() != 1 {
		t.Fatalf("HeaderOverflows = %d", h.p.stats.HeaderOverflows.Load())
	}
	// The request that overflowed was lost: what follows is decoded, but
	// the first response after it could be its answer, so it is not given
	// to the next request (the guard, as after a gap); a clean turn pairs
	// again.
	h.send(protocol.FromClient, "\r\n"+getReq)
	h.send(protocol.FromServer, okResp)
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, okResp)
	d := h.docs()
	if len(d) != 3 {
		t.Fatalf("after overflow: %v", d)
	}
	expect(t, d[0], map[string]any{"query": "GET /a.html", "http.response": nil})
	expect(t, d[1], map[string]any{"http.request": nil, "http.response.status_code": 200})
	expect(t, d[2], map[string]any{"query": "GET /a.html", "http.response.status_code": 200})
}

func TestUnterminatedAtClose(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
	h.c.Fin(protocol.FromServer, h.ts)
	h.send(protocol.FromClient, getReq) // a second request never answered
	h.c.Close(h.ts)
	d := h.docs()
	if len(d) != 2 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"status": "OK", "error.message": "Connection closed before the end of the message",
		"http.response.bytes": 49})
	expect(t, d[1], map[string]any{"status": "Error", "error.message": "Unmatched request", "event.end": nil})
	if h.p.stats.UnmatchedRequests.Load() != 1 {
		t.Error("unmatched request not counted")
	}
}

func TestUnmatchedResponse(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromServer, okResp) // capture started after the request
	d := h.docs()
	if len(d) != 1 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"status": "Error", "error.message": "Unmatched response",
		"http.request": nil, "url": nil, "http.response.status_code": 200})
}

func TestExpire(t *testing.T) {
	h := newHarness(t, map[string]any{"transaction_timeout": "2s"})
	h.send(protocol.FromClient, getReq)
	h.c.Expire(h.ts.Add(time.Second))
	if len(h.docs()) != 0 {
		t.Fatal("expired early")
	}
	h.c.Expire(h.ts.Add(3 * time.Second))
	if len(h.docs()) != 1 {
		t.Fatal("not expired")
	}
	h.send(protocol.FromServer, okResp)
	d := h.docs()
	expect(t, d[0], map[string]any{"error.message": "Unmatched request"})
	expect(t, d[1], map[string]any{"error.message": "Unmatched response"})
}

func TestConnectTunnel(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01binary")
	h.send(protocol.FromServer, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03binary")
	h.send(protocol.FromClient, "GET / HTTP/1.1\r\n\r\n") // inside the tunnel: not HTTP to us
	h.c.Close(h.ts)
	d := h.docs()
	if len(d) != 1 {
		t.Fatalf("%d events", len(d))
	}
	expect(t, d[0], map[string]any{"query": "CONNECT example.com:443", "url.domain": "example.com",
		"url.port": 443, "http.response.status_code": 200, "error": nil})
	if h.p.stats.ParseErrors.Load() != 0 {
		t.Error("tunnel bytes parsed as HTTP")
	}
}

func TestFoldedHeaderAndCaseInsensitive(t *testing.T) {
	h := newHarness(t, map[string]any{"send_headers": []any{"X-Long"}})
	h.send(protocol.FromClient, "GET / HTTP/1.1\r\nhOsT: Example.org:8080\r\nx-LONG: one\r\n  two\r\nUSER-AGENT: ua\r\n\r\n")
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
	d := h.docs()
	expect(t, d[0], map[string]any{"http.request.headers.x-long": "one two", "user_agent.original": "ua",
		"url.domain": "Example.org", "url.port": 8080, "error.message": "Host header port number mismatch"})
}

func TestZipBombBounded(t *testing.T) {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(make([]byte, 20<<20)) // 20 MiB of zeros -> ~20 KB
	zw.Close()
	h := newHarness(t, map[string]any{"include_body_for": "octet", "max_message_size": 1 << 20})
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\nContent-Length: "+
		strconv.Itoa(z.Len())+"\r\n\r\n"+z.String())
	d := h.docs()
	expect(t, d[0], map[string]any{"http.response.body.bytes": 1 << 20,
		"error.message": "unable to decode body using gzip encoding: decoded body exceeds max_message_size"})
}

func TestBodyTruncatedAtMax(t *testing.T) {
	h := newHarness(t, map[string]any{"include_body_for": "text", "max_message_size": 100})
	h.send(protocol.FromClient, getReq)
	body := strings.Repeat("abcdefghij", 15)
	h.send(protocol.FromServer, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 150\r\n\r\n"+body)
	expect(t, h.docs()[0], map[string]any{"http.response.body.content": body[:100],
		"http.response.headers.content-length": 150, "error.message": "Body truncated at max_message_size"})
}

func TestBadOptions(t *testing.T) {
	spec, _ := protocol.Lookup("http")
	for _, opts := range []map[string]any{
		{"send_header": []any{"x"}},  // typo
		{"max_message_size": -1},     // negative
		{"decode_body": "sometimes"}, // not a bool
		{"send_headers": map[string]any{"a": 1}},
	} {
		c, o, err := protocol.SplitCommon(spec, opts)
		if err == nil {
			_, err = spec.New(c, o, protocol.PublisherFunc(func(ecsmap.Event) {}))
		}
		if err == nil {
			t.Errorf("%v: no error", opts)
		}
	}
}
