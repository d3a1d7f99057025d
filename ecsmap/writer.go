// Package ecsmap turns typed transactions into ECS JSON documents.
//
// Documents are written straight into a reusable byte buffer by Writer; no
// map[string]any is built per event. Each protocol writes its own field groups
// through the same Writer, so the encoding rules (escaping, null handling,
// number formats) live in one place.
package ecsmap

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Writer appends one JSON object at a time to Buf. Callers open objects with
// Object and close them with End. A comma is due before a member unless the
// buffer ends with the '{' or '[' that opened its object or array.
// It never fails: invalid UTF-8 in strings is replaced, as Elasticsearch
// would reject it anyway.
type Writer struct {
	Buf []byte
	// KeepNull makes the Opt* helpers write null for empty values instead of
	// omitting the key (the keep_null option).
	KeepNull bool
	// depth counts the open objects and arrays.
	depth int
	// sec and secText cache the formatted date and time of the last second
	// written: an event has two or three timestamps, usually in the same
	// second as the previous event's.
	sec     int64
	secText []byte
	// cids caches recent Community IDs (allocated on first use).
	cids *communityIDCache
}

// Reset empties the buffer and starts a new top-level object.
func (w *Writer) Reset() {
	w.Buf = append(w.Buf[:0], '{')
	w.depth = 1
}

// Finish closes every open object and returns the document bytes. The slice
// is only valid until the next Reset.
func (w *Writer) Finish() []byte {
	for w.depth > 0 {
		w.End()
	}
	return w.Buf
}

// Depth reports how many objects are open (1 after Reset).
func (w *Writer) Depth() int { return w.depth }

// comma appends the separator a new member or element needs: none right
// after the '{' or '[' that opened the container (or in an empty buffer).
func comma(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] != '{' && b[n-1] != '[' {
		b = append(b, ',')
	}
	return b
}

func (w *Writer) key(k string) {
	b := comma(w.Buf)
	if isPlain(k) { // keys almost always are
		b = append(b, '"')
		b = append(b, k...)
		w.Buf = append(b, '"', ':')
		return
	}
	b = appendString(b, k)
	w.Buf = append(b, ':')
}

// Object opens a nested object under key k.
func (w *Writer) Object(k string) {
	w.key(k)
	w.Buf = append(w.Buf, '{')
	w.depth++
}

// End closes the innermost open object.
func (w *Writer) End() {
	w.Buf = append(w.Buf, '}')
	w.depth--
}

// Str writes a string member.
func (w *Writer) Str(k, v string) {
	w.key(k)
	w.Buf = appendString(w.Buf, v)
}

// Bytes writes a string member from a byte slice without converting it.
func (w *Writer) Bytes(k string, v []byte) {
	w.key(k)
	w.Buf = appendBytesString(w.Buf, v)
}

// OptStr writes v unless it is empty; with KeepNull an empty v becomes null.
func (w *Writer) OptStr(k, v string) {
	if v != "" {
		w.Str(k, v)
	} else if w.KeepNull {
		w.Null(k)
	}
}

// Null writes a null member.
func (w *Writer) Null(k string) {
	w.key(k)
	w.Buf = append(w.Buf, "null"...)
}

// Int writes an integer member.
func (w *Writer) Int(k string, v int64) {
	w.key(k)
	w.Buf = strconv.AppendInt(w.Buf, v, 10)
}

// Uint writes an unsigned integer member.
func (w *Writer) Uint(k string, v uint64) {
	w.key(k)
	w.Buf = strconv.AppendUint(w.Buf, v, 10)
}

// Float writes a floating point member.
func (w *Writer) Float(k string, v float64) {
	w.key(k)
	w.Buf = strconv.AppendFloat(w.Buf, v, 'f', -1, 64)
}

// Bool writes a boolean member.
func (w *Writer) Bool(k string, v bool) {
	w.key(k)
	w.Buf = strconv.AppendBool(w.Buf, v)
}

// Time writes a timestamp in RFC 3339 with nanoseconds, UTC (the same text
// as time.RFC3339Nano).
func (w *Writer) Time(k string, t time.Time) {
	w.key(k)
	w.Buf = append(w.Buf, '"')
	w.Buf = w.appendTime(w.Buf, t)
	w.Buf = append(w.Buf, '"')
}

func (w *Writer) appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	if sec := t.Unix(); sec != w.sec || len(w.secText) == 0 {
		w.sec = sec
		w.secText = t.AppendFormat(w.secText[:0], "2006-01-02T15:04:05")
	}
	b = append(b, w.secText...)
	if ns := t.Nanosecond(); ns != 0 {
		// Nine digits, trailing zeros dropped, as RFC3339Nano does.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// IP writes an address as a string.
func (w *Writer) IP(k string, ip netip.Addr) {
	w.key(k)
	w.Buf = append(w.Buf, '"')
	w.Buf = ip.AppendTo(w.Buf)
	w.Buf = append(w.Buf, '"')
}

// Strs writes an array of strings; an empty slice is omitted (or null with KeepNull).
func (w *Writer) Strs(k string, vs []string) {
	if len(vs) == 0 {
		if w.KeepNull {
			w.Null(k)
		}
		return
	}
	w.key(k)
	w.Buf = append(w.Buf, '[')
	for i, v := range vs {
		if i > 0 {
			w.Buf = append(w.Buf, ',')
		}
		w.Buf = appendString(w.Buf, v)
	}
	w.Buf = append(w.Buf, ']')
}

// Raw writes pre-encoded JSON as the member value. The caller guarantees it
// is valid JSON.
func (w *Writer) Raw(k string, json []byte) {
	w.key(k)
	w.Buf = append(w.Buf, json...)
}

// ArrayStart opens an array member; use Elem* to add items and ArrayEnd to close.
func (w *Writer) ArrayStart(k string) {
	w.key(k)
	w.Buf = append(w.Buf, '[')
	w.depth++
}

// ArrayEnd closes an array opened with ArrayStart.
func (w *Writer) ArrayEnd() {
	w.Buf = append(w.Buf, ']')
	w.depth--
}

func (w *Writer) elem() { w.Buf = comma(w.Buf) }

// ElemStr appends a string to the open array.
func (w *Writer) ElemStr(v string) {
	w.elem()
	w.Buf = appendString(w.Buf, v)
}

// ElemInt appends an integer to the open array.
func (w *Writer) ElemInt(v int64) {
	w.elem()
	w.Buf = strconv.AppendInt(w.Buf, v, 10)
}

// ElemObject opens an object inside the open array; close it with End.
func (w *Writer) ElemObject() {
	w.elem()
	w.Buf = append(w.Buf, '{')
	w.depth++
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes a JSON string can carry as they are: printable
// ASCII other than the quote and the backslash. Strings made only of these
// (almost every key and most values) are copied in one append.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// isPlain reports whether every byte of s is plain. It tests eight bytes
// at a time (the classic SWAR "has a byte less than / equal to" tricks),
// with overlapping loads for the tail, because every key and most values go
// through it.
func isPlain(s string) bool {
	n := len(s)
	switch {
	case n >= 8:
		for i := 0; i+8 <= n; i += 8 {
			if !plain8(load64(s, i)) {
				return false
			}
		}
		return n%8 == 0 || plain8(load64(s, n-8))
	case n >= 4:
		// Two overlapping 4-byte loads; the upper bytes are set to 'a'.
		const pad = 0x6161616100000000
		return plain8(pad|load32(s, 0)) && plain8(pad|load32(s, n-4))
	}
	for i := 0; i < n; i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
}

func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func load32(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

// plain8 reports whether the eight bytes packed in x are all plain.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ctl := (x - 0x20*ones) & ^x // high bit set in bytes below 0x20
	q := x ^ '"'*ones           // zero bytes where x has '"'
	bs := x ^ '\\'*ones         // zero bytes where x has '\\'
	quote := (q - ones) & ^q    // high bit set in zero bytes of q
	slash := (bs - ones) & ^bs
	return (ctl|quote|slash|x)&highs == 0 // x&highs: bytes >= 0x80
}

func appendString(b []byte, s string) []byte {
	if isPlain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return appendEscaped(b, s, 0)
}

func appendBytesString(b []byte, s []byte) []byte {
	// A read-only string view of s: no copy, and nothing below keeps it.
	return appendString(b, unsafe.String(unsafe.SliceData(s), len(s)))
}

// appendEscaped writes s quoted, escaping from index i on (s[:i] is plain).
// It is the slow path: most strings need no escaping at all.
func appendEscaped(b []byte, s string, i int) []byte {
	b = append(b, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			b = appendEscapedASCII(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendEscapedASCII(b []byte, c byte) []byte {
	switch c {
	case '"':
		return append(b, '\\', '"')
	case '\\':
		return append(b, '\\', '\\')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
