package http

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// fuzzConn builds a parser whose events are encoded (so WriteFields runs
// on whatever the parser produced) and checked for bounds.
func fuzzConn(t *testing.T, opts map[string]any) (protocol.TCPParser, *int) {
	spec, _ := protocol.Lookup("http")
	c, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "http"}
	n := new(int)
	inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*n++
	}))
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:80"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn), n
}

var fuzzOpts = map[string]any{
	"send_all_headers": true, "split_cookie": true, "include_body_for": []any{"text", "json", "form"},
	"hide_keywords": []any{"pass"}, "real_ip_header": "X-Forwarded-For", "send_request": true,
	"send_response": true, "max_message_size": 4096,
}

// feed delivers data in pieces of the sizes the first bytes suggest, keeping
// unconsumed bytes like the stream does.
func feed(t *testing.T, p protocol.TCPParser, dir protocol.Dir, data []byte, split byte) {
	var pending []byte
	ts := time.Unix(1700000000, 0)
	step := int(split%64) + 1
	for i := 0; i < len(data); i += step {
		end := min(i+step, len(data))
		buf := append(pending, data[i:end]...)
		n := p.Parse(dir, buf, ts)
		if n < 0 || n > len(buf) {
			t.Fatalf("consumed %d of %d", n, len(buf))
		}
		pending = append([]byte(nil), buf[n:]...)
		if len(pending) > maxHeaderBytes+64 {
			t.Fatalf("%d bytes left pending", len(pending))
		}
	}
}

func seeds(f *testing.F) {
	// Parse errors: garbage between messages, a body overrunning its
	// length, a bad method (the resynchronisation after them).
	f.Add([]byte(okResp+"\x00\xffjunk HTTP/1.1 2"+okResp+"BR\xc9W / HTTP/1.1\r\n\r\n"+getReq), byte(5))
	f.Add([]byte(getReq+"POST /f HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\npass=1&a="), byte(7))
	f.Add([]byte(okResp+chunked), byte(3))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"), byte(1))
	f.Add([]byte("GET / HTTP/1.1\r\nCookie: a=1; a=2; b=\"x\"\r\nAuthorization: Basic YTpi\r\nX-Forwarded-For: 1.2.3.4\r\n  folded\r\n\r\n"), byte(60))
}

func FuzzParseRequest(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		p, _ := fuzzConn(t, fuzzOpts)
		feed(t, p, protocol.FromClient, data, split)
		p.Expire(time.Unix(1800000000, 0))
		p.Close(time.Unix(1800000000, 0))
	})
}

func FuzzParseResponse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		p, _ := fuzzConn(t, fuzzOpts)
		p.Parse(protocol.FromClient, []byte("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"), time.Unix(1700000000, 0))
		feed(t, p, protocol.FromServer, data, split)
		p.Close(time.Unix(1800000000, 0))
	})
}

// FuzzStream interleaves both directions, gaps and FINs, driven by a small
// op stream at the front of the input: [op, len] pairs.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 60, 1, 80, 2, 10, 0, 60}, []byte(getReq+okResp+getReq+chunked))
	f.Add([]byte{1, 200, 3, 0, 0, 200}, []byte(chunked+getReq))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		p, _ := fuzzConn(t, fuzzOpts)
		var pending [2][]byte
		ts := time.Unix(1700000000, 0)
		for i := 0; i+1 < len(ops) && len(data) > 0; i += 2 {
			dir := protocol.Dir(ops[i] & 1)
			n := min(int(ops[i+1])+1, len(data))
			ts = ts.Add(time.Duration(ops[i+1]) * 100 * time.Millisecond)
			switch ops[i] >> 1 & 3 {
			case 0, 1:
				buf := append(pending[dir], data[:n]...)
				c := p.Parse(dir, buf, ts)
				if c < 0 || c > len(buf) {
					t.Fatalf("consumed %d of %d", c, len(buf))
				}
				pending[dir] = append([]byte(nil), buf[c:]...)
			case 2:
				pending[dir] = nil
				p.Gap(dir, int(binary.LittleEndian.Uint16(append(data[:min(2, len(data))], 0, 0))), ts)
			case 3:
				p.Fin(dir, ts)
			}
			data = data[n:]
			p.Expire(ts)
		}
		p.Close(ts)
	})
}
