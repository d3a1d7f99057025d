package http

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const h2PcapDir = "../../_dev/pcaps/http2"

func replayH2(t *testing.T, name string, ports []any, opts map[string]any) []map[string]any {
	t.Helper()
	stream := map[string]any{"ports": ports}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "http", stream)
	protocoltest.Replay(t, filepath.Join(h2PcapDir, name), inst)
	return col.Docs
}

// tsStream is one HTTP/2 stream as tshark's http2 and grpc dissectors
// show it.
type tsStream struct {
	method, path, authority string
	status                  string
	grpcStatus, grpcMessage string
	reset                   string
	contentType             [2]string
	data, frames            [2]int64
	msgs, compressed        [2]int
	upgraded                bool
}

func (s *tsStream) String() string {
	frames := fmt.Sprintf("%d/%d", s.frames[0], s.frames[1])
	if s.upgraded {
		frames = fmt.Sprintf("-/%d", s.frames[1]) // the request was HTTP/1.1
	}
	return fmt.Sprintf("%s %s %s -> %s grpc=%s %q rst=%s ct=%q/%q data=%d/%d frames=%s msgs=%d/%d gzip=%d/%d",
		s.method, s.path, s.authority, s.status, s.grpcStatus, s.grpcMessage, s.reset, s.contentType[0], s.contentType[1],
		s.data[0], s.data[1], frames, s.msgs[0], s.msgs[1], s.compressed[0], s.compressed[1])
}

var h2ErrorNames = map[string]string{"0": "NO_ERROR", "1": "PROTOCOL_ERROR", "2": "INTERNAL_ERROR", "7": "REFUSED_STREAM", "8": "CANCEL"}

// tsharkH2 dissects a pcap with tshark (PDML) and returns its HTTP/2
// streams keyed "clientport/streamid", or nil when tshark is missing.
// decodeAs is tshark's -d for ports it does not know as HTTP/2; 8080 is
// left to tshark's http dissector, which follows Upgrade: h2c and the
// prior-knowledge preface by itself.
func tsharkH2(t *testing.T, name string, serverPort int, decodeAs bool) map[string]*tsStream {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return nil
	}
	args := []string{"-r", filepath.Join(h2PcapDir, name), "-T", "pdml"}
	if decodeAs {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,http2", serverPort))
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	streams := map[string]*tsStream{}
	get := func(port string, id string) *tsStream {
		k := port + "/" + id
		if streams[k] == nil {
			streams[k] = &tsStream{}
		}
		return streams[k]
	}
	type frame struct {
		typ, flags, id, promised, rstErr string
		length, pad                      int64
		names, values                    []string
	}
	var (
		proto      string
		clientPort string
		srcPort    string
		dir        int
		fr         *frame
		lastData   *tsStream
		lastDir    int
		grpcFlag   string
	)
	endFrame := func() {
		if fr == nil {
			return
		}
		f := fr
		fr = nil
		if f.id == "0" || f.id == "" {
			return
		}
		s := get(clientPort, f.id)
		hdrLen := int64(9)
		switch f.typ {
		case "0": // DATA
			n := f.length
			if fl, _ := strconv.ParseUint(strings.TrimPrefix(f.flags, "0x"), 16, 8); fl&0x8 != 0 {
				n -= f.pad + 1
			}
			s.data[dir] += n
			s.frames[dir] += hdrLen + f.length
			lastData, lastDir = s, dir
		case "1", "9": // HEADERS, CONTINUATION
			s.frames[dir] += hdrLen + f.length
		case "5": // PUSH_PROMISE: the promised stream's request
			s = get(clientPort, f.promised)
			s.frames[0] += hdrLen + f.length
		case "3":
			if s.reset == "" {
				s.reset = h2ErrorNames[f.rstErr]
			}
			return
		default:
			return
		}
		isStatus1xx := false
		for i, n := range f.names {
			v := f.values[i]
			switch n {
			case ":method":
				s.method = v
			case ":path":
				s.path = v
			case ":authority":
				s.authority = v
			case ":status":
				if strings.HasPrefix(v, "1") {
					isStatus1xx = true
				} else if s.status == "" {
					s.status = v
				}
			case "grpc-status":
				s.grpcStatus = v
			case "grpc-message":
				s.grpcMessage, _ = url.PathUnescape(v)
			case "content-type":
				if f.typ != "5" && !isStatus1xx && s.contentType[dir] == "" {
					s.contentType[dir] = v
				} else if f.typ == "5" {
					s.contentType[0] = v
				}
			}
		}
		_ = isStatus1xx
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("pdml: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range el.Attr {
				attr[a.Name.Local] = a.Value
			}
			if el.Name.Local == "packet" {
				endFrame()
				proto = ""
				continue
			}
			if el.Name.Local == "proto" {
				endFrame()
				proto = attr["name"]
				if proto == "http2" {
					fr = &frame{}
				}
				continue
			}
			show := attr["show"]
			switch proto {
			case "tcp":
				switch attr["name"] {
				case "tcp.srcport":
					srcPort = show
				case "tcp.dstport":
					if show == strconv.Itoa(serverPort) {
						clientPort, dir = srcPort, 0
					} else {
						clientPort, dir = show, 1
					}
				}
			case "http2":
				switch attr["name"] {
				case "http2.type":
					fr.typ = show
				case "http2.flags":
					fr.flags = show
				case "http2.streamid":
					fr.id = show
				case "http2.length":
					fr.length, _ = strconv.ParseInt(show, 10, 64)
				case "http2.pad_length":
					fr.pad, _ = strconv.ParseInt(show, 10, 64)
				case "http2.push_promise.promised_stream_id":
					fr.promised = show
				case "http2.rst_stream.error":
					fr.rstErr = show
				case "http2.header.name":
					fr.names = append(fr.names, show)
				case "http2.header.value":
					fr.values = append(fr.values, show)
				}
			case "grpc":
				switch attr["name"] {
				case "grpc.compressed_flag":
					grpcFlag = show
				case "grpc.message_length":
					if lastData != nil {
						lastData.msgs[lastDir]++
						if grpcFlag == "1" {
							lastData.compressed[lastDir]++
						}
					}
				}
			case "http":
				// The HTTP/1.1 request of an Upgrade: h2c.
				switch attr["name"] {
				case "http.request.method":
					s := get(clientPort, "1")
					s.method, s.upgraded = show, true
				case "http.request.uri":
					get(clientPort, "1").path = show
				case "http.host":
					get(clientPort, "1").authority = show
				}
			}
		}
	}
	endFrame()
	for k, s := range streams {
		if strings.Contains(s.contentType[0], "urlencoded") {
			s.path, _, _ = strings.Cut(s.path, "?") // as oursH2 does
		}
		if s.method == "" && s.status == "" && s.reset == "" {
			delete(streams, k) // PRIORITY frames only (nghttp's dependency anchors)
		}
	}
	return streams
}

// oursH2 renders our events as tsStream strings, keyed like tsharkH2.
func oursH2(docs []map[string]any) map[string]string {
	res := map[string]string{}
	str := func(d map[string]any, k string) string {
		v := protocoltest.Get(d, k)
		if v == nil {
			return ""
		}
		if f, ok := v.(float64); ok {
			return strconv.FormatInt(int64(f), 10)
		}
		return fmt.Sprint(v)
	}
	num := func(d map[string]any, k string) int64 {
		n, _ := strconv.ParseInt(str(d, k), 10, 64)
		return n
	}
	for _, d := range docs {
		s := &tsStream{
			method: strings.ToUpper(str(d, "http.request.method")),
			path:   str(d, "url.path"),
			status: str(d, "http.response.status_code"),
			reset:  str(d, "http2.reset.error_code"),
		}
		if q := str(d, "url.query"); q != "" {
			s.path += "?" + q
		}
		if strings.Contains(str(d, "http.request.headers.content-type"), "urlencoded") {
			// url.query also carries the form's parameters (Packetbeat's
			// params): compare the path alone (TestH2COptions checks them).
			s.path, _, _ = strings.Cut(s.path, "?")
		}
		s.authority = str(d, "url.domain")
		if p := str(d, "url.port"); p != "" {
			s.authority += ":" + p
		}
		s.grpcStatus, s.grpcMessage = str(d, "grpc.status_code"), str(d, "grpc.message")
		s.contentType = [2]string{str(d, "http.request.headers.content-type"), str(d, "http.response.headers.content-type")}
		s.data = [2]int64{num(d, "http.request.body.bytes"), num(d, "http.response.body.bytes")}
		s.frames = [2]int64{num(d, "http.request.bytes"), num(d, "http.response.bytes")}
		s.msgs = [2]int{int(num(d, "grpc.request.messages")), int(num(d, "grpc.response.messages"))}
		s.compressed = [2]int{int(num(d, "grpc.request.compressed_messages")), int(num(d, "grpc.response.compressed_messages"))}
		s.upgraded = protocoltest.Get(d, "http2.upgraded") == true
		res[str(d, "source.port")+"/"+str(d, "http2.stream_id")] = s.String()
	}
	return res
}

func crossCheckH2(t *testing.T, name string, serverPort int, decodeAs bool, docs []map[string]any) {
	t.Helper()
	want := tsharkH2(t, name, serverPort, decodeAs)
	if want == nil {
		return
	}
	got := oursH2(docs)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if want[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := "(absent)"
		if want[k] != nil {
			w = want[k].String()
		}
		g, ok := got[k]
		if !ok {
			g = "(absent)"
		}
		if g != w {
			t.Errorf("stream %s:\nours:   %s\ntshark: %s", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d streams, tshark has %d", len(got), len(want))
	}
}

// byStream finds the event of HTTP/2 stream id whose url.path is path.
func byStream(t *testing.T, docs []map[string]any, id int, path string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if fmt.Sprint(protocoltest.Get(d, "http2.stream_id")) == strconv.Itoa(id) && protocoltest.Get(d, "url.path") == path {
			return d
		}
	}
	t.Fatalf("no event for stream %d %s", id, path)
	return nil
}

func TestH2CPcap(t *testing.T) {
	docs := replayH2(t, "h2c.pcap", []any{8080}, map[string]any{
		"send_headers": []any{"User-Agent", "Cookie", "Authorization"}, "redact_authorization": true,
		"send_request": true,
	})
	if len(docs) != 10 {
		t.Fatalf("got %d events, want 10 (8 prior-knowledge streams, 2 upgrades)", len(docs))
	}
	crossCheckH2(t, "h2c.pcap", 8080, false, docs)
	for _, d := range docs {
		expect(t, d, map[string]any{"http.version": "2", "type": "http", "network.protocol": "http", "url.scheme": "http"})
	}
	d := byStream(t, docs, 1, "/hello")
	expect(t, d, map[string]any{
		"status": "OK", "method": "get", "query": "GET /hello", "url.query": "name=alice",
		"url.full": "http://127.0.0.1:8080/hello?name=alice", "user_agent.original": "h2c-client/1",
		"http.request.headers.authorization": "*", "http.request.headers.cookie": "a=1",
		"http.response.status_code": 200, "http.response.body.bytes": 26, "http.response.status_phrase": nil,
		"http2.upgraded": nil,
	})
	if r := protocoltest.Get(d, "request").(string); !strings.HasPrefix(r, "GET /hello?name=alice HTTP/2.0\r\nhost: 127.0.0.1:8080\r\n") ||
		!strings.Contains(r, "authorization:**************\r\n") || strings.Contains(r, "s3cr3t") {
		t.Errorf("request text: %q", r)
	}
	// The request the client gave up on: RST_STREAM(CANCEL), no response.
	expect(t, byStream(t, docs, 11, "/slow"), map[string]any{
		"status": "Error", "http2.reset.error_code": "CANCEL", "http2.reset.by": "client",
		"http.response.status_code": nil, "error.message": []any{"Unmatched request", "HTTP/2 stream reset by client: CANCEL"},
	})
	expect(t, byStream(t, docs, 5, "/missing"), map[string]any{"status": "Error", "http.response.status_code": 404})
	expect(t, byStream(t, docs, 9, "/upload"), map[string]any{
		"method": "post", "http.request.body.bytes": 3000, "http.request.headers.content-length": 3000,
		"http.response.status_code": 201,
	})
	// Past the 64 KiB initial window: the body still adds up.
	expect(t, byStream(t, docs, 3, "/big"), map[string]any{"http.response.body.bytes": 66000, "http.response.bytes": 66083})
	var upgraded []string
	for _, d := range docs {
		if protocoltest.Get(d, "http2.upgraded") == true {
			expect(t, d, map[string]any{"http2.stream_id": 1, "http.response.status_code": 200, "status": "OK",
				"http.request.headers.authorization": nil})
			upgraded = append(upgraded, fmt.Sprint(protocoltest.Get(d, "user_agent.original"), " ", protocoltest.Get(d, "url.query")))
		}
	}
	if strings.Join(upgraded, ",") != "upgrade-client/1 name=upgrade,nghttp-upgrade name=nghttp" {
		t.Errorf("upgraded streams: %v", upgraded)
	}
}

func TestNghttp2Pcap(t *testing.T) {
	docs := replayH2(t, "nghttp2.pcap", []any{8002}, nil)
	if len(docs) != 6 {
		t.Fatalf("got %d events, want 6", len(docs))
	}
	crossCheckH2(t, "nghttp2.pcap", 8002, true, docs)
	// Padded frames (nghttp -b 8, nghttpd -b 16): content without padding.
	expect(t, byStream(t, docs, 15, "/5k.txt"), map[string]any{
		"http.response.body.bytes": 5000, "user_agent.original": "nghttp2-test", "status": "OK",
	})
	pushed := byStream(t, docs, 2, "/style.css")
	expect(t, pushed, map[string]any{"http2.pushed": true, "method": "get", "http.response.status_code": 200,
		"http.response.body.bytes": 22, "http.response.headers.content-type": "text/css"})
	expect(t, byStream(t, docs, 13, "/index.html"), map[string]any{"http.response.body.bytes": 88})
}

func TestGRPCPcap(t *testing.T) {
	docs := replayH2(t, "grpc.pcap", []any{50051}, nil)
	if len(docs) != 8 {
		t.Fatalf("got %d events, want 8", len(docs))
	}
	crossCheckH2(t, "grpc.pcap", 50051, true, docs)
	for _, d := range docs {
		expect(t, d, map[string]any{"http.version": "2", "method": "post", "http.request.headers.content-type": "application/grpc"})
	}
	check := "/grpc.health.v1.Health/Check"
	expect(t, byStream(t, docs, 1, check), map[string]any{
		"status": "OK", "grpc.service": "grpc.health.v1.Health", "grpc.method": "Check",
		"grpc.status_code": 0, "grpc.status": "OK", "grpc.request.messages": 1, "grpc.response.messages": 1,
		"grpc.request.compressed_messages": 0, "grpc.request.encoding": nil,
	})
	expect(t, byStream(t, docs, 3, check), map[string]any{
		"status": "OK", "grpc.request.compressed_messages": 1, "grpc.response.compressed_messages": 1,
		"grpc.request.encoding": "gzip", "grpc.response.encoding": "gzip",
	})
	// Trailers-Only error responses.
	expect(t, byStream(t, docs, 5, check), map[string]any{
		"status": "Error", "grpc.status_code": 5, "grpc.status": "NOT_FOUND", "grpc.message": "unknown service",
		"grpc.response.messages": 0, "http.response.status_code": 200,
	})
	expect(t, byStream(t, docs, 7, "/grpc.health.v1.Health/Nope"), map[string]any{
		"status": "Error", "grpc.status_code": 12, "grpc.status": "UNIMPLEMENTED",
	})
	// The deadline passed: the client resets the stream, no grpc-status.
	w := byStream(t, docs, 9, "/grpc.health.v1.Health/Watch")
	expect(t, w, map[string]any{"status": "Error", "http2.reset.error_code": "CANCEL", "grpc.status_code": nil, "grpc.request.messages": 1,
		"grpc.timeout": 699984000}) // grpc-timeout: 699984u (tshark)
	if n := protocoltest.Get(w, "grpc.response.messages").(float64); n < 2 {
		t.Errorf("Watch: %v updates", n)
	}
	expect(t, byStream(t, docs, 11, "/test.Echo/Chat"), map[string]any{
		"status": "OK", "grpc.service": "test.Echo", "grpc.method": "Chat", "grpc.request.messages": 3, "grpc.response.messages": 3,
	})
	expect(t, byStream(t, docs, 13, "/test.Echo/Chat"), map[string]any{
		"status": "Error", "grpc.status_code": 3, "grpc.status": "INVALID_ARGUMENT",
		"grpc.message": "bad message 2: 100% wrong", "grpc.request.messages": 2, "grpc.response.messages": 1,
	})
}

// include_body_for and max_message_size apply to HTTP/2 bodies as to
// HTTP/1 ones (DATA content, padding removed, kept up to the bound).
func TestH2CBodies(t *testing.T) {
	docs := replayH2(t, "h2c.pcap", []any{8080}, map[string]any{
		"include_body_for": []any{"text/plain", "application/json"}, "max_message_size": 20, "send_response": true,
	})
	expect(t, byStream(t, docs, 1, "/hello"), map[string]any{
		"http.response.body.content": "hello alice over HTT", "error.message": "Body truncated at max_message_size",
	})
	expect(t, byStream(t, docs, 9, "/upload"), map[string]any{
		"http.response.body.content": "{\"received\":3000}\n", "http.request.body.content": nil, "http.request.body.bytes": 3000,
		"response": "HTTP/2.0 201\r\ncontent-type: application/json\r\ncontent-length: 18\r\ndate: Wed, 02 Dec 2026 02:41:42 GMT\r\n\r\n{\"received\":3000}\n",
	})
	expect(t, byStream(t, docs, 3, "/big"), map[string]any{"http.response.body.content": nil, "http.response.body.bytes": 66000})
}

// decode_body, hide_keywords (url-encoded form bodies) and real_ip_header
// as for HTTP/1.
func TestH2COptions(t *testing.T) {
	docs := replayH2(t, "h2c.pcap", []any{8080}, map[string]any{
		"include_body_for": []any{"application/json"}, "hide_keywords": []any{"password"},
		"real_ip_header": "X-Forwarded-For", "send_headers": []any{"x-forwarded-for"},
	})
	// Content-Encoding: gzip, decoded (body.bytes is the decoded length, as for HTTP/1).
	expect(t, byStream(t, docs, 13, "/gzip"), map[string]any{
		"http.response.body.content": `{"items":[1,2,3],"name":"gzip over h2"}`, "http.response.body.bytes": 39,
		"http.response.headers.content-type": "application/json",
	})
	expect(t, byStream(t, docs, 15, "/login"), map[string]any{
		"method": "post", "url.query": "from=h2&password=xxxxx&user=bob", "network.forwarded_ip": "203.0.113.9",
		"related.ip": []any{"127.0.0.1", "203.0.113.9"}, "http.request.headers.x-forwarded-for": "203.0.113.9, 10.0.0.1",
		"http.request.body.bytes": 24, "http.request.body.content": nil,
	})
}
