package http

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/http"

func replay(t *testing.T, name string, opts map[string]any) []map[string]any {
	t.Helper()
	stream := map[string]any{"ports": []any{8080, 8000, 5000}}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "http", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs
}

// expect compares fields by dotted path; numbers are compared as strings
// of their JSON form, nil means "absent".
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, protocoltest.Get(doc, "query"))
}

// tsharkTransactions lists "METHOD URI -> CODE len=N" per transaction as
// tshark dissects the pcap (N: the response Content-Length, empty when
// absent), or nil when tshark is not installed. tshark's own pairing of
// pipelined responses is unreliable, so requests and final responses are
// listed per TCP stream in frame order and zipped, HTTP/1.1's FIFO rule.
func tsharkTransactions(t *testing.T, name string) []string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return nil
	}
	run := func(filter string, fields ...string) [][]string {
		args := []string{"-r", filepath.Join(pcapDir, name), "-d", "tcp.port==5000,http",
			"-Y", filter, "-T", "fields", "-E", "separator=|"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			rows = append(rows, strings.Split(l, "|"))
		}
		return rows
	}
	type req struct{ method, uri string }
	reqs := map[string][]req{}
	for _, r := range run("http.request", "tcp.stream", "http.request.method", "http.request.uri") {
		ms, us := strings.Split(r[1], ","), strings.Split(r[2], ",")
		for i := range ms { // pipelined requests share a frame
			reqs[r[0]] = append(reqs[r[0]], req{ms[i], us[i]})
		}
	}
	var res []string
	for _, r := range run("http.response && http.response.code >= 200", "tcp.stream", "http.response.code", "http.content_length") {
		codes, lens := strings.Split(r[1], ","), strings.Split(r[2], ",")
		for i := range codes {
			q := reqs[r[0]][0]
			reqs[r[0]] = reqs[r[0]][1:]
			l := ""
			if i < len(lens) {
				l = lens[i]
			}
			res = append(res, fmt.Sprintf("%s %s -> %s len=%s", q.method, q.uri, codes[i], l))
		}
	}
	sort.Strings(res)
	return res
}

// ours renders our events in tsharkTransactions' shape.
func ours(docs []map[string]any) []string {
	var res []string
	for _, d := range docs {
		uri := fmt.Sprint(protocoltest.Get(d, "url.path"))
		// url.query also carries url-encoded form parameters (Packetbeat's
		// params), which are not part of the request URI.
		form := strings.Contains(fmt.Sprint(protocoltest.Get(d, "http.request.headers.content-type")), "urlencoded")
		if q := protocoltest.Get(d, "url.query"); q != nil && !form {
			uri += "?" + q.(string)
		}
		cl := ""
		if v, ok := protocoltest.Get(d, "http.response.headers.content-length").(float64); ok && protocoltest.Get(d, "http.response.body.bytes") != nil {
			cl = strconv.Itoa(int(v))
		}
		res = append(res, fmt.Sprintf("%s %s -> %v len=%s", strings.ToUpper(protocoltest.Get(d, "http.request.method").(string)),
			uri, protocoltest.Get(d, "http.response.status_code"), cl))
	}
	sort.Strings(res)
	return res
}

func crossCheck(t *testing.T, name string, docs []map[string]any, chunked map[string]bool) {
	t.Helper()
	want := tsharkTransactions(t, name)
	if want == nil {
		return
	}
	got := ours(docs)
	// tshark has no Content-Length for chunked/close-delimited responses;
	// we report the counted body length there.
	for i, g := range got {
		for uri := range chunked {
			if strings.Contains(g, " "+uri+" ") {
				got[i] = g[:strings.LastIndex(g, "len=")+4]
			}
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transactions differ from tshark:\nours:\n%s\ntshark:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// tsharkPayloadBytes sums TCP payload per stream and direction (true: to the server).
func tsharkPayloadBytes(t *testing.T, name string, serverPort int) map[string]int64 {
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-T", "fields", "-E", "separator=|",
		"-e", "tcp.stream", "-e", "tcp.dstport", "-e", "tcp.len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	sums := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		n, _ := strconv.ParseInt(f[2], 10, 64)
		dir := "out"
		if f[1] == strconv.Itoa(serverPort) {
			dir = "in"
		}
		sums[f[0]+dir] += n
	}
	return sums
}

func TestNginxPcap(t *testing.T) {
	docs := replay(t, "nginx.pcap", map[string]any{
		"send_headers":   []any{"User-Agent", "Cookie"},
		"split_cookie":   true,
		"real_ip_header": "X-Forwarded-For",
		"hide_keywords":  []any{"password"},
	})
	if len(docs) != 6 {
		t.Fatalf("got %d events, want 6", len(docs))
	}
	common := map[string]any{
		"type": "http", "network.protocol": "http", "network.transport": "tcp",
		"destination.port": 8080, "destination.domain": "localhost", "url.domain": "localhost",
		"url.port": 8080, "url.scheme": "http", "http.version": "1.1",
		"user_agent.original": "curl/7.88.1", "http.request.headers.user-agent": "curl/7.88.1",
	}
	for _, d := range docs {
		expect(t, d, common)
	}
	expect(t, docs[0], map[string]any{
		"status": "OK", "method": "get", "query": "GET /2k.txt", "path": "/2k.txt",
		"http.request.method": "get", "http.request.bytes": 84, "source.bytes": 84,
		"http.response.status_code": 200, "http.response.status_phrase": "ok",
		"http.response.bytes": 2288, "destination.bytes": 2288, "network.bytes": 2372,
		"http.response.body.bytes": 2048, "http.response.headers.content-length": 2048,
		"http.response.headers.content-type": "text/plain", "http.request.headers.content-length": 0,
		"url.extension": "txt", "url.full": "http://localhost:8080/2k.txt", "url.query": nil,
		"event.duration": 253000, "error": nil,
	})
	// gzip'd, chunked by nginx: the body length is the sum of the chunks.
	expect(t, docs[1], map[string]any{
		"query": "GET /big.txt", "http.response.status_code": 200, "http.response.bytes": 796,
		"http.response.body.bytes": 533, "http.request.referrer": "http://localhost:8080/index.html",
		"http.response.body.content": nil,
	})
	expect(t, docs[2], map[string]any{
		"status": "Error", "query": "GET /nothing-here", "http.response.status_code": 404,
		"http.response.status_phrase": "not found", "http.response.body.bytes": 153,
		"url.extension": nil,
	})
	// HEAD: Content-Length 43 declared, no body on the wire.
	expect(t, docs[3], map[string]any{
		"status": "OK", "method": "head", "query": "HEAD /index.html", "http.response.bytes": 236,
		"http.response.headers.content-length": 43,
	})
	expect(t, docs[4], map[string]any{
		"query": "GET /redirect", "http.response.status_code": 301,
		"http.response.status_phrase": "moved permanently",
	})
	expect(t, docs[5], map[string]any{
		"query":                              "GET /index.html",
		"url.query":                          "password=xxxxx&q=x&user=alice",
		"url.full":                           "http://localhost:8080/index.html?password=xxxxx&q=x&user=alice",
		"user.name":                          "alice",
		"http.request.headers.cookie.a":      "1",
		"http.request.headers.cookie.theme":  "dark",
		"http.request.headers.authorization": nil, // not in send_headers
		"http.request.bytes":                 234,
	})

	// Cross-checks against tshark's dissection of the same file.
	noHide := replay(t, "nginx.pcap", nil)
	crossCheck(t, "nginx.pcap", noHide, map[string]bool{"/big.txt": true})
	if _, err := exec.LookPath("tshark"); err == nil {
		sums := tsharkPayloadBytes(t, "nginx.pcap", 8080)
		for i, d := range noHide { // one transaction per connection, in order
			s := strconv.Itoa(i)
			expect(t, d, map[string]any{"source.bytes": sums[s+"in"], "destination.bytes": sums[s+"out"]})
		}
	}
}

func TestNginxRealIP(t *testing.T) {
	// network.forwarded_ip needs an ecsmap.Base field (see Event.ForwardedIP):
	// until then the value is checked on the typed event.
	inst, col := protocoltest.New(t, "http", map[string]any{"ports": []any{8080}, "real_ip_header": "X-Forwarded-For"})
	protocoltest.Replay(t, filepath.Join(pcapDir, "nginx.pcap"), inst)
	if len(col.Events) != 6 {
		t.Fatalf("events: %d", len(col.Events))
	}
	if got := col.Events[5].(*Event).ForwardedIP; got != "203.0.113.7" {
		t.Errorf("ForwardedIP = %q, want 203.0.113.7", got)
	}
	if got := col.Events[0].(*Event).ForwardedIP; got != "" {
		t.Errorf("ForwardedIP without the header = %q", got)
	}
}

func TestNginxRedactAuthorization(t *testing.T) {
	docs := replay(t, "nginx.pcap", map[string]any{
		"redact_authorization": true, "send_all_headers": true, "send_request": true, "send_response": true,
		"redact_headers": []any{"x-forwarded-for"},
	})
	d := docs[5]
	expect(t, d, map[string]any{
		"http.request.headers.authorization":   "*",
		"http.request.headers.x-forwarded-for": "REDACTED",
		"http.request.headers.cookie":          `a=1; theme="dark"`,
		"http.request.headers.host":            "localhost:8080",
		"http.request.headers.accept":          "*/*",
		"user.name":                            nil,
		"http.response.headers.server":         "nginx/1.22.1",
	})
	req := d["request"].(string)
	if !strings.HasPrefix(req, "GET /index.html?user=alice&password=hunter2&q=x HTTP/1.1\r\n") ||
		!strings.Contains(req, "\r\nAuthorization:*******************************\r\n") ||
		strings.Contains(req, "YWxpY2U6d29uZGVybGFuZA==") || !strings.HasSuffix(req, "\r\n\r\n") {
		t.Errorf("request text not redacted as expected:\n%s", req)
	}
	if resp := d["response"].(string); !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n") {
		t.Errorf("response text: %q", resp)
	}
}

func TestPipelinePcap(t *testing.T) {
	docs := replay(t, "pipeline.pcap", nil)
	if len(docs) != 3 {
		t.Fatalf("got %d events, want 3", len(docs))
	}
	want := []map[string]any{
		{"query": "GET /index.html", "status": "OK", "http.response.status_code": 200, "http.response.body.bytes": 43, "http.request.bytes": 75, "http.response.bytes": 279},
		{"query": "GET /missing", "status": "Error", "http.response.status_code": 404, "http.response.body.bytes": 153, "http.request.bytes": 72, "http.response.bytes": 308},
		{"query": "HEAD /2k.txt", "status": "OK", "http.response.status_code": 200, "http.response.headers.content-length": 2048, "http.request.bytes": 91, "http.response.bytes": 235},
	}
	for i := range want {
		expect(t, docs[i], want[i])
		expect(t, docs[i], map[string]any{"user_agent.original": "pipeliner/1", "source.port": docs[0]["source"].(map[string]any)["port"]})
	}
	crossCheck(t, "pipeline.pcap", docs, nil)
}

func TestGoServerPcap(t *testing.T) {
	docs := replay(t, "goserver.pcap", map[string]any{
		"include_response_body_for": []any{"application/json"},
		"include_request_body_for":  "application/x-www-form-urlencoded",
		"hide_keywords":             []any{"PASSWORD"},
		"send_headers":              []any{"set-cookie"},
		"split_cookie":              true,
	})
	if len(docs) != 4 {
		t.Fatalf("got %d events, want 4", len(docs))
	}
	// Expect: 100-continue: the interim 100 is skipped, the 201 answers.
	expect(t, docs[0], map[string]any{
		"query": "POST /upload", "status": "OK", "http.request.bytes": 3169,
		"http.request.body.bytes": 3000, "http.response.status_code": 201,
		"http.response.body.bytes": 18, "http.response.body.content": "{\"received\":3000}\n",
		"http.response.mime_type": "text/plain", "url.domain": "127.0.0.1", "url.port": 8000,
		"destination.domain": nil, "url.full": "http://127.0.0.1:8000/upload",
	})
	// Chunked with a trailer: 3 chunks of 15 bytes.
	expect(t, docs[1], map[string]any{
		"query": "GET /chunked", "http.response.body.bytes": 45, "http.response.bytes": 216,
		"http.response.body.content": nil,
	})
	expect(t, docs[2], map[string]any{
		"query": "POST /login", "url.query": "password=xxxxx&remember=1&user=bob",
		"http.request.body.content": "user=bob&password=secret&remember=1",
		"http.request.body.bytes":   35, "http.request.mime_type": "text/plain",
		"http.response.headers.set-cookie.session": "s3cr3t",
		"http.response.headers.set-cookie.path":    "/",
	})
	// gzip'd JSON, decoded for body.content; body.bytes is the decoded size.
	expect(t, docs[3], map[string]any{
		"query": "GET /json", "http.response.body.content": `{"items":[1,2,3],"name":"gzip test"}`,
		"http.response.body.bytes": 36, "http.response.headers.content-length": 60,
	})
	off := replay(t, "goserver.pcap", map[string]any{"include_response_body_for": []any{"json"}, "decode_body": false})
	if c := protocoltest.Get(off[3], "http.response.body.content").(string); c[0] != 0x1f || protocoltest.Get(off[3], "http.response.body.bytes") != 60.0 {
		t.Errorf("decode_body false: want the 60 gzip bytes, got %q", c)
	}
	crossCheck(t, "goserver.pcap", replay(t, "goserver.pcap", nil), map[string]bool{"/chunked": true})
}

func TestClosePcap(t *testing.T) {
	docs := replay(t, "close.pcap", map[string]any{"include_body_for": []any{"text/plain"}})
	if len(docs) != 1 {
		t.Fatalf("got %d events, want 1", len(docs))
	}
	expect(t, docs[0], map[string]any{
		"query": "GET /old", "http.version": "1.0", "http.response.status_code": 200,
		"http.response.body.bytes": 123, "http.response.bytes": 190,
		"http.response.body.content": "body line 0, length comes from the close\nbody line 1, length comes from the close\nbody line 2, length comes from the close\n",
		"url.port":                   5000, "error": nil,
	})
	crossCheck(t, "close.pcap", docs, map[string]bool{"/old": true})
	if _, err := exec.LookPath("tshark"); err == nil {
		sums := tsharkPayloadBytes(t, "close.pcap", 5000)
		expect(t, docs[0], map[string]any{"source.bytes": sums["0in"], "destination.bytes": sums["0out"]})
	}
}
