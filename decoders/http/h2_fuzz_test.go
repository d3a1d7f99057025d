package http

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// h2Seed is a real-shaped HTTP/2 exchange (x/net's framer and encoder):
// a gRPC call with a trailer and a plain GET with a cookie, padding and
// a reset.
func h2Seed() (client, server []byte) {
	var cb, sb, hb bytes.Buffer
	cb.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	cf, sf := http2.NewFramer(&cb, nil), http2.NewFramer(&sb, nil)
	ce, se := hpack.NewEncoder(&hb), hpack.NewEncoder(&hb)
	block := func(e *hpack.Encoder, kv ...string) []byte {
		hb.Reset()
		for i := 0; i < len(kv); i += 2 {
			e.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return append([]byte(nil), hb.Bytes()...)
	}
	cf.WriteSettings()
	sf.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192})
	cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: block(ce,
		":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Do", ":authority", "h:50051",
		"content-type", "application/grpc", "grpc-encoding", "gzip", "authorization", "Basic YTpi")})
	cf.WriteData(1, true, []byte{1, 0, 0, 0, 2, 'h', 'i'})
	cf.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, PadLength: 4, BlockFragment: block(ce,
		":method", "GET", ":scheme", "http", ":path", "/x?pass=1", ":authority", "h", "cookie", "a=1", "cookie", "b=2")})
	cf.WriteRSTStream(3, http2.ErrCodeCancel)
	sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: block(se, ":status", "200", "content-type", "application/grpc")})
	sf.WriteDataPadded(1, false, []byte{0, 0, 0, 0, 1, 'x'}, []byte{0, 0})
	sf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: block(se, "grpc-status", "13", "grpc-message", "bad%20thing")})
	sf.WriteGoAway(3, http2.ErrCodeNo, nil)
	return cb.Bytes(), sb.Bytes()
}

// FuzzHTTP2: client and server byte streams through the http parser (so the
// HTTP/2 switch, the stream-to-event conversion and the event writer all
// run), delivered in pieces of the split size.
func FuzzHTTP2(f *testing.F) {
	c, s := h2Seed()
	f.Add(c, s, byte(5))
	f.Add(c, s, byte(63))
	up := []byte("GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\n\r\n")
	f.Add(append(up, c...), append([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"), s...), byte(9))
	f.Fuzz(func(t *testing.T, client, server []byte, split byte) {
		p, _ := fuzzConn(t, fuzzOpts)
		feed(t, p, protocol.FromClient, client, split)
		feed(t, p, protocol.FromServer, server, split)
		p.Expire(time.Unix(1800000000, 0))
		p.Close(time.Unix(1800000000, 0))
	})
}

func TestH2SeedEvents(t *testing.T) {
	// The seed decodes as intended, so the fuzz target starts from real
	// coverage: two events, the gRPC one with its trailer status.
	c, s := h2Seed()
	p, n := fuzzConn(t, fuzzOpts)
	feed(t, p, protocol.FromClient, c, 7)
	feed(t, p, protocol.FromServer, s, 7)
	p.Close(time.Unix(1800000000, 0))
	if *n != 2 {
		t.Fatalf("%d events, want 2", *n)
	}
}
