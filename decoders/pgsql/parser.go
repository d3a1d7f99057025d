package pgsql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
)

// Wire constants (PostgreSQL protocol 3.0, "Message Formats").
const (
	codeCancel   = 80877102 // CancelRequest
	codeSSL      = 80877103 // SSLRequest
	codeGSSENC   = 80877104 // GSSENCRequest
	protoMajor3  = 3        // StartupMessage protocol version 3.x (major in the high 16 bits)
	maxStartup   = 10000    // the server's MAX_STARTUP_PACKET_LENGTH
	maxMessage   = 1 << 30  // the server refuses anything larger (MaxAllocSize)
	headerLen    = 5        // type byte + int32 length
	readyLen     = 5        // ReadyForQuery's length field
	maxParsed    = 1 << 20  // message bodies we read are buffered up to this; the rest is skipped
	maxStmts     = 1024     // statements waiting for results per connection
	maxPrepared  = 256      // named statements or portals remembered per connection
	maxResyncLen = 64 << 10 // a resynchronising client message must be at most this long
)

var (
	errType   = errors.New("unknown message type")
	errLength = errors.New("invalid message length")
	errBody   = errors.New("malformed message body")
)

// Frontend (client) message types.
func clientType(t byte) bool {
	switch t {
	case 'B', 'C', 'd', 'c', 'f', 'D', 'E', 'H', 'F', 'P', 'p', 'Q', 'S', 'X':
		return true
	}
	return false
}

// Backend (server) message types.
func serverType(t byte) bool {
	switch t {
	case 'R', 'K', '2', '3', 'C', 'd', 'c', 'G', 'H', 'W', 'D', 'I', 'E', 'V', 'v',
		'n', 'N', 'A', 't', 'T', 'S', '1', 's', 'Z':
		return true
	}
	return false
}

// fixedLength is the only valid length of messages that carry no body.
func fixedLength(dir, t byte) int {
	if dir == 0 {
		switch t {
		case 'S', 'H', 'c', 'X':
			return 4
		}
		return 0
	}
	switch t {
	case '1', '2', '3', 'n', 'I', 'c':
		return 4
	case 'Z':
		return readyLen
	case 'K':
		return 12
	}
	return 0
}

// header reads a typed message header. ok is false when it cannot start a
// message of direction dir (0 client, 1 server).
func header(dir byte, b []byte) (t byte, length int, err error) {
	t = b[0]
	valid := clientType(t)
	if dir == 1 {
		valid = serverType(t)
	}
	if !valid {
		return t, 0, errType
	}
	l := binary.BigEndian.Uint32(b[1:5])
	if l < 4 || l > maxMessage {
		return t, 0, errLength
	}
	if f := fixedLength(dir, t); f != 0 && int(l) != f {
		return t, 0, errLength
	}
	return t, int(l), nil
}

// cstring returns the NUL-terminated string at the start of b and the rest
// after the NUL; ok is false when there is no NUL.
func cstring(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

// errorFields holds what ErrorResponse carries that we report.
type errorFields struct {
	severity, code, message []byte
}

// parseErrorFields reads the (type byte, cstring) pairs of an
// ErrorResponse or NoticeResponse. A truncated body yields what it has.
func parseErrorFields(b []byte) errorFields {
	var f errorFields
	var nonLocalized []byte
	for len(b) > 0 && b[0] != 0 {
		t := b[0]
		v, rest, ok := cstring(b[1:])
		switch t {
		case 'S':
			f.severity = v
		case 'V':
			nonLocalized = v
		case 'C':
			f.code = v
		case 'M':
			f.message = v
		}
		if !ok {
			break
		}
		b = rest
	}
	if len(f.severity) == 0 {
		f.severity = nonLocalized
	}
	return f
}

// rowDescription reads the field count of a RowDescription and, when
// names is true, each field's name and format code.
func rowDescription(b []byte, names bool) (n int, fields []string, formats []int16, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errBody
	}
	n = int(binary.BigEndian.Uint16(b))
	if !names {
		return n, nil, nil, nil
	}
	b = b[2:]
	fields = make([]string, 0, min(n, 64))
	formats = make([]int16, 0, min(n, 64))
	for range n {
		name, rest, ok := cstring(b)
		// table OID 4, column 2, type OID 4, type size 2, modifier 4, format 2
		if !ok || len(rest) < 18 {
			return n, fields, formats, errBody
		}
		fields = append(fields, string(name))
		formats = append(formats, int16(binary.BigEndian.Uint16(rest[16:18])))
		b = rest[18:]
	}
	return n, fields, formats, nil
}

// dataRow renders a DataRow's columns as Packetbeat does for the response
// text: NULL and binary-format values as empty strings, values cut so the
// row stays within maxLen bytes, columns past the limit left out.
func dataRow(b []byte, formats []int16, maxLen int) ([]string, error) {
	if len(b) < 2 {
		return nil, errBody
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	row := make([]string, 0, min(n, 64))
	total := 0
	for i := range n {
		if len(b) < 4 {
			return row, errBody
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		var v []byte
		var short error
		if l > 0 {
			if int(l) > len(b) {
				// A body cut at maxParsed: show what arrived of the value.
				l, short = int32(len(b)), errBody
			}
			v, b = b[:l], b[l:]
		}
		if i < len(formats) && formats[i] != 0 {
			v = nil // binary: no text to show
		}
		if total >= maxLen {
			if short != nil {
				return row, short
			}
			continue
		}
		if total+len(v) > maxLen {
			v = v[:maxLen-total]
		}
		total += len(v)
		row = append(row, string(v))
		if short != nil {
			return row, short
		}
	}
	return row, nil
}

// dataRowFields reads only a DataRow's column count.
func dataRowFields(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

// splitStatements splits a simple Query's text into the statements the
// server answers one by one, at the semicolons that end statements (not
// those inside quotes, dollar quotes and comments: Packetbeat splits at
// every ';', which cuts string literals apart). Each statement is published
// verbatim, its terminating ';' and line endings included: a Query holding
// one statement is its whole text. Only the white space between statements
// is left out; an empty statement (";" alone) joins the one before it, and a
// text of nothing but empty statements gives none.
func splitStatements(q string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		piece := q[start:end]
		if len(out) > 0 {
			piece = strings.TrimLeft(piece, " \t\r\n\f\v")
		}
		if strings.Trim(piece, " \t\r\n\f\v;") == "" {
			if len(out) > 0 {
				out[len(out)-1] += q[start:end]
			}
		} else {
			out = append(out, piece)
		}
		start = end
	}
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ';':
			i++
			emit(i)
		case c == '\'' || c == '"':
			escapes := c == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e')
			i = skipQuoted(q, i+1, c, escapes)
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(q)
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			i = skipBlockComment(q, i+2)
		case c == '$':
			i = skipDollar(q, i)
		default:
			i++
		}
	}
	if start < len(q) {
		emit(len(q))
	}
	return out
}

// skipQuoted returns the index after the closing quote q (doubled quotes
// stay inside; with escapes a backslash escapes the next byte).
func skipQuoted(s string, i int, q byte, escapes bool) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			if escapes {
				i += 2
				continue
			}
		case q:
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}

// skipBlockComment returns the index after a (nestable) /* */ comment.
func skipBlockComment(s string, i int) int {
	depth := 1
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		case strings.HasPrefix(s[i:], "/*"):
			depth++
			i += 2
		default:
			i++
		}
	}
	return len(s)
}

// skipDollar skips a dollar-quoted string ($$...$$ or $tag$...$tag$)
// starting at i, or just the '$' of a parameter ($1) or identifier.
func skipDollar(s string, i int) int {
	j := i + 1
	for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' ||
		j > i+1 && s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
		j++
	}
	if j >= len(s) || s[j] != '$' || (i > 0 && isIdent(s[i-1])) {
		return i + 1
	}
	tag := s[i : j+1]
	if k := strings.Index(s[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag)
	}
	return len(s)
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// method is the statement's first word in upper case (Packetbeat's method),
// after leading comments and parentheses.
func method(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return ""
			}
			q = q[i+1:]
			continue
		case strings.HasPrefix(q, "/*"):
			q = q[skipBlockComment(q, 2):]
			continue
		}
		break
	}
	end := 0
	for end < len(q) && isIdent(q[end]) {
		end++
	}
	if end == 0 {
		return ""
	}
	w := q[:end]
	for i := range len(w) {
		if w[i] >= 'a' && w[i] <= 'z' {
			return strings.ToUpper(w)
		}
	}
	return w
}
