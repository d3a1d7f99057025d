package sip

import (
	"bytes"
	"errors"
)

// Limits keep a hostile peer from making us buffer or loop without bound.
const (
	// MaxHeaderBytes bounds the start line plus headers: past it without a
	// blank line the data is not SIP we can decode.
	MaxHeaderBytes = 64 << 10
	// MaxBodyBytes bounds Content-Length.
	MaxBodyBytes = 1 << 20
	// MaxVia bounds the Via values kept; more are counted in Message.ViaDropped.
	MaxVia = 16
)

var (
	// ErrNeedMore: the message is incomplete (TCP waits, UDP reports it truncated).
	ErrNeedMore = errors.New("sip: incomplete message")
	// ErrStartLine: the first line is neither a request nor a status line.
	ErrStartLine = errors.New("sip: invalid start line")
	// ErrHeader: a header line without a colon.
	ErrHeader = errors.New("sip: malformed header line")
	// ErrTooLarge: headers or body beyond the limits.
	ErrTooLarge = errors.New("sip: message too large")
	// ErrContentLength: Content-Length is not a number.
	ErrContentLength = errors.New("sip: invalid Content-Length")
)

// Message is one parsed SIP message. Every slice points into the bytes
// given to Parse; nothing is copied.
type Message struct {
	Raw []byte // the whole message, start line to end of body

	IsRequest bool
	Method    []byte // requests
	URI       []byte // requests: Request-URI
	Version   []byte // "2.0"
	Code      int    // responses
	Reason    []byte // responses: reason phrase

	From, To, Contact, CallID, CSeq  []byte
	MaxForwards                      int
	HasMaxForwards                   bool
	UserAgent, ContentType, Accept   []byte
	Allow, Supported                 []byte // comma-separated lists
	PrivateURI                       []byte // P-Associated-URI (P-Asserted-Identity if absent)
	Authorization, ContentEncoding   []byte
	ContentLength                    int
	HasContentLength                 bool
	HasAuthorizationHdr, assertedURI bool

	Via        [MaxVia][]byte
	NVia       int
	ViaDropped int

	Body []byte
}

// Parse decodes the message at the start of data and returns its length.
// With stream set (TCP), the body is exactly Content-Length bytes (0 when
// absent) and a short read is ErrNeedMore; for a datagram a missing
// Content-Length means the body is the rest of the datagram.
// Leading CRLFs (keep-alives, RFC 5626) must be skipped by the caller.
func Parse(data []byte, m *Message, stream bool) (int, error) {
	*m = Message{}
	eol := bytes.IndexByte(data, '\n')
	if eol < 0 {
		if len(data) > MaxHeaderBytes {
			return 0, ErrTooLarge
		}
		// Reject early what can never become a start line, so a TCP
		// stream of garbage is not buffered up to the limit.
		if len(data) >= 8 && !plausibleStart(data) {
			return 0, ErrStartLine
		}
		return 0, ErrNeedMore
	}
	if err := m.startLine(trimCR(data[:eol])); err != nil {
		return 0, err
	}
	pos := eol + 1
	// Headers until the empty line. A line starting with SP/HT continues
	// the previous header (folding): the value then spans both lines.
	var name []byte
	valStart, valEnd := 0, 0
	for {
		if pos > MaxHeaderBytes {
			return 0, ErrTooLarge
		}
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			if len(data) > MaxHeaderBytes {
				return 0, ErrTooLarge
			}
			return 0, ErrNeedMore
		}
		line := trimCR(data[pos : pos+nl])
		next := pos + nl + 1
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && name != nil {
			// The value spans this line too; it still points into data.
			valEnd = pos + len(line)
			pos = next
			continue
		}
		if name != nil {
			if err := m.header(name, bytes.TrimSpace(data[valStart:valEnd])); err != nil {
				return 0, err
			}
			name = nil
		}
		if len(line) == 0 {
			pos = next
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, ErrHeader
		}
		name = bytes.TrimRight(line[:colon], " \t")
		valStart, valEnd = pos+colon+1, pos+len(line)
		pos = next
	}
	var end int
	switch {
	case m.HasContentLength:
		if m.ContentLength > MaxBodyBytes {
			return 0, ErrTooLarge
		}
		end = pos + m.ContentLength
		if end > len(data) {
			return 0, ErrNeedMore
		}
	case stream:
		end = pos
	default:
		end = len(data)
	}
	m.Body = data[pos:end]
	m.Raw = data[:end]
	return end, nil
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// plausibleStart tells whether data can begin a SIP start line: a status
// line or a method token (upper-case letters) followed by a space.
func plausibleStart(data []byte) bool {
	if bytes.HasPrefix(data, []byte("SIP/")) {
		return true
	}
	for i, c := range data {
		switch {
		case c == ' ' && i > 0:
			return true
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '-', c == '_', c == '.', c == '!', c == '%', c == '*', c == '+', c == '`', c == '\'', c == '~':
		default:
			return false
		}
	}
	return true
}

func (m *Message) startLine(line []byte) error {
	if rest, ok := bytes.CutPrefix(line, []byte("SIP/")); ok {
		// SIP/2.0 200 OK
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return ErrStartLine
		}
		m.Version = rest[:sp]
		rest = rest[sp+1:]
		if len(rest) < 3 {
			return ErrStartLine
		}
		code := 0
		for _, c := range rest[:3] {
			if c < '0' || c > '9' {
				return ErrStartLine
			}
			code = code*10 + int(c-'0')
		}
		if code < 100 || (len(rest) > 3 && rest[3] != ' ') {
			return ErrStartLine
		}
		m.Code = code
		if len(rest) > 4 {
			m.Reason = bytes.TrimSpace(rest[4:])
		}
		return nil
	}
	// INVITE sip:bob@example.com SIP/2.0
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return ErrStartLine
	}
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= sp1+1 {
		return ErrStartLine
	}
	ver, ok := bytes.CutPrefix(line[sp2+1:], []byte("SIP/"))
	if !ok || len(ver) == 0 {
		return ErrStartLine
	}
	for _, c := range line[:sp1] {
		if !isToken(c) {
			return ErrStartLine
		}
	}
	m.IsRequest = true
	m.Method = line[:sp1]
	m.URI = line[sp1+1 : sp2]
	m.Version = ver
	return nil
}

func isToken(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// header stores one header; names compare case-insensitively and compact
// forms (RFC 3261 7.3.3) map to their long names.
func (m *Message) header(name, value []byte) error {
	if len(name) == 1 {
		switch name[0] | 0x20 {
		case 'i':
			m.CallID = value
		case 'm':
			m.setContact(value)
		case 'e':
			m.ContentEncoding = value
		case 'l':
			return m.setContentLength(value)
		case 'c':
			m.ContentType = value
		case 'f':
			m.From = value
		case 't':
			m.To = value
		case 'v':
			m.addVia(value)
		case 'k':
			m.Supported = value
		}
		return nil
	}
	switch {
	case eqFold(name, "via"):
		m.addVia(value)
	case eqFold(name, "from"):
		m.From = value
	case eqFold(name, "to"):
		m.To = value
	case eqFold(name, "call-id"):
		m.CallID = value
	case eqFold(name, "cseq"):
		m.CSeq = value
	case eqFold(name, "contact"):
		m.setContact(value)
	case eqFold(name, "max-forwards"):
		if n, ok := atoi(value); ok {
			m.MaxForwards, m.HasMaxForwards = n, true
		}
	case eqFold(name, "user-agent"):
		m.UserAgent = value
	case eqFold(name, "content-type"):
		m.ContentType = value
	case eqFold(name, "content-length"):
		return m.setContentLength(value)
	case eqFold(name, "content-encoding"):
		m.ContentEncoding = value
	case eqFold(name, "accept"):
		if m.Accept == nil {
			m.Accept = value
		}
	case eqFold(name, "allow"):
		m.Allow = value
	case eqFold(name, "supported"):
		m.Supported = value
	case eqFold(name, "p-associated-uri"):
		if m.PrivateURI == nil || m.assertedURI {
			m.PrivateURI, m.assertedURI = value, false
		}
	case eqFold(name, "p-asserted-identity"), eqFold(name, "p-preferred-identity"):
		if m.PrivateURI == nil {
			m.PrivateURI, m.assertedURI = value, true
		}
	case eqFold(name, "authorization"):
		m.Authorization = value
		m.HasAuthorizationHdr = true
	case eqFold(name, "proxy-authorization"):
		if m.Authorization == nil {
			m.Authorization = value
		}
	}
	return nil
}

func (m *Message) setContact(v []byte) {
	// Several Contacts (a REGISTER's bindings): keep the first.
	if m.Contact == nil {
		if i := indexUnquoted(v, ','); i >= 0 {
			v = bytes.TrimSpace(v[:i])
		}
		m.Contact = v
	}
}

func (m *Message) setContentLength(v []byte) error {
	n, ok := atoi(v)
	if !ok {
		return ErrContentLength
	}
	m.ContentLength, m.HasContentLength = n, true
	return nil
}

// addVia keeps each Via value; one header may carry several, comma-separated.
func (m *Message) addVia(v []byte) {
	for len(v) > 0 {
		part := v
		i := indexUnquoted(v, ',')
		if i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		part = bytes.TrimSpace(part)
		if len(part) == 0 {
			continue
		}
		if m.NVia == MaxVia {
			m.ViaDropped++
			continue
		}
		m.Via[m.NVia] = part
		m.NVia++
	}
}

// indexUnquoted finds c outside double quotes and angle brackets.
func indexUnquoted(b []byte, c byte) int {
	inQ, inA := false, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			if inQ {
				i++
			}
		case '"':
			inQ = !inQ
		case '<':
			if !inQ {
				inA = true
			}
		case '>':
			if !inQ {
				inA = false
			}
		default:
			if b[i] == c && !inQ && !inA {
				return i
			}
		}
	}
	return -1
}

// eqFold compares b with the lower-case ASCII s, ignoring b's case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// atoi parses a non-negative decimal, surrounding blanks allowed, capped
// so it cannot overflow.
func atoi(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// URI is a parsed SIP/SIPS/TEL URI.
type URI struct {
	Original, Scheme, User, Host []byte
	Port                         int
	Params                       []byte // ";transport=udp;lr", without the leading ';'
}

// ParseURI splits scheme:user:password@host:port;params?headers.
func ParseURI(b []byte) URI {
	b = bytes.TrimSpace(b)
	u := URI{Original: b}
	colon := bytes.IndexByte(b, ':')
	if colon <= 0 {
		return u
	}
	u.Scheme = b[:colon]
	rest := b[colon+1:]
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	// User info ends at the last '@' before the parameters (a user part
	// may itself contain ';' in tel-style users, so look for '@' first).
	if at := bytes.LastIndexByte(rest, '@'); at >= 0 {
		user := rest[:at]
		if c := bytes.IndexByte(user, ':'); c >= 0 {
			user = user[:c] // drop the password
		}
		u.User = user
		rest = rest[at+1:]
	}
	if semi := bytes.IndexByte(rest, ';'); semi >= 0 {
		u.Params = rest[semi+1:]
		rest = rest[:semi]
	}
	host := rest
	if len(host) > 0 && host[0] == '[' {
		if e := bytes.IndexByte(host, ']'); e > 0 {
			u.Host = host[1:e]
			host = host[e+1:]
			if len(host) > 1 && host[0] == ':' {
				u.Port, _ = atoi(host[1:])
			}
			return u
		}
	}
	if c := bytes.LastIndexByte(host, ':'); c >= 0 {
		u.Port, _ = atoi(host[c+1:])
		host = host[:c]
	}
	u.Host = host
	return u
}

// NameAddr is a From/To/Contact value: display name, URI and header
// parameters (";tag=...;expires=...").
type NameAddr struct {
	Display []byte
	URI     URI
	Params  []byte
}

// ParseNameAddr parses `"Alice" <sip:alice@host>;tag=1` or the bare
// `sip:alice@host;tag=1` form (where parameters belong to the header).
func ParseNameAddr(b []byte) NameAddr {
	b = bytes.TrimSpace(b)
	var n NameAddr
	if lt := indexUnquoted(b, '<'); lt >= 0 || bytes.IndexByte(b, '<') >= 0 {
		if lt < 0 {
			lt = bytes.IndexByte(b, '<')
		}
		n.Display = bytes.Trim(b[:lt], "\"\t ")
		rest := b[lt+1:]
		gt := bytes.IndexByte(rest, '>')
		if gt < 0 {
			n.URI = ParseURI(rest)
			return n
		}
		n.URI = ParseURI(rest[:gt])
		if p := bytes.IndexByte(rest[gt+1:], ';'); p >= 0 {
			n.Params = rest[gt+1+p+1:]
		}
		return n
	}
	if semi := bytes.IndexByte(b, ';'); semi >= 0 {
		n.Params = b[semi+1:]
		b = b[:semi]
	}
	n.URI = ParseURI(b)
	return n
}

// Param returns the value of the named parameter in a ';'-separated list
// (name compared case-insensitively, lower-case name), and whether present.
func Param(params []byte, name string) ([]byte, bool) {
	for len(params) > 0 {
		p := params
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			params = nil
		}
		k, v, _ := bytes.Cut(p, []byte("="))
		if eqFold(bytes.TrimSpace(k), name) {
			return bytes.Trim(v, "\" \t"), true
		}
	}
	return nil, false
}

// Auth is the part of an Authorization header Packetbeat reports.
type Auth struct {
	Scheme, Realm, Username, URI []byte
}

// ParseAuth parses `Digest username="alice",realm="x",uri="sip:..."`.
func ParseAuth(b []byte) (Auth, bool) {
	b = bytes.TrimSpace(b)
	sp := bytes.IndexAny(b, " \t")
	if sp <= 0 {
		return Auth{}, false
	}
	a := Auth{Scheme: b[:sp]}
	rest := b[sp+1:]
	for len(rest) > 0 {
		p := rest
		if i := indexUnquoted(rest, ','); i >= 0 {
			p, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		k, v, ok := bytes.Cut(p, []byte("="))
		if !ok {
			continue
		}
		v = bytes.Trim(v, "'\" \t")
		switch k = bytes.TrimSpace(k); {
		case eqFold(k, "realm"):
			a.Realm = v
		case eqFold(k, "username"):
			a.Username = v
		case eqFold(k, "uri"):
			a.URI = v
		}
	}
	return a, true
}

// SDP holds the session-level SDP lines Packetbeat reports.
type SDP struct {
	Version, OwnerUser, OwnerSessID, OwnerVersion, OwnerIP []byte
	SessionName, ConnInfo, ConnAddr                        []byte
}

// ParseSDP reads v=, o=, s= and the session-level c= (a c= after the first
// m= belongs to a media description and is ignored).
func ParseSDP(body []byte) SDP {
	var s SDP
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = trimCR(line)
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		v := bytes.TrimSpace(line[2:])
		switch line[0] {
		case 'v':
			s.Version = v
		case 'o':
			// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr>
			var f [6][]byte
			n := fields(v, f[:])
			if n < 3 {
				continue
			}
			if !bytes.Equal(f[0], []byte("-")) {
				s.OwnerUser = f[0]
			}
			s.OwnerSessID, s.OwnerVersion = f[1], f[2]
			if n == 6 {
				s.OwnerIP = f[5]
			}
		case 's':
			if !bytes.Equal(v, []byte("-")) {
				s.SessionName = v
			}
		case 'c':
			if s.ConnInfo == nil {
				s.ConnInfo = v
				var f [3][]byte
				if n := fields(v, f[:]); n > 0 {
					s.ConnAddr = f[n-1]
				}
			}
		case 'm':
			return s
		}
	}
	return s
}

// fields splits on spaces into out, returning how many it filled; the
// last slot takes the rest of the line.
func fields(b []byte, out [][]byte) int {
	n := 0
	for len(b) > 0 && n < len(out) {
		b = bytes.TrimLeft(b, " \t")
		if len(b) == 0 {
			break
		}
		if n == len(out)-1 {
			out[n] = bytes.TrimSpace(b)
			return n + 1
		}
		i := bytes.IndexAny(b, " \t")
		if i < 0 {
			out[n] = b
			return n + 1
		}
		out[n] = b[:i]
		b = b[i:]
		n++
	}
	return n
}
