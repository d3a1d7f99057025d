package redis

import (
	"bytes"
	"errors"
	"time"
)

// Parse errors: the stream is not RESP (or not what a server or client
// sends). "Need more data" is never an error: parse just stops early.
var (
	errType      = errors.New("unknown RESP type byte")
	errCRLF      = errors.New("line not terminated by CRLF")
	errLineLong  = errors.New("line longer than 64 KiB")
	errNumber    = errors.New("bad length or integer")
	errDepth     = errors.New("aggregates nested too deep")
	errBulkEnd   = errors.New("bulk string not followed by CRLF")
	errStreamEnd = errors.New("stream end '.' outside a streamed aggregate")
	errChunk     = errors.New("streamed string chunk expected")
	errScalar    = errors.New("bad scalar value")
)

// Parser states within a message.
const (
	stHeader = iota // at a type line (or inline command)
	stBulk          // inside bulk string content
	stCRLF          // at the CRLF after bulk content
)

// span locates a top-level element in message.text.
type span struct{ start, end int }

// message is one complete RESP value, or one inline command, rendered as
// text the way Packetbeat shows it: a command's arguments joined by
// spaces, a reply's aggregates as "[a, b]" (RESP3 maps as "{k: v}").
// It is reused: the connection copies what it keeps.
type message struct {
	ts        time.Time
	started   bool
	size      int64  // wire bytes
	top       byte   // type byte of the top-level value; 'i' for an inline command
	isError   bool   // top-level simple or blob error
	noop      bool   // a command Redis ignores without replying (*0, *-1, empty inline)
	text      []byte // rendered, at most maxTextBytes
	truncated bool
	argc      int64   // top-level elements (aggregates) or inline arguments
	elems     [3]span // first three top-level elements
	last      span    // last top-level element
}

// elem returns the i-th top-level element's text (empty if unknown).
func (m *message) elem(i int) []byte {
	if i >= len(m.elems) || int64(i) >= m.argc {
		return nil
	}
	return m.span(m.elems[i])
}

func (m *message) span(s span) []byte {
	end := min(s.end, len(m.text))
	if s.start >= end {
		return nil
	}
	return m.text[s.start:end]
}

// frame is an open aggregate.
type frame struct {
	kind byte  // '*', '%', '~', '>', '|'
	left int64 // elements still expected; -1 for a streamed aggregate
	n    int64 // elements seen
}

// parser is the incremental RESP parser of one direction. It keeps no
// copy of the input: lines are parsed in place once complete, bulk content
// is consumed as it arrives (only the rendered text, capped, is kept), so a
// 100 MB value never has to sit in the stream buffer.
type parser struct {
	isReq    bool
	state    uint8
	bulkLeft int64
	hide     int64 // leading bulk bytes not rendered (verbatim "txt:")
	chunked  bool  // inside a streamed string ($?)
	mute     int   // >0 inside an attribute: parsed, not rendered
	depth    int
	// stack grows on demand up to maxDepth: most connections never nest
	// past two levels, and a 64-frame array inline cost 3 KB a connection.
	stack []frame
	msg   message
}

// reset prepares for the next message, keeping the text buffer.
func (p *parser) reset() {
	text, stack := p.msg.text[:0], p.stack[:0]
	*p = parser{isReq: p.isReq, stack: stack}
	p.msg.text = text
}

// inMessage reports whether part of a message has been consumed.
func (p *parser) inMessage() bool { return p.msg.started }

// parse consumes the bytes of at most one message from data. It returns
// how many bytes it consumed and whether a message is complete (then
// p.msg holds it until reset). n == 0 with done == false and err == nil
// means more data is needed.
func (p *parser) parse(data []byte, ts time.Time) (n int, done bool, err error) {
	if !p.msg.started && len(data) > 0 {
		p.msg.started, p.msg.ts = true, ts
	}
	n, done, err = p.run(data)
	p.msg.size += int64(n)
	return n, done, err
}

func (p *parser) run(data []byte) (int, bool, error) {
	off := 0
	for off < len(data) {
		switch p.state {
		case stBulk:
			k := int(min(int64(len(data)-off), p.bulkLeft))
			b := data[off : off+k]
			if p.hide > 0 {
				h := int(min(p.hide, int64(len(b))))
				p.hide -= int64(h)
				b = b[h:]
			}
			p.emit(b)
			off += k
			p.bulkLeft -= int64(k)
			if p.bulkLeft == 0 {
				p.state = stCRLF
			}
		case stCRLF:
			if len(data)-off < 2 {
				if data[off] != '\r' {
					return off, false, errBulkEnd
				}
				return off, false, nil
			}
			if data[off] != '\r' || data[off+1] != '\n' {
				return off, false, errBulkEnd
			}
			off += 2
			p.state = stHeader
			if p.chunked {
				continue // next chunk header
			}
			if p.valueDone() {
				return off, true, nil
			}
		case stHeader:
			if p.isReq && p.depth == 0 && !p.chunked && data[off] != '*' {
				return p.inline(data, off)
			}
			i := bytes.IndexByte(data[off:], '\n')
			if i < 0 {
				if len(data)-off > maxLineBytes {
					return off, false, errLineLong
				}
				return off, false, nil
			}
			if i > maxLineBytes {
				return off, false, errLineLong
			}
			if i == 0 || data[off+i-1] != '\r' {
				return off, false, errCRLF
			}
			line := data[off : off+i-1]
			off += i + 1
			if len(line) == 0 {
				return off, false, errType
			}
			done, err := p.header(line)
			if err != nil {
				return off, false, err
			}
			if done {
				return off, true, nil
			}
		}
	}
	return off, false, nil
}

// inline parses a command sent as a plain line ("PING\r\n", what telnet
// and hand-written scripts send): Redis accepts these from clients.
func (p *parser) inline(data []byte, off int) (int, bool, error) {
	rest := data[off:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		if len(rest) > maxLineBytes {
			return off, false, errLineLong
		}
		return off, false, nil
	}
	if i > maxLineBytes {
		return off, false, errLineLong
	}
	line := rest[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	m := &p.msg
	m.top = 'i'
	for len(line) > 0 {
		j := 0
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		line = line[j:]
		if len(line) == 0 {
			break
		}
		j = 0
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if m.argc > 0 {
			p.emit(space)
		}
		s := span{start: len(m.text)}
		p.emit(line[:j])
		s.end = len(m.text)
		if m.argc < int64(len(m.elems)) {
			m.elems[m.argc] = s
		}
		m.last = s
		m.argc++
		line = line[j:]
	}
	m.noop = m.argc == 0
	return off + i + 1, true, nil
}

var (
	space    = []byte(" ")
	comma    = []byte(", ")
	colon    = []byte(": ")
	nilText  = []byte("nil")
	trueText = []byte("true")
	falseTxt = []byte("false")
)

// header handles one type line (without its CRLF).
func (p *parser) header(line []byte) (done bool, err error) {
	t, body := line[0], line[1:]
	if p.chunked {
		if t != ';' {
			return false, errChunk
		}
		n, ok := parseInt(body)
		if !ok || n < 0 {
			return false, errNumber
		}
		if n == 0 {
			p.chunked = false
			return p.valueDone(), nil
		}
		p.bulkLeft, p.state = n, stBulk
		return false, nil
	}
	switch t {
	case '+', '-', ',', '(':
		if t == ',' && !validDouble(body) || t == '(' && !validBigNumber(body) {
			return false, errScalar
		}
		p.begin(t)
		if t == '-' && p.depth == 0 {
			p.msg.isError = true
		}
		p.emit(body)
		return p.valueDone(), nil
	case ':':
		if _, ok := parseInt(body); !ok {
			return false, errNumber
		}
		p.begin(t)
		p.emit(body)
		return p.valueDone(), nil
	case '_':
		if len(body) != 0 {
			return false, errScalar
		}
		p.begin(t)
		p.emit(nilText)
		return p.valueDone(), nil
	case '#':
		if len(body) != 1 || body[0] != 't' && body[0] != 'f' {
			return false, errScalar
		}
		p.begin(t)
		if body[0] == 't' {
			p.emit(trueText)
		} else {
			p.emit(falseTxt)
		}
		return p.valueDone(), nil
	case '$', '!', '=':
		if t == '$' && len(body) == 1 && body[0] == '?' {
			p.begin(t)
			p.chunked = true
			return false, nil
		}
		n, ok := parseInt(body)
		if !ok || n < -1 || n == -1 && t == '=' || n > 1<<40 {
			return false, errNumber
		}
		p.begin(t)
		if n == -1 {
			p.emit(nilText)
			return p.valueDone(), nil
		}
		if t == '!' && p.depth == 0 {
			p.msg.isError = true
		}
		if t == '=' {
			if n < 4 {
				return false, errNumber
			}
			p.hide = 4 // the "txt:" format prefix
		}
		p.bulkLeft, p.state = n, stBulk
		if n == 0 {
			p.state = stCRLF
		}
		return false, nil
	case '*', '%', '~', '>', '|':
		var n int64
		if len(body) == 1 && body[0] == '?' && t != '|' {
			n = -1
		} else {
			var ok bool
			n, ok = parseInt(body)
			if !ok || n < -1 || n == -1 && t != '*' || n > 1<<32 {
				return false, errNumber
			}
			if n == -1 {
				p.begin(t)
				p.emit(nilText)
				p.msg.noop = p.isReq && p.depth == 0
				return p.valueDone(), nil
			}
			if t == '%' || t == '|' {
				n *= 2
			}
		}
		if p.depth == maxDepth {
			return false, errDepth
		}
		p.begin(t)
		p.stack = append(p.stack[:p.depth], frame{kind: t, left: n})
		p.depth++
		if t != '|' && !(p.isReq && p.depth == 1) {
			if t == '%' {
				p.emit([]byte("{"))
			} else {
				p.emit([]byte("["))
			}
		}
		if n == 0 {
			if p.depth == 1 && p.isReq {
				p.msg.noop = true
			}
			return p.closeThenDone(), nil
		}
		return false, nil
	case '.':
		if len(body) != 0 || p.depth == 0 || p.stack[p.depth-1].left != -1 {
			return false, errStreamEnd
		}
		return p.closeThenDone(), nil
	}
	return false, errType
}

// closeThenDone closes the innermost aggregate (complete) and counts it as
// a value of its parent.
func (p *parser) closeThenDone() bool {
	if p.closeAgg() {
		return false
	}
	return p.valueDone()
}

// begin starts a value of type t: the separator from the previous
// sibling, the top-level element span, the message's top type.
func (p *parser) begin(t byte) {
	if t == '|' {
		p.mute++
		return
	}
	m := &p.msg
	if p.depth == 0 {
		m.top = t
		return
	}
	f := &p.stack[p.depth-1]
	if f.n > 0 {
		switch {
		case p.isReq && p.depth == 1:
			p.emit(space)
		case f.kind == '%' && f.n%2 == 1:
			p.emit(colon)
		default:
			p.emit(comma)
		}
	}
	if p.depth == 1 && p.mute == 0 {
		s := span{start: len(m.text), end: -1}
		if f.n < int64(len(m.elems)) {
			m.elems[f.n] = s
		}
		m.last = s
	}
}

// valueDone records that the current value ended; it closes every
// aggregate this completes and reports whether the whole message did.
func (p *parser) valueDone() bool {
	for p.depth > 0 {
		f := &p.stack[p.depth-1]
		if p.depth == 1 && p.mute == 0 {
			m := &p.msg
			if f.n < int64(len(m.elems)) {
				m.elems[f.n].end = len(m.text)
			}
			m.last.end = len(m.text)
		}
		f.n++
		if f.left > 0 {
			f.left--
		}
		if f.left != 0 {
			return false
		}
		if p.closeAgg() {
			return false // an attribute is not a value: the real one follows
		}
	}
	return true
}

// closeAgg pops the innermost aggregate; true if it was an attribute.
func (p *parser) closeAgg() bool {
	p.depth--
	f := p.stack[p.depth]
	if f.kind == '|' {
		p.mute--
		return true
	}
	if p.depth == 0 {
		p.msg.argc = f.n
		if p.isReq {
			return false
		}
	}
	if f.kind == '%' {
		p.emit([]byte("}"))
	} else {
		p.emit([]byte("]"))
	}
	return false
}

// emit appends rendered text up to maxTextBytes.
func (p *parser) emit(b []byte) {
	if p.mute > 0 || len(b) == 0 {
		return
	}
	m := &p.msg
	room := maxTextBytes - len(m.text)
	if len(b) > room {
		b = b[:room]
		m.truncated = true
	}
	m.text = append(m.text, b...)
}

// parseInt parses a RESP decimal integer (optional sign, digits only).
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n < 0 { // overflowed 19 digits
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// validDouble accepts RESP3 doubles: decimal/exponent forms, inf, -inf, nan.
func validDouble(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' ||
			c == 'i' || c == 'n' || c == 'f' || c == 'a') {
			return false
		}
	}
	return true
}

func validBigNumber(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
