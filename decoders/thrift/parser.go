package thrift

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"unicode/utf8"
)

// Message types.
const (
	mCall      = 1
	mReply     = 2
	mException = 3
	mOneway    = 4
)

// Field types of the binary protocol.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
)

// status is the outcome of scanning: a complete value, more bytes needed,
// or bytes that cannot be Thrift.
type status uint8

const (
	ok status = iota
	more
	bad
)

// header is a message header. name aliases the scanned bytes.
type header struct {
	name  []byte
	mtype byte
	seqid int32
	body  int // offset of the argument/result struct
}

// scanHeader reads a strict (versioned) or old (unversioned) header.
func scanHeader(b []byte) (h header, st status) {
	if len(b) < 4 {
		return h, more
	}
	v := binary.BigEndian.Uint32(b)
	off := 0
	if int32(v) < 0 {
		// Strict: 0x8001 version, message type in the low byte.
		if v&0xffff0000 != 0x80010000 || v&0x0000ff00 != 0 {
			return h, bad
		}
		h.mtype = byte(v)
		off = 4
		if len(b) < off+4 {
			return h, more
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n > maxNameBytes {
			return h, bad
		}
		off += 4
		if len(b) < off+n+4 {
			return h, more
		}
		h.name = b[off : off+n]
		off += n
	} else {
		// Old header: name length, name, type byte, seqid.
		n := int(v)
		if n > maxNameBytes {
			return h, bad
		}
		off = 4
		if len(b) < off+n+5 {
			return h, more
		}
		h.name = b[off : off+n]
		off += n
		h.mtype = b[off]
		off++
	}
	if h.mtype < mCall || h.mtype > mOneway {
		return h, bad
	}
	h.seqid = int32(binary.BigEndian.Uint32(b[off:]))
	h.body = off + 4
	return h, ok
}

// fixedSize is the wire size of fixed-width types, 0 for the others.
func fixedSize(t byte) int {
	switch t {
	case tBool, tByte:
		return 1
	case tI16:
		return 2
	case tI32:
		return 4
	case tDouble, tI64:
		return 8
	}
	return 0
}

func validType(t byte) bool {
	switch t {
	case tBool, tByte, tDouble, tI16, tI32, tI64, tString, tStruct, tMap, tSet, tList:
		return true
	}
	return false
}

// skip measures one value of type t at the start of b without rendering
// it: the first pass over a message, so an incomplete message costs no
// allocation and no text. maxFields is drop_after_n_struct_fields.
func skip(b []byte, t byte, depth, maxFields int) (int, status) {
	if n := fixedSize(t); n > 0 {
		if len(b) < n {
			return 0, more
		}
		return n, ok
	}
	if depth >= maxDepth {
		return 0, bad
	}
	switch t {
	case tString:
		if len(b) < 4 {
			return 0, more
		}
		n := int64(int32(binary.BigEndian.Uint32(b)))
		if n < 0 || n > maxMessage {
			return 0, bad
		}
		if int64(len(b)) < 4+n {
			return 0, more
		}
		return 4 + int(n), ok
	case tStruct:
		off := 0
		for i := 0; ; i++ {
			if len(b) <= off {
				return 0, more
			}
			ft := b[off]
			if ft == tStop {
				return off + 1, ok
			}
			if i >= maxFields || !validType(ft) {
				return 0, bad
			}
			if len(b) < off+3 {
				return 0, more
			}
			n, st := skip(b[off+3:], ft, depth+1, maxFields)
			if st != ok {
				return 0, st
			}
			off += 3 + n
		}
	case tList, tSet, tMap:
		hdr := 5
		if t == tMap {
			hdr = 6
		}
		if len(b) < hdr {
			return 0, more
		}
		kt, vt := b[0], byte(0)
		if t == tMap {
			vt = b[1]
		}
		count := int64(int32(binary.BigEndian.Uint32(b[hdr-4:])))
		if count < 0 || count > maxMessage {
			return 0, bad
		}
		if count == 0 {
			// Empty containers may carry any type byte (some
			// implementations write 0).
			return hdr, ok
		}
		if !validType(kt) || t == tMap && !validType(vt) {
			return 0, bad
		}
		ks, vs := fixedSize(kt), fixedSize(vt)
		if ks > 0 && (t != tMap || vs > 0) {
			// Fixed-width elements: skipped by arithmetic.
			n := int64(hdr) + count*int64(ks+vs)
			if n > maxMessage {
				return 0, bad
			}
			if int64(len(b)) < n {
				return 0, more
			}
			return int(n), ok
		}
		off := hdr
		for i := int64(0); i < count; i++ {
			n, st := skip(b[off:], kt, depth+1, maxFields)
			if st != ok {
				return 0, st
			}
			off += n
			if t == tMap {
				n, st = skip(b[off:], vt, depth+1, maxFields)
				if st != ok {
					return 0, st
				}
				off += n
			}
		}
		return off, ok
	}
	return 0, bad
}

// scanMessage measures one whole message at the start of b.
func scanMessage(b []byte, maxFields int) (header, int, status) {
	h, st := scanHeader(b)
	if st != ok {
		return h, 0, st
	}
	n, st := skip(b[h.body:], tStruct, 0, maxFields)
	if st != ok {
		return h, 0, st
	}
	return h, h.body + n, ok
}

// renderer writes values as Packetbeat's text: strings quoted, lists
// [..], sets {..}, maps {k: v}, structs (id: v, ...). Input is a value
// skip() accepted, so lengths are known to be in range; the checks that
// remain keep a bug from becoming a panic.
type renderer struct {
	cfg *settings
	buf []byte
}

func (r *renderer) full() bool { return len(r.buf) >= maxRendered }

// value renders one value and returns its size.
func (r *renderer) value(b []byte, t byte) int {
	switch t {
	case tBool:
		if len(b) < 1 {
			return len(b)
		}
		r.buf = strconv.AppendBool(r.buf, b[0] != 0)
		return 1
	case tByte:
		if len(b) < 1 {
			return len(b)
		}
		// i8 is signed (Packetbeat prints the unsigned byte).
		r.buf = strconv.AppendInt(r.buf, int64(int8(b[0])), 10)
		return 1
	case tI16:
		if len(b) < 2 {
			return len(b)
		}
		r.buf = strconv.AppendInt(r.buf, int64(int16(binary.BigEndian.Uint16(b))), 10)
		return 2
	case tI32:
		if len(b) < 4 {
			return len(b)
		}
		r.buf = strconv.AppendInt(r.buf, int64(int32(binary.BigEndian.Uint32(b))), 10)
		return 4
	case tI64:
		if len(b) < 8 {
			return len(b)
		}
		r.buf = strconv.AppendInt(r.buf, int64(binary.BigEndian.Uint64(b)), 10)
		return 8
	case tDouble:
		if len(b) < 8 {
			return len(b)
		}
		r.buf = strconv.AppendFloat(r.buf, math.Float64frombits(binary.BigEndian.Uint64(b)), 'f', -1, 64)
		return 8
	case tString:
		return r.str(b)
	case tStruct:
		return r.structure(b, nil, nil)
	case tList, tSet, tMap:
		return r.container(b, t)
	}
	return len(b)
}

func (r *renderer) str(b []byte) int {
	if len(b) < 4 {
		return len(b)
	}
	n := int(binary.BigEndian.Uint32(b))
	if n < 0 || len(b)-4 < n {
		return len(b)
	}
	s := b[4 : 4+n]
	switch {
	case n == 0:
		r.buf = append(r.buf, `""`...)
	case r.cfg.obfuscate:
		r.buf = append(r.buf, `"*"`...)
	default:
		cut := len(s) > r.cfg.stringMax
		if cut {
			s = s[:r.cfg.stringMax]
		}
		if utf8.Valid(s) || cut && utf8.Valid(s[:clipUTF8(s)]) {
			if cut {
				s = s[:clipUTF8(s)]
			}
			// Quote the value with its ellipsis inside, as Packetbeat.
			r.buf = strconv.AppendQuote(r.buf, string(s))
			if cut {
				r.buf = append(r.buf[:len(r.buf)-1], `..."`...)
			}
		} else {
			// Binary: hex, as Packetbeat.
			r.buf = hex.AppendEncode(r.buf, s)
			if cut {
				r.buf = append(r.buf, "..."...)
			}
		}
	}
	return 4 + n
}

// clipUTF8 drops a sequence cut at the end of s.
func clipUTF8(s []byte) int {
	n := len(s)
	for i := 1; i <= utf8.UTFMax && i <= n; i++ {
		if utf8.RuneStart(s[n-i]) {
			if !utf8.FullRune(s[n-i:]) {
				return n - i
			}
			break
		}
	}
	return n
}

// structure renders (id: value, ...); fields beyond collection_max_size
// become "...". When first is set, it receives the id of the first field
// (-1 for none): a reply's field 0 is the return value, others exceptions.
// names (from IDL) replace the ids of this level's fields.
func (r *renderer) structure(b []byte, first *int, names map[int16]string) int {
	r.buf = append(r.buf, '(')
	off, shown, elided := 0, 0, false
	for off < len(b) {
		ft := b[off]
		if ft == tStop {
			off++
			break
		}
		if len(b) < off+3 {
			return len(b)
		}
		id := int16(binary.BigEndian.Uint16(b[off+1:]))
		if first != nil && shown == 0 && !elided {
			*first = int(id)
		}
		off += 3
		if shown < r.cfg.collectionMax && !r.full() {
			if shown > 0 {
				r.buf = append(r.buf, ", "...)
			}
			if name, ok := names[id]; ok {
				r.buf = append(r.buf, name...)
			} else {
				r.buf = strconv.AppendInt(r.buf, int64(id), 10)
			}
			r.buf = append(r.buf, ": "...)
			off += r.value(b[off:], ft)
			shown++
			continue
		}
		if !elided {
			r.buf = append(r.buf, ", ..."...)
			elided = true
		}
		n, _ := skip(b[off:], ft, 0, r.cfg.structMax)
		if n == 0 {
			return len(b)
		}
		off += n
	}
	r.buf = append(r.buf, ')')
	return off
}

func (r *renderer) container(b []byte, t byte) int {
	hdr := 5
	if t == tMap {
		hdr = 6
	}
	if len(b) < hdr {
		return len(b)
	}
	kt, vt := b[0], b[1]
	count := int(int32(binary.BigEndian.Uint32(b[hdr-4:])))
	open, close := byte('['), byte(']')
	if t != tList {
		open, close = '{', '}'
	}
	r.buf = append(r.buf, open)
	off := hdr
	for i := 0; i < count && off < len(b); i++ {
		if i >= r.cfg.collectionMax || r.full() {
			// Skip the rest without rendering.
			r.buf = append(r.buf, ", ..."...)
			for ; i < count && off < len(b); i++ {
				n, _ := skip(b[off:], kt, 0, r.cfg.structMax)
				if t == tMap && n > 0 {
					m, _ := skip(b[off+n:], vt, 0, r.cfg.structMax)
					if m == 0 {
						return len(b)
					}
					n += m
				}
				if n == 0 {
					return len(b)
				}
				off += n
			}
			break
		}
		if i > 0 {
			r.buf = append(r.buf, ", "...)
		}
		off += r.value(b[off:], kt)
		if t == tMap {
			r.buf = append(r.buf, ": "...)
			off += r.value(b[off:], vt)
		}
	}
	r.buf = append(r.buf, close)
	return off
}
