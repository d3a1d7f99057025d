package http

import (
	"bytes"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/net/http2/hpack"

	"github.com/network-traffic/network-traffic/decoders/http/h2"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// startH2 switches the connection to HTTP/2: whatever HTTP/1 state there
// was is dropped (a preface or a 101 ends it).
func (c *connection) startH2() {
	c.h2 = h2.NewConn(h2.Limits{}, &c.p.stats.H2, c.publishStream)
	cfg := c.p.cfg
	c.h2.KeepBody = func(s *h2.Stream, dir uint8) int {
		ct := fieldValue(s, dir, "content-type")
		if dir == 0 {
			// As for HTTP/1: include_*body_for, and url-encoded forms
			// whose parameters go to url.query.
			if contentTypeMatches(ct, cfg.reqBodyFor) || bytes.Contains(ct, urlencoded) {
				return cfg.maxMessageSize
			}
			return 0
		}
		if contentTypeMatches(ct, cfg.respBodyFor) {
			return cfg.maxMessageSize
		}
		return 0
	}
	for i := range c.streams {
		c.streams[i].state, c.streams[i].msg = stStart, nil
	}
}

var urlencoded = []byte("urlencoded")

// publishStream turns a finished HTTP/2 stream into an http event. Its
// header lists are written out in HTTP/1 form and parsed by the HTTP/1
// header code, so send_headers, redact_*, split_cookie, real_ip_header and
// the raw request/response text behave exactly as for HTTP/1.
func (c *connection) publishStream(s *h2.Stream) {
	cfg := c.p.cfg
	var req, resp *message
	if s.Req.HasHeaders {
		req = c.h2Message(s, &s.Req, true)
	}
	if s.Resp.HasHeaders {
		resp = c.h2Message(s, &s.Resp, false)
		if req != nil {
			resp.req = req
		}
	}
	if req == nil && resp == nil {
		return // reset or cut before any header list: nothing to say
	}
	ev := newEvent(cfg, &c.conn, req, resp)
	ev.H2 = s
	b := &ev.Base
	if resp != nil && !s.Resp.End.IsZero() {
		// The stream's end, not the response's first frame: for a
		// streaming call that is the call's duration.
		b.End = s.Resp.End
	}
	if s.Reset && (s.ResetCode != 0 || !s.Resp.EndStream) {
		b.Status = "Error"
		by := "client"
		if s.ResetBy == 1 {
			by = "server"
		}
		b.Notes = append(b.Notes, "HTTP/2 stream reset by "+by+": "+h2.ErrorCodeName(s.ResetCode))
	}
	if s.GoAway && s.GoAwayCode != 0 {
		b.Notes = append(b.Notes, "HTTP/2 GOAWAY: "+h2.ErrorCodeName(s.GoAwayCode))
	}
	if s.GRPC && s.HasGRPCStatus && s.GRPCStatus != 0 {
		b.Status = "Error"
	}
	b.Notes = append(b.Notes, s.Notes...)
	c.p.pub.Publish(ev)
}

// h2Message builds the message of one direction of s.
func (c *connection) h2Message(s *h2.Stream, hm *h2.Message, isRequest bool) *message {
	cfg := c.p.cfg
	raw := make([]byte, 0, 256)
	if isRequest {
		method, target := s.Method, s.Path
		if method == "" {
			method = "-"
		}
		if target == "" {
			target = s.Authority // CONNECT has no :path
		}
		if target == "" {
			target = "*"
		}
		raw = append(append(append(append(raw, sanitize(method)...), ' '), sanitize(target)...), " HTTP/2.0\r\n"...)
		if s.Authority != "" {
			raw = append(append(append(raw, "host: "...), sanitize(s.Authority)...), "\r\n"...)
		}
	} else {
		raw = append(raw, "HTTP/2.0 "...)
		code := s.Status
		if code < 100 || code > 999 {
			code = 999 // no valid :status: the event says so in a note
		}
		raw = append(strconv.AppendInt(raw, int64(code), 10), "\r\n"...)
	}
	// RFC 9113 8.2.3: a split cookie header is joined with "; ".
	cookies := 0
	for _, f := range hm.Fields {
		switch {
		case len(f.Name) == 0 || f.Name[0] == ':':
			continue
		case f.Name == "host" && s.Authority != "":
			continue
		case f.Name == "cookie":
			if cookies == 0 {
				raw = append(raw, "cookie: "...)
				for _, g := range hm.Fields {
					if g.Name == "cookie" {
						if cookies > 0 {
							raw = append(raw, "; "...)
						}
						raw = append(raw, sanitize(g.Value)...)
						cookies++
					}
				}
				raw = append(raw, "\r\n"...)
			}
			continue
		case !validName(f.Name):
			continue
		}
		raw = append(append(append(append(raw, f.Name...), ": "...), sanitize(f.Value)...), "\r\n"...)
	}
	raw = append(raw, "\r\n"...)

	m := &message{ts: hm.Start, isRequest: isRequest, raw: raw}
	line, rest := nextLine(raw)
	if err := m.parseStartLine(line); err != nil {
		m.notes = append(m.notes, "HTTP/2 header list: "+err.Error())
	}
	var err error
	c.streams[0].scratch, err = m.parseHeaders(rest, c.streams[0].scratch, cfg)
	clear(c.streams[0].scratch)
	if err != nil {
		m.notes = append(m.notes, "HTTP/2 header list: "+err.Error())
	}
	if !isRequest && (s.Status < 100 || s.Status > 999) {
		m.notes = append(m.notes, "HTTP/2 response without a valid :status")
	}
	m.size = hm.Bytes
	m.bodyBytes = hm.DataBytes
	if isRequest {
		m.sendBody = contentTypeMatches(m.contentType, cfg.reqBodyFor)
		m.saveBody = m.sendBody || bytes.Contains(m.contentType, []byte("urlencoded"))
	} else {
		m.sendBody = contentTypeMatches(m.contentType, cfg.respBodyFor)
		m.saveBody = m.sendBody
	}
	if m.saveBody {
		m.body, m.bodyTruncated = hm.Body, hm.BodyTruncated
		if m.bodyTruncated {
			m.notes = append(m.notes, "Body truncated at max_message_size")
			c.p.stats.BodiesTruncated.Add(1)
		}
	}
	if isRequest {
		c.redact(m)
	}
	return m
}

// fieldValue is the value of a regular header field of dir's list.
func fieldValue(s *h2.Stream, dir uint8, name string) []byte {
	m := &s.Req
	if dir == 1 {
		m = &s.Resp
	}
	for _, f := range m.Fields {
		if f.Name == name {
			// Read-only view: contentTypeMatches copies what it keeps.
			return unsafe.Slice(unsafe.StringData(f.Value), len(f.Value))
		}
	}
	return nil
}

// sanitize keeps a decoded value on one header line. HPACK can carry any
// octet, but CR, LF and NUL are malformed in a field value (RFC 9113
// 8.2.1); such a value is written with spaces for them.
func sanitize(v string) string {
	if strings.IndexFunc(v, func(r rune) bool { return r == '\r' || r == '\n' || r == 0 }) < 0 {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, v)
}

func validName(n string) bool {
	for i := range len(n) {
		if !isTokenChar(n[i]) {
			return false
		}
	}
	return true
}

// h2Fields gives the HTTP/1.1 request that asked for Upgrade: h2c in the
// form HTTP/2 would have carried it: pseudo-header fields from the request
// line and Host, names lower-cased, connection-specific fields left out
// (RFC 9113 8.2.2).
func h2Fields(m *message) []hpack.HeaderField {
	fields := []hpack.HeaderField{
		{Name: ":method", Value: string(m.method)},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: string(m.target)},
	}
	if len(m.host) > 0 {
		fields = append(fields, hpack.HeaderField{Name: ":authority", Value: string(m.host)})
	}
	_, rest := nextLine(m.raw)
	for len(rest) > 0 {
		var line []byte
		line, rest = nextLine(rest)
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			continue
		}
		n := strings.ToLower(string(name))
		switch n {
		case "host", "connection", "upgrade", "http2-settings", "keep-alive", "proxy-connection", "transfer-encoding":
			continue
		}
		fields = append(fields, hpack.HeaderField{Name: n, Value: string(trimOWS(value))})
	}
	return fields
}

// writeH2 writes the http2 and grpc objects of an HTTP/2 stream.
func (e *Event) writeH2(w *ecsmap.Writer) {
	s := e.H2
	w.Object("http2")
	w.Int("stream_id", int64(s.ID))
	if s.Upgraded {
		w.Bool("upgraded", true)
	}
	if s.Pushed {
		w.Bool("pushed", true)
	}
	if s.Reset {
		w.Object("reset")
		w.Str("error_code", h2.ErrorCodeName(s.ResetCode))
		if s.ResetBy == 0 {
			w.Str("by", "client")
		} else {
			w.Str("by", "server")
		}
		w.End()
	}
	if s.GoAway {
		w.Object("goaway")
		w.Str("error_code", h2.ErrorCodeName(s.GoAwayCode))
		w.End()
	}
	w.End()
	if !s.GRPC {
		return
	}
	w.Object("grpc")
	w.OptStr("service", s.GRPCService)
	w.OptStr("method", s.GRPCMethod)
	if s.HasGRPCStatus {
		w.Int("status_code", int64(s.GRPCStatus))
		w.Str("status", h2.GRPCStatusName(s.GRPCStatus))
	}
	w.OptStr("message", s.GRPCMessage)
	if s.GRPCTimeout > 0 {
		w.Int("timeout", int64(s.GRPCTimeout))
	}
	for dir, key := range [2]string{"request", "response"} {
		m := &s.Req
		if dir == 1 {
			m = &s.Resp
		}
		w.Object(key)
		w.Int("messages", int64(m.Messages))
		w.Int("compressed_messages", int64(m.Compressed))
		w.OptStr("encoding", s.GRPCEncoding[dir])
		w.End()
	}
	w.End()
}
