package amqp

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Frame types (AMQP 0-9-1 section 4.2.3).
const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE
	// frameOverhead is the 7-byte frame header plus the end octet.
	frameOverhead = 8
)

// amqpTimeLayout is how Packetbeat writes AMQP timestamps (the timestamp
// property and 'T' table values); we keep its text, in UTC.
const amqpTimeLayout = "January _2 15:04:05 2006"

var (
	errShort       = errors.New("argument list shorter than its fields")
	errTableType   = errors.New("unknown field table value type")
	errTableDepth  = errors.New("field tables nested too deep")
	errBadFrameEnd = errors.New("frame does not end with 0xCE")
	errFrameSize   = errors.New("frame larger than the bound")
	errFrameType   = errors.New("unknown frame type")
)

// reader walks the fields of a method or header payload. Reads past the end
// set bad and return zero values, so decoders check once at the end.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || n > len(r.b)-r.off {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

// shortStr reads a shortstr (octet length).
func (r *reader) shortStr() []byte { return r.bytes(int(r.u8())) }

// longStr reads a longstr or a field table body (32-bit length).
func (r *reader) longStr() []byte {
	n := r.u32()
	if n > math.MaxInt32 {
		r.bad = true
		return nil
	}
	return r.bytes(int(n))
}

// atEnd reports whether nothing is left: optional trailing fields (an
// arguments table) may be absent in captures of old clients.
func (r *reader) atEnd() bool { return r.off >= len(r.b) }

// bstr views b as a string for a Writer call, which copies it at once.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// renderTable encodes the body of a field table (without its length) as a
// JSON object with Packetbeat's value shapes: numbers as numbers, decimals,
// timestamps and byte arrays as text, arrays as objects keyed by index,
// nested tables as objects. The result is a fresh copy (per transaction).
func renderTable(w *ecsmap.Writer, tbl []byte) ([]byte, error) {
	w.Reset()
	if err := writeTable(w, tbl, 0, false); err != nil {
		return nil, err
	}
	out := w.Finish()
	return append(make([]byte, 0, len(out)), out...), nil
}

// writeTable writes the members of a table (or, with array set, of a field
// array) into the open object. Duplicate names keep the first value: JSON
// keys must be unique and Elasticsearch rejects repeats.
func writeTable(w *ecsmap.Writer, tbl []byte, depth int, array bool) error {
	if depth > maxTableDepth {
		return errTableDepth
	}
	r := reader{b: tbl}
	var idx [20]byte
	var seenBuf [16][]byte
	seen := seenBuf[:0]
	for i := 0; !r.atEnd(); i++ {
		var name []byte
		if array {
			name = strconv.AppendInt(idx[:0], int64(i), 10)
		} else {
			name = r.shortStr()
			if r.bad {
				return errShort
			}
		}
		skip := len(name) == 0
		if !array && !skip {
			for _, s := range seen {
				if string(s) == string(name) {
					skip = true
					break
				}
			}
			if !skip && len(seen) < 1024 {
				seen = append(seen, name)
			}
		}
		if err := writeValue(w, name, &r, depth, skip); err != nil {
			return err
		}
	}
	return nil
}

// writeValue reads one typed value and writes it under name unless skip.
// Type codes follow RabbitMQ's reading of the 0-9-1 grammar (what brokers
// and clients actually send): 's' is a signed 16-bit integer and 'l' a
// signed 64-bit one; the spec's 'U' and 'L' are accepted as the same.
func writeValue(w *ecsmap.Writer, name []byte, r *reader, depth int, skip bool) error {
	key := bstr(name)
	t := r.u8()
	if r.bad {
		return errShort
	}
	var (
		i   int64
		u   uint64
		f   float64
		s   []byte
		isI bool
		isU bool
		isF bool
	)
	switch t {
	case 't':
		v := r.u8() != 0
		if r.bad {
			return errShort
		}
		if !skip {
			w.Bool(key, v)
		}
		return nil
	case 'b':
		i, isI = int64(int8(r.u8())), true
	case 'B':
		u, isU = uint64(r.u8()), true
	case 's', 'U':
		i, isI = int64(int16(r.u16())), true
	case 'u':
		u, isU = uint64(r.u16()), true
	case 'I':
		i, isI = int64(int32(r.u32())), true
	case 'i':
		u, isU = uint64(r.u32()), true
	case 'l', 'L':
		i, isI = int64(r.u64()), true
	case 'f':
		f, isF = float64(math.Float32frombits(r.u32())), true
	case 'd':
		f, isF = math.Float64frombits(r.u64()), true
	case 'D':
		scale := r.u8()
		v := int32(r.u32())
		if r.bad {
			return errShort
		}
		if !skip {
			var buf [48]byte
			w.Bytes(key, appendDecimal(buf[:0], int64(v), int(scale)))
		}
		return nil
	case 'S':
		s = r.longStr()
		if r.bad {
			return errShort
		}
		if !skip {
			w.Bytes(key, s)
		}
		return nil
	case 'x':
		s = r.longStr()
		if r.bad {
			return errShort
		}
		if !skip {
			w.Bytes(key, appendByteArray(make([]byte, 0, 2+len(s)*5), s))
		}
		return nil
	case 'T':
		v := r.u64()
		if r.bad {
			return errShort
		}
		if !skip {
			var buf [64]byte
			w.Bytes(key, appendTime(buf[:0], v))
		}
		return nil
	case 'A', 'F':
		body := r.longStr()
		if r.bad {
			return errShort
		}
		if skip {
			// Still validate, so a bad nested value is reported the same
			// whether or not its key was a duplicate.
			var sink ecsmap.Writer
			sink.Reset()
			return writeTable(&sink, body, depth+1, t == 'A')
		}
		w.Object(key)
		err := writeTable(w, body, depth+1, t == 'A')
		w.End()
		return err
	case 'V':
		if !skip && w.KeepNull {
			w.Null(key)
		}
		return nil
	default:
		return errTableType
	}
	if r.bad {
		return errShort
	}
	if skip {
		return nil
	}
	switch {
	case isI:
		w.Int(key, i)
	case isU:
		w.Uint(key, u)
	case isF:
		writeFloat(w, key, f)
	}
	return nil
}

// writeFloat writes f as a number; NaN and infinities have no JSON number
// form, so they are written as text.
func writeFloat(w *ecsmap.Writer, key string, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		var buf [8]byte
		w.Bytes(key, strconv.AppendFloat(buf[:0], f, 'g', -1, 64))
		return
	}
	w.Float(key, f)
}

// appendDecimal formats value * 10^-scale exactly ("12.50").
func appendDecimal(b []byte, v int64, scale int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var dbuf [20]byte
	digits := strconv.AppendInt(dbuf[:0], v, 10)
	if scale <= 0 {
		return append(b, digits...)
	}
	if scale >= len(digits) {
		b = append(b, '0', '.')
		for range scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	p := len(digits) - scale
	b = append(b, digits[:p]...)
	b = append(b, '.')
	return append(b, digits[p:]...)
}

// appendByteArray writes bytes as Packetbeat does: "[1, 2, 255]".
func appendByteArray(b, s []byte) []byte {
	b = append(b, '[')
	for i, c := range s {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

// appendTime formats seconds since the epoch in amqpTimeLayout (UTC).
// Values beyond year 9999 are written as the plain number.
func appendTime(b []byte, secs uint64) []byte {
	if secs > 253402300799 {
		return strconv.AppendUint(b, secs, 10)
	}
	return time.Unix(int64(secs), 0).UTC().AppendFormat(b, amqpTimeLayout)
}

// appendDecimalBody writes a body Packetbeat's way when it is not text:
// the byte values in decimal separated by spaces.
func appendDecimalBody(b, s []byte) []byte {
	for i, c := range s {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return b
}
