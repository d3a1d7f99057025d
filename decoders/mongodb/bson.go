package mongodb

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// A compact BSON reader over byte slices: enough to validate a document,
// find top-level keys and render it as JSON-like text (relaxed Extended
// JSON for the types JSON lacks). Every length is checked against the
// enclosing slice and nesting is bounded, so hostile input costs at most
// its own size.

const maxDepth = 32 // BSON documents nest at most 100 deep in MongoDB; we render 32

var (
	errShort    = errors.New("bson: truncated document")
	errLength   = errors.New("bson: bad length")
	errType     = errors.New("bson: unknown element type")
	errCString  = errors.New("bson: unterminated key or cstring")
	errTooDeep  = errors.New("bson: nesting too deep")
	errTerminal = errors.New("bson: document does not end with 0x00")
)

// docLen returns the length a document at b declares, checked against b.
func docLen(b []byte) (int, error) {
	if len(b) < 5 {
		return 0, errShort
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 {
		return 0, errLength
	}
	if n > len(b) {
		return 0, errShort
	}
	if b[n-1] != 0 {
		return 0, errTerminal
	}
	return n, nil
}

// element is one key/value of a document; val is the raw value bytes.
type element struct {
	typ byte
	key []byte
	val []byte
}

// iter walks the elements of one document (whose length was checked).
type iter struct {
	b   []byte // elements, without the length prefix and the trailing 0
	err error
}

func newIter(doc []byte) iter {
	n, err := docLen(doc)
	if err != nil {
		return iter{err: err}
	}
	return iter{b: doc[4 : n-1]}
}

// next returns the next element; false at the end or on error (it.err).
func (it *iter) next() (element, bool) {
	if it.err != nil || len(it.b) == 0 {
		return element{}, false
	}
	typ := it.b[0]
	key, rest, ok := cstring(it.b[1:])
	if !ok {
		it.err = errCString
		return element{}, false
	}
	n, err := valueLen(typ, rest)
	if err != nil {
		it.err = err
		return element{}, false
	}
	it.b = rest[n:]
	return element{typ: typ, key: key, val: rest[:n]}, true
}

func cstring(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return nil, nil, false
}

// valueLen is the size of a value of type typ at the start of b.
func valueLen(typ byte, b []byte) (int, error) {
	need := func(n int) (int, error) {
		if n > len(b) || n < 0 {
			return 0, errShort
		}
		return n, nil
	}
	switch typ {
	case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
		return need(8)
	case 0x10: // int32
		return need(4)
	case 0x13: // decimal128
		return need(16)
	case 0x07: // ObjectId
		return need(12)
	case 0x08: // bool
		return need(1)
	case 0x06, 0x0A, 0xFF, 0x7F: // undefined, null, minKey, maxKey
		return 0, nil
	case 0x02, 0x0D, 0x0E: // string, JS code, symbol: int32 length + bytes incl. 0
		if len(b) < 4 {
			return 0, errShort
		}
		l := int(int32(binary.LittleEndian.Uint32(b)))
		if l < 1 {
			return 0, errLength
		}
		return need(4 + l)
	case 0x03, 0x04: // document, array
		return docLen(b)
	case 0x05: // binary: int32 length, subtype, bytes
		if len(b) < 5 {
			return 0, errShort
		}
		l := int(int32(binary.LittleEndian.Uint32(b)))
		if l < 0 {
			return 0, errLength
		}
		return need(5 + l)
	case 0x0B: // regex: two cstrings
		_, r, ok := cstring(b)
		if !ok {
			return 0, errCString
		}
		_, r2, ok := cstring(r)
		if !ok {
			return 0, errCString
		}
		return len(b) - len(r2), nil
	case 0x0C: // DBPointer: string + 12-byte id
		n, err := valueLen(0x02, b)
		if err != nil {
			return 0, err
		}
		return need(n + 12)
	case 0x0F: // code with scope: int32 total length
		if len(b) < 4 {
			return 0, errShort
		}
		l := int(int32(binary.LittleEndian.Uint32(b)))
		if l < 14 {
			return 0, errLength
		}
		return need(l)
	}
	return 0, errType
}

// str returns the bytes of a string value (without its trailing 0).
func str(v []byte) []byte {
	if len(v) < 5 {
		return nil
	}
	return v[4 : len(v)-1]
}

// lookup finds a top-level key of doc.
func lookup(doc []byte, key string) (element, bool) {
	it := newIter(doc)
	for {
		e, ok := it.next()
		if !ok {
			return element{}, false
		}
		if string(e.key) == key {
			return e, true
		}
	}
}

// asInt returns a numeric value as int64 (double, int32, int64).
func asInt(e element) (int64, bool) {
	switch e.typ {
	case 0x10:
		return int64(int32(binary.LittleEndian.Uint32(e.val))), true
	case 0x12:
		return int64(binary.LittleEndian.Uint64(e.val)), true
	case 0x01:
		f := math.Float64frombits(binary.LittleEndian.Uint64(e.val))
		if f != f || f > math.MaxInt64 || f < math.MinInt64 {
			return 0, false
		}
		return int64(f), true
	case 0x08:
		if e.val[0] != 0 {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// renderer appends documents as JSON-like text, stopping once the output
// passes limit (limit <= 0: no limit) so a huge document costs no more than
// the text we keep.
type renderer struct {
	out   []byte
	limit int
	full  bool // output reached limit: the rest was not rendered
}

func (r *renderer) over() bool {
	if r.limit > 0 && len(r.out) > r.limit {
		r.full = true
	}
	return r.full
}

// doc renders a document (or array when arr), skipping the keys in skip at
// the top level. It returns an error for malformed BSON.
func (r *renderer) doc(d []byte, arr bool, depth int, skip ...string) error {
	if depth > maxDepth {
		return errTooDeep
	}
	open, close := byte('{'), byte('}')
	if arr {
		open, close = '[', ']'
	}
	r.out = append(r.out, open)
	it := newIter(d)
	first := true
outer:
	for {
		e, ok := it.next()
		if !ok {
			break
		}
		for _, s := range skip {
			if string(e.key) == s {
				continue outer
			}
		}
		if r.over() {
			return it.err
		}
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		if !arr {
			r.quote(e.key)
			r.out = append(r.out, ':')
		}
		if err := r.value(e, depth); err != nil {
			return err
		}
	}
	if it.err != nil {
		return it.err
	}
	r.out = append(r.out, close)
	return nil
}

func (r *renderer) value(e element, depth int) error {
	v := e.val
	le32 := func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }
	switch e.typ {
	case 0x01:
		f := math.Float64frombits(binary.LittleEndian.Uint64(v))
		switch {
		case math.IsNaN(f):
			r.out = append(r.out, `{"$numberDouble":"NaN"}`...)
		case math.IsInf(f, 1):
			r.out = append(r.out, `{"$numberDouble":"Infinity"}`...)
		case math.IsInf(f, -1):
			r.out = append(r.out, `{"$numberDouble":"-Infinity"}`...)
		default:
			r.out = strconv.AppendFloat(r.out, f, 'g', -1, 64)
		}
	case 0x02, 0x0E:
		r.quote(str(v))
	case 0x03:
		return r.doc(v, false, depth+1)
	case 0x04:
		return r.doc(v, true, depth+1)
	case 0x05:
		l := int(le32(v))
		r.out = append(r.out, `{"$binary":{"base64":"`...)
		r.out = base64.StdEncoding.AppendEncode(r.out, v[5:5+l])
		r.out = append(r.out, `","subType":"`...)
		r.out = hex.AppendEncode(r.out, v[4:5])
		r.out = append(r.out, `"}}`...)
	case 0x06:
		r.out = append(r.out, `{"$undefined":true}`...)
	case 0x07:
		r.out = append(r.out, `{"$oid":"`...)
		r.out = hex.AppendEncode(r.out, v)
		r.out = append(r.out, `"}`...)
	case 0x08:
		r.out = strconv.AppendBool(r.out, v[0] != 0)
	case 0x09:
		r.out = append(r.out, `{"$date":`...)
		r.out = strconv.AppendInt(r.out, int64(binary.LittleEndian.Uint64(v)), 10)
		r.out = append(r.out, '}')
	case 0x0A:
		r.out = append(r.out, "null"...)
	case 0x0B:
		pat, rest, _ := cstring(v)
		opts, _, _ := cstring(rest)
		r.out = append(r.out, `{"$regularExpression":{"pattern":`...)
		r.quote(pat)
		r.out = append(r.out, `,"options":`...)
		r.quote(opts)
		r.out = append(r.out, "}}"...)
	case 0x0C:
		n, _ := valueLen(0x02, v)
		r.out = append(r.out, `{"$dbPointer":{"$ref":`...)
		r.quote(str(v[:n]))
		r.out = append(r.out, `,"$id":{"$oid":"`...)
		r.out = hex.AppendEncode(r.out, v[n:n+12])
		r.out = append(r.out, `"}}}`...)
	case 0x0D:
		r.out = append(r.out, `{"$code":`...)
		r.quote(str(v))
		r.out = append(r.out, '}')
	case 0x0F:
		// int32 total, string code, document scope.
		body := v[4:]
		n, err := valueLen(0x02, body)
		if err != nil {
			return err
		}
		r.out = append(r.out, `{"$code":`...)
		r.quote(str(body[:n]))
		r.out = append(r.out, `,"$scope":`...)
		if err := r.doc(body[n:], false, depth+1); err != nil {
			return err
		}
		r.out = append(r.out, '}')
	case 0x10:
		r.out = strconv.AppendInt(r.out, int64(le32(v)), 10)
	case 0x11:
		r.out = append(r.out, `{"$timestamp":{"t":`...)
		r.out = strconv.AppendUint(r.out, uint64(binary.LittleEndian.Uint32(v[4:])), 10)
		r.out = append(r.out, `,"i":`...)
		r.out = strconv.AppendUint(r.out, uint64(binary.LittleEndian.Uint32(v)), 10)
		r.out = append(r.out, "}}"...)
	case 0x12:
		r.out = strconv.AppendInt(r.out, int64(binary.LittleEndian.Uint64(v)), 10)
	case 0x13:
		// IEEE 754-2008 decimal128 text conversion is not worth its code
		// here: the raw little-endian bits, tagged, keep the value exact.
		r.out = append(r.out, `{"$numberDecimalBits":"`...)
		r.out = hex.AppendEncode(r.out, v)
		r.out = append(r.out, `"}`...)
	case 0xFF:
		r.out = append(r.out, `{"$minKey":1}`...)
	case 0x7F:
		r.out = append(r.out, `{"$maxKey":1}`...)
	default:
		return errType
	}
	return nil
}

// quote appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func (r *renderer) quote(s []byte) {
	const hexd = "0123456789abcdef"
	r.out = append(r.out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				r.out = append(r.out, '\\', c)
			case c == '\n':
				r.out = append(r.out, '\\', 'n')
			case c == '\r':
				r.out = append(r.out, '\\', 'r')
			case c == '\t':
				r.out = append(r.out, '\\', 't')
			case c < 0x20:
				r.out = append(r.out, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			default:
				r.out = append(r.out, c)
			}
			i++
			continue
		}
		ru, n := utf8.DecodeRune(s[i:])
		if ru == utf8.RuneError && n == 1 {
			r.out = append(r.out, "\ufffd"...)
		} else {
			r.out = append(r.out, s[i:i+n]...)
		}
		i += n
	}
	r.out = append(r.out, '"')
}

// renderDoc renders one document as text bounded to limit bytes (limit <=
// 0: unbounded); text past the limit is cut and marked with " ...".
func renderDoc(d []byte, limit int, skip ...string) (string, error) {
	r := renderer{limit: limit}
	err := r.doc(d, false, 0, skip...)
	return r.finish(), err
}

func (r *renderer) finish() string {
	if r.limit > 0 && len(r.out) > r.limit {
		return string(r.out[:r.limit]) + " ..."
	}
	return string(r.out)
}
