package http

import (
	"bytes"
	"encoding/base64"
	nethttp "net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/network-traffic/network-traffic/decoders/http/h2"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one HTTP transaction: a request and its response, or one of them
// alone (unmatched). It is built once per transaction; WriteFields writes
// straight from the parsed messages.
type Event struct {
	Base ecsmap.Base
	cfg  *settings
	Req  *message // nil for an unmatched response
	Resp *message // nil for an unmatched request
	// H2 is the HTTP/2 stream the event comes from (nil for HTTP/1.x).
	H2 *h2.Stream

	// Derived from the request.
	Domain    string // Host header (or absolute URI) without port
	Port      int    // Host header port, else the server port
	URLPath   string // decoded path
	URLQuery  string // parameters, hide_keywords applied (Packetbeat's params)
	UserName  string // from Basic credentials, unless redact_authorization
	reqBody   []byte // body.content after decode_body (nil when not sent)
	respBody  []byte
	bodyNotes []string

	// ForwardedIP is the first address of real_ip_header. Packetbeat
	// writes it as network.forwarded_ip (and in related.ip); the network
	// group belongs to ecsmap.Encode, which has no field for it yet.
	ForwardedIP string

	// Backing arrays for Base.RelatedHosts and RelatedUsers, so the one
	// value each gets costs no allocation of its own.
	relatedHost, relatedUser [1]string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, req, resp *message) *Event {
	e := &Event{cfg: cfg, Req: req, Resp: resp}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "http"
	b.Status = "OK"
	if req == nil || resp == nil || resp.statusCode >= 400 {
		b.Status = "Error"
	}
	if req != nil {
		b.Start = req.ts
		if resp != nil {
			b.End = resp.ts
		}
		b.Source.Bytes = req.size
		e.fromRequest(conn)
		b.Notes = append(b.Notes, req.notes...)
		if resp == nil {
			b.Notes = append(b.Notes, "Unmatched request")
		}
		if cfg.common.SendRequest {
			b.Request = rawText(req, req.sendBody)
		}
	} else {
		b.Start = resp.ts
	}
	if resp != nil {
		b.Destination.Bytes = resp.size
		if resp.sendBody && len(resp.body) > 0 {
			e.respBody = e.decode(resp)
		}
		b.Notes = append(b.Notes, resp.notes...)
		if req == nil {
			b.Notes = append(b.Notes, "Unmatched response")
		}
		if cfg.common.SendResponse {
			b.Response = rawText(resp, resp.sendBody)
		}
	}
	b.Notes = append(b.Notes, e.bodyNotes...)
	return e
}

func rawText(m *message, withBody bool) string {
	if !withBody {
		return string(m.raw)
	}
	var sb strings.Builder
	sb.Grow(len(m.raw) + len(m.body))
	sb.Write(m.raw)
	sb.Write(m.body)
	return sb.String()
}

// fromRequest fills the summary fields and URL parts.
func (e *Event) fromRequest(conn *protocol.Conn) {
	req, b := e.Req, &e.Base
	method := bstr(req.method) // the message's bytes, which the event keeps
	b.Method = lowerMethod(method)

	// parsed: the target parsed as a URL (its Host and RawQuery are used).
	var parsed bool
	var urlHost, rawQuery string
	if asciiEqualFold(req.method, "connect") {
		// authority-form: "host:port" is the whole target.
		e.Domain, e.Port = splitHostPort(string(req.target))
	} else {
		if path, query, ok := plainOriginForm(req.target); ok {
			// What url.Parse would return, without copying the target
			// (it lives in the message's own bytes, as long as the event).
			parsed, e.URLPath, rawQuery = true, bstr(path), bstr(query)
		} else if u, err := url.Parse(string(req.target)); err == nil {
			parsed, e.URLPath, urlHost, rawQuery = true, u.Path, u.Host, u.RawQuery
		} else {
			p := string(req.target)
			if i := strings.IndexByte(p, '?'); i >= 0 {
				p = p[:i]
			}
			e.URLPath = p
		}
	}
	hostSrc := bstr(req.host) // the message's bytes, which the event keeps
	if hostSrc == "" && parsed {
		hostSrc = urlHost
	}
	if hostSrc != "" {
		e.Domain, e.Port = splitHostPort(hostSrc)
	}
	srvPort := int(conn.Server.Port())
	if e.Port == 0 {
		e.Port = srvPort
	} else if e.Port != srvPort && !asciiEqualFold(req.method, "connect") {
		req.notes = append(req.notes, "Host header port number mismatch")
	}
	if e.Domain != "" && !looksLikeIP(e.Domain) {
		b.Destination.Domain = e.Domain
	}
	if e.URLPath != "" {
		b.Path = e.URLPath
		b.Query = startLinePrefix(req.raw, method, e.URLPath)
	} else {
		b.Query = method + " " + string(req.target)
	}

	if req.sendBody && len(req.body) > 0 {
		e.reqBody = e.decode(req)
	}
	var form []byte
	if req.saveBody && !req.bodyTruncated && bytes.Contains(bytes.ToLower(req.contentType), []byte("urlencoded")) {
		form = req.body
		if e.reqBody != nil {
			form = e.reqBody
		}
	}
	e.URLQuery = e.params(rawQuery, form)

	if len(req.realIP) > 0 {
		if a, err := netip.ParseAddr(string(req.realIP)); err == nil {
			e.ForwardedIP = a.String()
		} else {
			e.ForwardedIP = string(req.realIP)
		}
	}
	if !e.cfg.redactAuth {
		e.UserName = basicUser(req.authorization)
	}
	b.ForwardedIP = e.ForwardedIP
	if e.Domain != "" {
		e.relatedHost[0] = e.Domain
		b.RelatedHosts = e.relatedHost[:]
	}
	if e.UserName != "" {
		e.relatedUser[0] = e.UserName
		b.RelatedUsers = e.relatedUser[:]
	}
}

// looksLikeIP tells an address from a name without netip.ParseAddr's
// error allocation for every name.
func looksLikeIP(h string) bool {
	if strings.IndexByte(h, ':') >= 0 {
		_, err := netip.ParseAddr(h)
		return err == nil
	}
	for i := range len(h) {
		if c := h[i]; (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// splitHostPort splits a Host header value; a missing or invalid port is 0.
func splitHostPort(h string) (string, int) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", 0
	}
	if strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[") {
		return h, 0 // bare IPv6 without brackets
	}
	port := 0
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		if n, err := strconv.Atoi(h[i+1:]); err == nil && n > 0 && n < 65536 {
			port = n
		}
		h = h[:i]
	}
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h, port
}

// params rebuilds the query string with hide_keywords values replaced by
// "xxxxx" and, for url-encoded form posts, the form parameters merged in
// (Packetbeat's http.request.params, written as url.query). Parameter
// names come out sorted, as url.Values.Encode does.
func (e *Event) params(rawQuery string, form []byte) string {
	if rawQuery == "" && len(form) == 0 {
		return ""
	}
	if len(e.cfg.hideKeywords) == 0 && len(form) == 0 {
		return rawQuery
	}
	vals, _ := url.ParseQuery(rawQuery) // keep what parses, like net/url
	if len(form) > 0 {
		fv, _ := url.ParseQuery(string(form))
		for k, v := range fv {
			vals[k] = v
		}
	}
	for k, vs := range vals {
		if e.cfg.isSecret(k) {
			for i := range vs {
				vs[i] = "xxxxx"
			}
		}
	}
	return vals.Encode()
}

func (cfg *settings) isSecret(key string) bool {
	for _, kw := range cfg.hideKeywords {
		if strings.EqualFold(key, kw) {
			return true
		}
	}
	return false
}

// basicUser returns the user name of Basic credentials.
func basicUser(auth []byte) string {
	const prefix = "basic "
	if len(auth) <= len(prefix) || !asciiEqualFold(auth[:len(prefix)], prefix) {
		return ""
	}
	enc := bytes.TrimSpace(auth[len(prefix):])
	// Sized for the unpadded fallback, which needs more room than
	// StdEncoding.DecodedLen gives for short input.
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(enc))+3)
	n, err := base64.StdEncoding.Decode(dec, enc)
	if err != nil {
		n, err = base64.RawStdEncoding.Decode(dec, enc)
		if err != nil {
			return ""
		}
	}
	user, _, ok := bytes.Cut(dec[:n], []byte{':'})
	if !ok {
		return ""
	}
	return string(user)
}

// decode returns the body to report, undoing content codings when
// decode_body is on.
func (e *Event) decode(m *message) []byte {
	if !e.cfg.decodeBody || len(m.encodings) == 0 {
		return m.body
	}
	out, err := decodeBody(m.body, m.encodings, e.cfg.maxMessageSize)
	if err != nil {
		e.bodyNotes = append(e.bodyNotes, err.Error())
	}
	return out
}

// bstr views b as a string for the duration of a Writer call, which copies
// it into its buffer at once; it saves an allocation per header name.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// startLinePrefix returns method + " " + path, Packetbeat's query. The
// request line usually starts with exactly that ("GET /a?b HTTP/1.1"), so
// it is taken from the message's bytes (which the event keeps) when they
// match, and built otherwise.
func startLinePrefix(raw []byte, method, path string) string {
	n := len(method) + 1 + len(path)
	if len(raw) >= n && raw[len(method)] == ' ' &&
		bstr(raw[:len(method)]) == method && bstr(raw[len(method)+1:n]) == path {
		return bstr(raw[:n])
	}
	return method + " " + path
}

// lowerMethod is method in lower case; the common methods cost no allocation.
func lowerMethod(m string) string {
	switch m {
	case "GET":
		return "get"
	case "POST":
		return "post"
	case "PUT":
		return "put"
	case "HEAD":
		return "head"
	case "DELETE":
		return "delete"
	case "OPTIONS":
		return "options"
	case "PATCH":
		return "patch"
	}
	return strings.ToLower(m)
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// plainOriginForm splits the usual request target, "/path?query", when
// url.Parse would return exactly its Path and RawQuery: it starts with one
// '/', and has no percent-escapes, fragment, control characters or spaces.
func plainOriginForm(t []byte) (path, query []byte, ok bool) {
	if len(t) == 0 || t[0] != '/' || (len(t) > 1 && t[1] == '/') {
		return nil, nil, false
	}
	q := -1
	for i, c := range t {
		switch {
		case c <= ' ' || c == 0x7f || c == '%' || c == '#':
			return nil, nil, false
		case c == '?' && q < 0:
			q = i
		}
	}
	if q < 0 {
		return t, nil, true
	}
	return t[:q], t[q+1:], true
}

// WriteFields implements ecsmap.Event: http, url, user_agent and user.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	req, resp := e.Req, e.Resp
	w.Object("http")
	v := req
	if v == nil {
		v = resp
	}
	if e.H2 != nil {
		w.Str("version", "2") // RFC 9113: "HTTP/2", no minor version
	} else {
		var ver [3]byte
		ver[0], ver[1], ver[2] = '0'+v.major, '.', '0'+v.minor
		w.Str("version", bstr(ver[:]))
	}
	// writeHeaders lets its scratch escape, so a stack array would cost an
	// allocation per event: borrow one instead.
	sp := scratchPool.Get().(*[]byte)
	scratch := (*sp)[:0]
	defer func() {
		if cap(scratch) <= 4096 {
			*sp = scratch[:0]
			scratchPool.Put(sp)
		}
	}()
	if req != nil {
		w.Object("request")
		w.Str("method", e.Base.Method)
		w.Int("bytes", req.size)
		e.writeBody(w, req, e.reqBody)
		scratch = e.writeHeaders(w, req, scratch)
		if len(req.referrer()) > 0 {
			w.Bytes("referrer", req.referer)
		}
		if e.reqBody != nil {
			w.Str("mime_type", sniff(e.reqBody))
		}
		w.End()
	}
	if resp != nil {
		w.Object("response")
		w.Int("status_code", int64(resp.statusCode))
		if len(resp.phrase) > 0 {
			scratch = appendLower(scratch[:0], resp.phrase)
			w.Str("status_phrase", bstr(scratch))
		}
		w.Int("bytes", resp.size)
		e.writeBody(w, resp, e.respBody)
		scratch = e.writeHeaders(w, resp, scratch)
		if e.respBody != nil {
			w.Str("mime_type", sniff(e.respBody))
		}
		w.End()
	}
	w.End()
	if e.H2 != nil {
		e.writeH2(w)
	}

	if req == nil {
		return
	}
	w.Object("url")
	w.Str("scheme", "http")
	w.OptStr("domain", e.Domain)
	if e.Port != 80 && e.Port != 0 {
		w.Int("port", int64(e.Port))
	}
	w.OptStr("path", e.URLPath)
	w.OptStr("query", e.URLQuery)
	if ext := extension(e.URLPath); ext != "" {
		w.Str("extension", ext)
	}
	if e.Domain != "" {
		scratch = e.appendFullURL(scratch[:0])
		w.Bytes("full", scratch)
	}
	w.End()
	if len(req.userAgent) > 0 {
		w.Object("user_agent")
		w.Bytes("original", req.userAgent)
		w.End()
	}
	if e.UserName != "" {
		w.Object("user")
		w.Str("name", e.UserName)
		w.End()
	}
}

func (m *message) referrer() []byte { return m.referer }

func sniff(body []byte) string {
	ct := nethttp.DetectContentType(body)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return ct
}

// writeBody writes body.bytes (the declared or counted length, or the
// decoded length when the content is sent, as Packetbeat does) and
// body.content.
func (e *Event) writeBody(w *ecsmap.Writer, m *message, content []byte) {
	n := m.bodyLen()
	if content != nil {
		n = int64(len(content))
	}
	if n == 0 {
		return
	}
	w.Object("body")
	w.Int("bytes", n)
	if content != nil {
		w.Bytes("content", content)
	}
	w.End()
}

// bodyLen is the Content-Length when declared (HEAD responses declare a
// length they do not send), else the transfer-decoded bytes counted.
func (m *message) bodyLen() int64 {
	if m.hasContentLength {
		return m.contentLength
	}
	return m.bodyBytes
}

func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// writeHeaders writes the headers object: content-length and content-type
// always (as Packetbeat), then what send_headers selects, lower-cased,
// repeated fields joined with ", ", redactions and split_cookie applied.
func (e *Event) writeHeaders(w *ecsmap.Writer, m *message, scratch []byte) []byte {
	cfg := e.cfg
	w.Object("headers")
	w.Int("content-length", m.bodyLen())
	if len(m.contentType) > 0 {
		w.Bytes("content-type", m.contentType)
	}
	cookie := "cookie"
	if !m.isRequest {
		cookie = "set-cookie"
	}
	for i, h := range m.headers {
		if asciiEqualFold(h.name, "content-length") || asciiEqualFold(h.name, "content-type") {
			continue
		}
		seen := false
		for _, p := range m.headers[:i] {
			if bytes.EqualFold(p.name, h.name) {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		scratch = appendLower(scratch[:0], h.name)
		nameEnd := len(scratch)
		name := scratch[:nameEnd]
		switch {
		case m.isRequest && cfg.redactAuth &&
			(asciiEqualFold(name, "authorization") || asciiEqualFold(name, "proxy-authorization")):
			w.Str(bstr(name), "*")
		case cfg.redact[bstr(name)]:
			w.Str(bstr(name), "REDACTED")
		case cfg.splitCookie && asciiEqualFold(name, cookie):
			scratch = append(scratch, h.value...)
			writeCookies(w, bstr(scratch[:nameEnd]), scratch[nameEnd:])
		default:
			// Join repeated fields in order.
			for _, p := range m.headers[i:] {
				if !bytes.EqualFold(p.name, h.name) {
					continue
				}
				if len(scratch) > nameEnd {
					scratch = append(scratch, ", "...)
				}
				scratch = append(scratch, p.value...)
			}
			w.Bytes(bstr(scratch[:nameEnd]), scratch[nameEnd:])
		}
	}
	w.End()
	return scratch
}

// writeCookies writes "a=1; b=2" as {"a":"1","b":"2"}: names lower-cased,
// quotes stripped, the last of duplicate names kept (JSON keys must be
// unique).
func writeCookies(w *ecsmap.Writer, key string, v []byte) {
	type kv struct{ k, v []byte }
	var pairs []kv
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		name, val, ok := bytes.Cut(item, []byte{'='})
		if !ok {
			continue
		}
		name = bytes.ToLower(bytes.TrimSpace(name))
		val = bytes.TrimSpace(val)
		if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if len(name) > 0 {
			pairs = append(pairs, kv{name, val})
		}
	}
	w.Object(key)
	for i, p := range pairs {
		last := true
		for _, q := range pairs[i+1:] {
			if bytes.Equal(q.k, p.k) {
				last = false
				break
			}
		}
		if last {
			w.Bytes(bstr(p.k), p.v)
		}
	}
	w.End()
}

// extension is the part after the last dot of the last path segment.
func extension(path string) string {
	seg := path[strings.LastIndexByte(path, '/')+1:]
	if i := strings.LastIndexByte(seg, '.'); i >= 0 && i < len(seg)-1 {
		return seg[i+1:]
	}
	return ""
}

// appendFullURL rebuilds url.full from the parts (Domain must be set).
func (e *Event) appendFullURL(b []byte) []byte {
	b = append(b, "http://"...)
	if strings.IndexByte(e.Domain, ':') >= 0 {
		b = append(append(append(b, '['), e.Domain...), ']')
	} else {
		b = append(b, e.Domain...)
	}
	if e.Port != 80 && e.Port != 0 {
		b = strconv.AppendInt(append(b, ':'), int64(e.Port), 10)
	}
	if pathIsClean(e.URLPath) {
		b = append(b, e.URLPath...)
	} else {
		b = append(b, (&url.URL{Path: e.URLPath}).EscapedPath()...)
	}
	if e.URLQuery != "" {
		b = append(append(b, '?'), e.URLQuery...)
	}
	return b
}

// pathIsClean reports whether p needs no percent-encoding in a URL.
func pathIsClean(p string) bool {
	for i := range len(p) {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/-._~!$&'()*+,;=:@", c) >= 0:
		default:
			return false
		}
	}
	return true
}
