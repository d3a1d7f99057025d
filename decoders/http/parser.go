package http

import (
	"bytes"
	"errors"
	"time"
)

// parseState is where a direction's parser is within the byte stream.
type parseState uint8

const (
	stStart      parseState = iota // expecting a start line + header block
	stBody                         // Content-Length body: remaining bytes left
	stChunkSize                    // expecting a chunk-size line
	stChunkData                    // inside a chunk: remaining bytes left
	stChunkCRLF                    // expecting the CRLF after chunk data
	stTrailers                     // after the last chunk: trailer lines until an empty one
	stUntilClose                   // response body delimited by connection close
	stResync                       // lost framing (gap, parse error): protocol.Resync scans for the next message start
	stTunnel                       // CONNECT/Upgrade succeeded: the rest is not HTTP
)

// header is one header field as it appeared. Both slices alias message.raw
// unless the value was folded (obs-fold), in which case it owns its bytes.
type header struct {
	name, value []byte
}

// message is one parsed request or response. It is allocated once per
// message; every field slice aliases raw, the message's own copy of its
// start line and header block.
type message struct {
	ts        time.Time // first byte
	isRequest bool

	raw          []byte // start line + headers + the blank line
	major, minor uint8

	method, target []byte // request
	statusCode     int    // response
	phrase         []byte // response

	// Headers the event needs, whatever send_headers says.
	host, userAgent, referer, contentType, realIP, authorization []byte
	encodings                                                    [][]byte // content-coding tokens, in order applied
	contentLength                                                int64
	hasContentLength                                             bool
	chunked                                                      bool
	connClose, upgrade                                           bool
	upgradeH2C                                                   bool // Upgrade: h2c

	// headers holds what send_headers/send_all_headers asked for (nil otherwise).
	headers []header

	size      int64 // wire bytes: header block + body + chunk framing + trailers
	bodyBytes int64 // transfer-decoded body bytes, including bytes lost in gaps

	saveBody      bool   // keep body bytes (include_*_body_for, or urlencoded form)
	sendBody      bool   // body goes to body.content and the raw request/response
	body          []byte // kept body, at most max_message_size
	bodyTruncated bool
	bodyLost      bool // a gap fell inside the body

	notes []string

	// Pairing.
	req      *message // response: the request it answers
	answered bool     // request: a response already claimed it
	next     *message // FIFO link
}

var (
	errStartLine   = errors.New("invalid start line")
	errHeaderLine  = errors.New("invalid header line")
	errContentLen  = errors.New("invalid Content-Length")
	errChunkSize   = errors.New("invalid chunk size")
	errChunkCRLF   = errors.New("missing CRLF after chunk data")
	errLineTooLong = errors.New("line too long")
)

// headerEnd returns the length of the header block at the start of data
// (through the blank line), or -1 if it is not complete. from is where a
// previous scan stopped, so a header block trickling in over many segments
// is scanned once, not once per segment.
func headerEnd(data []byte, from int) int {
	for i := max(from, 0); i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		// Blank line: "\n" or "\r\n" right after the previous LF.
		if i < len(data) && data[i] == '\n' {
			return i + 1
		}
		if i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n' {
			return i + 2
		}
	}
	return -1
}

func isTokenChar(c byte) bool {
	// RFC 9110 tchar.
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

const maxMethodLen = 24

// startVerdict tells whether data can begin a message: yes, no, or not
// enough bytes yet. It lets garbage be rejected after a few bytes instead
// of waiting for a header block that never comes.
type startVerdict uint8

const (
	startMaybe startVerdict = iota
	startYes
	startNo
)

var httpSlash = []byte("HTTP/")

func checkStart(data []byte, isRequest bool) startVerdict {
	if !isRequest {
		n := min(len(data), len(httpSlash))
		if !bytes.Equal(data[:n], httpSlash[:n]) {
			return startNo
		}
		if n < len(httpSlash) {
			return startMaybe
		}
		return startYes
	}
	for i, c := range data {
		if c == ' ' {
			if i == 0 {
				return startNo
			}
			return startYes
		}
		// Methods are upper-case tokens in practice; accepting any token
		// would let text bodies look like requests after a gap.
		if !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') || i >= maxMethodLen {
			return startNo
		}
	}
	return startMaybe
}

// parseVersion parses "HTTP/d.d".
func parseVersion(b []byte) (major, minor uint8, ok bool) {
	if len(b) != 8 || !bytes.HasPrefix(b, httpSlash) || b[6] != '.' ||
		b[5] < '0' || b[5] > '9' || b[7] < '0' || b[7] > '9' {
		return 0, 0, false
	}
	return b[5] - '0', b[7] - '0', true
}

// nextLine splits the first line off b, dropping CRLF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseStartLine fills the request or response line fields.
func (m *message) parseStartLine(line []byte) error {
	if m.isRequest {
		sp1 := bytes.IndexByte(line, ' ')
		sp2 := bytes.LastIndexByte(line, ' ')
		if sp1 <= 0 || sp2 <= sp1 {
			return errStartLine
		}
		var ok bool
		if m.major, m.minor, ok = parseVersion(line[sp2+1:]); !ok {
			return errStartLine
		}
		m.method = line[:sp1]
		m.target = bytes.TrimSpace(line[sp1+1 : sp2])
		if len(m.target) == 0 {
			return errStartLine
		}
		return nil
	}
	if len(line) < 12 || line[8] != ' ' {
		return errStartLine
	}
	var ok bool
	if m.major, m.minor, ok = parseVersion(line[:8]); !ok {
		return errStartLine
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errStartLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return errStartLine
	}
	if len(line) > 12 && line[12] != ' ' {
		return errStartLine
	}
	m.statusCode = code
	if len(line) > 13 {
		m.phrase = trimOWS(line[13:])
	}
	return nil
}

// asciiEqualFold compares b with a lower-case ASCII name.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists tok
// (case-insensitive).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if asciiEqualFold(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseHeaders parses the header lines into scratch (reused across
// messages), then picks the fields the event needs. Folded lines (obs-fold)
// are joined to the previous value with one space.
func (m *message) parseHeaders(block []byte, scratch []header, cfg *settings) ([]header, error) {
	hs := scratch[:0]
	for len(block) > 0 {
		var line []byte
		line, block = nextLine(block)
		if len(line) == 0 {
			break // the blank line
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(hs) == 0 {
				return hs, errHeaderLine
			}
			prev := &hs[len(hs)-1]
			v := make([]byte, 0, len(prev.value)+1+len(line))
			v = append(append(append(v, prev.value...), ' '), trimOWS(line)...)
			prev.value = v
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return hs, errHeaderLine
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenChar(c) {
				return hs, errHeaderLine
			}
		}
		hs = append(hs, header{name: name, value: trimOWS(line[colon+1:])})
	}

	nsend := 0
	for i := range hs {
		h := &hs[i]
		switch len(h.name) {
		case 4:
			if asciiEqualFold(h.name, "host") {
				m.host = h.value
			}
		case 7:
			if asciiEqualFold(h.name, "referer") {
				m.referer = h.value
			} else if asciiEqualFold(h.name, "upgrade") {
				m.upgradeH2C = m.upgradeH2C || hasToken(h.value, "h2c")
			}
		case 10:
			if asciiEqualFold(h.name, "user-agent") {
				m.userAgent = h.value
			} else if asciiEqualFold(h.name, "connection") {
				m.connClose = m.connClose || hasToken(h.value, "close")
				m.upgrade = m.upgrade || hasToken(h.value, "upgrade")
			}
		case 12:
			if asciiEqualFold(h.name, "content-type") {
				m.contentType = h.value
			}
		case 13:
			if asciiEqualFold(h.name, "authorization") {
				m.authorization = h.value
			}
		case 14:
			if asciiEqualFold(h.name, "content-length") {
				n, ok := parseContentLength(h.value)
				if !ok || (m.hasContentLength && n != m.contentLength) {
					return hs, errContentLen
				}
				m.contentLength, m.hasContentLength = n, true
			}
		case 16:
			if asciiEqualFold(h.name, "content-encoding") {
				m.addEncodings(h.value)
			}
		case 17:
			if asciiEqualFold(h.name, "transfer-encoding") {
				// The last transfer coding decides the framing; codings
				// before "chunked" (rare) still have to be undone.
				v := h.value
				last := v
				if i := bytes.LastIndexByte(v, ','); i >= 0 {
					last, v = v[i+1:], v[:i]
				} else {
					v = nil
				}
				if asciiEqualFold(trimOWS(last), "chunked") {
					m.chunked = true
					m.addEncodings(v)
				} else {
					m.addEncodings(h.value)
				}
			}
		}
		if cfg.realIPHeader != "" && len(m.realIP) == 0 && asciiEqualFold(h.name, cfg.realIPHeader) {
			v := h.value
			if i := bytes.IndexByte(v, ','); i >= 0 {
				v = v[:i]
			}
			m.realIP = trimOWS(v)
		}
		if cfg.sendHeaders && cfg.sendsHeader(h.name) {
			nsend++
		}
	}
	if m.chunked {
		// RFC 9112 6.3: Transfer-Encoding overrides Content-Length.
		m.hasContentLength, m.contentLength = false, 0
	}
	if nsend > 0 {
		m.headers = make([]header, 0, nsend)
		for _, h := range hs {
			if cfg.sendsHeader(h.name) {
				m.headers = append(m.headers, h)
			}
		}
	}
	return hs, nil
}

func (m *message) addEncodings(v []byte) {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if item = trimOWS(item); len(item) > 0 && !asciiEqualFold(item, "identity") {
			m.encodings = append(m.encodings, item)
		}
	}
}

// sendsHeader reports whether send_headers/send_all_headers selects name.
func (cfg *settings) sendsHeader(name []byte) bool {
	if cfg.sendAllHeaders {
		return true
	}
	var buf [64]byte
	if len(name) > len(buf) {
		return false // no configured header name is that long
	}
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	// A string(bytes) map index does not allocate.
	return cfg.headerAllow[string(buf[:len(name)])]
}

// parseChunkSize parses a chunk-size line ("1a2b;ext=1").
func parseChunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 12 { // 12 hex digits: 256 TiB, plenty
		return 0, errChunkSize
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, errChunkSize
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// contentTypeMatches reports whether ct contains one of the configured
// substrings (case-insensitive), as include_body_for does in Packetbeat.
func contentTypeMatches(ct []byte, list [][]byte) bool {
	if len(ct) == 0 || len(list) == 0 {
		return false
	}
	var buf [128]byte
	lower := buf[:0]
	if len(ct) > len(buf) {
		lower = make([]byte, 0, len(ct))
	}
	for _, c := range ct {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, s := range list {
		if bytes.Contains(lower, s) {
			return true
		}
	}
	return false
}
