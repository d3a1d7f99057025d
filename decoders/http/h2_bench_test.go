package http

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// h2Bench is one HTTP/2 connection in steady state: the peers' HPACK
// tables hold the repeated fields, as on a long-lived connection, so each
// request and response header block is mostly indexed references.
type h2Bench struct {
	p              protocol.TCPParser
	events         int
	req, resp      []byte // one exchange: HEADERS (+DATA) each way
	reqIDs, respID []int  // offsets of the stream IDs to rewrite
}

func newH2Bench(b *testing.B, reqFields, respFields []string, reqData, respData []byte) *h2Bench {
	spec, _ := protocol.Lookup("http")
	common, opts, _ := protocol.SplitCommon(spec, map[string]any{})
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "http"}
	h := &h2Bench{}
	inst, err := spec.New(common, opts, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		h.events++
	}))
	if err != nil {
		b.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:8080"), IPProtocol: 6}
	h.p = inst.TCP.NewConn(&conn)
	var hb bytes.Buffer
	ce, se := hpack.NewEncoder(&hb), hpack.NewEncoder(&hb)
	enc := func(e *hpack.Encoder, kv []string) []byte {
		hb.Reset()
		for i := 0; i < len(kv); i += 2 {
			e.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	exchange := func(id uint32) (req, resp []byte, reqIDs, respIDs []int) {
		var cb, sb bytes.Buffer
		cf, sf := http2.NewFramer(&cb, nil), http2.NewFramer(&sb, nil)
		reqIDs = append(reqIDs, cb.Len()+5)
		cf.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: reqData == nil, BlockFragment: enc(ce, reqFields)})
		if reqData != nil {
			reqIDs = append(reqIDs, cb.Len()+5)
			cf.WriteData(id, true, reqData)
		}
		respIDs = append(respIDs, sb.Len()+5)
		sf.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: enc(se, respFields)})
		respIDs = append(respIDs, sb.Len()+5)
		sf.WriteData(id, true, respData)
		return cb.Bytes(), sb.Bytes(), reqIDs, respIDs
	}
	ts := time.Unix(1700000000, 0)
	var cb, sb bytes.Buffer
	cb.WriteString(http2.ClientPreface)
	http2.NewFramer(&cb, nil).WriteSettings()
	http2.NewFramer(&sb, nil).WriteSettings()
	h.p.Parse(protocol.FromClient, cb.Bytes(), ts)
	h.p.Parse(protocol.FromServer, sb.Bytes(), ts)
	// The first exchange fills the tables; the second is the steady state.
	req, resp, _, _ := exchange(1)
	h.p.Parse(protocol.FromClient, req, ts)
	h.p.Parse(protocol.FromServer, resp, ts)
	h.req, h.resp, h.reqIDs, h.respID = exchange(3)
	h.events = 0
	return h
}

func (h *h2Bench) run(b *testing.B) {
	ts := time.Unix(1700000000, 0)
	id := uint32(3)
	b.SetBytes(int64(len(h.req) + len(h.resp)))
	b.ReportAllocs()
	for b.Loop() {
		for _, o := range h.reqIDs {
			binary.BigEndian.PutUint32(h.req[o:], id)
		}
		for _, o := range h.respID {
			binary.BigEndian.PutUint32(h.resp[o:], id)
		}
		h.p.Parse(protocol.FromClient, h.req, ts)
		h.p.Parse(protocol.FromServer, h.resp, ts)
		id += 2
	}
	if h.events != b.N {
		b.Fatalf("%d events for %d exchanges", h.events, b.N)
	}
}

// BenchmarkH2Exchange: a browser-ish GET and a 200 with a 2 KiB body on a
// long-lived h2c connection, event encoded. Allocations are per event.
func BenchmarkH2Exchange(b *testing.B) {
	h := newH2Bench(b,
		[]string{":method", "GET", ":scheme", "http", ":path", "/static/app.js?v=3", ":authority", "www.example.com",
			"user-agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", "accept", "*/*",
			"accept-language", "en-US,en;q=0.5", "accept-encoding", "gzip, deflate", "referer", "http://www.example.com/"},
		[]string{":status", "200", "server", "nginx/1.22.1", "date", "Tue, 26 Nov 2024 01:10:08 GMT",
			"content-type", "application/javascript", "content-length", "2048", "etag", "\"6744f0a0-800\""},
		nil, []byte(strings.Repeat("x", 2048)))
	h.run(b)
}

// BenchmarkGRPCUnary: a unary gRPC call (one message each way, status in
// the trailers) on a long-lived connection.
func BenchmarkGRPCUnary(b *testing.B) {
	msg := append([]byte{0, 0, 0, 0, 64}, bytes.Repeat([]byte{'m'}, 64)...)
	h := newH2Bench(b,
		[]string{":method", "POST", ":scheme", "http", ":path", "/grpc.health.v1.Health/Check", ":authority", "10.0.0.2:8080",
			"content-type", "application/grpc", "user-agent", "grpc-go/1.79.3", "te", "trailers", "grpc-timeout", "999u"},
		[]string{":status", "200", "content-type", "application/grpc"},
		msg, msg)
	// The trailers: grpc-status after the response DATA.
	var hb, sb bytes.Buffer
	e := hpack.NewEncoder(&hb)
	e.WriteField(hpack.HeaderField{Name: "grpc-status", Value: "0"})
	e.WriteField(hpack.HeaderField{Name: "grpc-message", Value: ""})
	// Rebuild the response with END_STREAM on the trailers, not the DATA.
	resp := h.resp
	dataAt := h.respID[1] - 5
	h.resp = append([]byte(nil), resp[:dataAt]...)
	h.resp = append(h.resp, resp[dataAt:]...)
	h.resp[dataAt+4] = 0 // DATA without END_STREAM
	sf := http2.NewFramer(&sb, nil)
	sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, BlockFragment: hb.Bytes()})
	h.respID = append(h.respID, len(h.resp)+5)
	h.resp = append(h.resp, sb.Bytes()...)
	h.run(b)
}

// BenchmarkH2DataSegment is the per-packet cost inside a large DATA frame
// (a download): it must not allocate.
func BenchmarkH2DataSegment(b *testing.B) {
	h := newH2Bench(b, []string{":method", "GET", ":scheme", "http", ":path", "/big", ":authority", "h"},
		[]string{":status", "200"}, nil, nil)
	var sb, cb bytes.Buffer
	hb := new(bytes.Buffer)
	e := hpack.NewEncoder(hb)
	e.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	cf := http2.NewFramer(&cb, nil)
	cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, EndHeaders: true, EndStream: true, BlockFragment: hb.Bytes()})
	ts := time.Unix(1700000000, 0)
	h.p.Parse(protocol.FromClient, cb.Bytes(), ts)
	sf := http2.NewFramer(&sb, nil)
	sf.WriteRawFrame(http2.FrameData, 0, 5, nil)
	hdr := sb.Bytes()
	hdr[0], hdr[1], hdr[2] = 0xff, 0xff, 0xff // a 16 MB DATA frame
	h.p.Parse(protocol.FromServer, hdr, ts)
	seg := bytes.Repeat([]byte{'y'}, 1448)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	left := 0xffffff
	for b.Loop() {
		if left < len(seg) {
			b.StopTimer()
			h.p.Parse(protocol.FromServer, seg[:left], ts)
			h.p.Parse(protocol.FromServer, hdr, ts) // the next frame
			left = 0xffffff
			b.StartTimer()
		}
		h.p.Parse(protocol.FromServer, seg, ts)
		left -= len(seg)
	}
}
