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
)

// Writer appends one JSON object at a time to Buf. Callers open objects with
// Object and close them with End; the writer tracks whether a comma is due.
// It never fails: invalid UTF-8 in strings is replaced, as Elasticsearch
// would reject it anyway.
type Writer struct {
	Buf []byte
	// KeepNull makes the Opt* helpers write null for empty values instead of
	// omitting the key (the keep_null option).
	KeepNull bool
	// first[depth] is true while the object at that depth has no member yet.
	first []bool
}

// Reset empties the buffer and starts a new top-level object.
func (w *Writer) Reset() {
	w.Buf = w.Buf[:0]
	w.first = w.first[:0]
	w.Buf = append(w.Buf, '{')
	w.first = append(w.first, true)
}

// Finish closes every open object and returns the document bytes. The slice
// is only valid until the next Reset.
func (w *Writer) Finish() []byte {
	for len(w.first) > 0 {
		w.End()
	}
	return w.Buf
}

// Depth reports how many objects are open (1 after Reset).
func (w *Writer) Depth() int { return len(w.first) }

func (w *Writer) key(k string) {
	top := len(w.first) - 1
	if top >= 0 {
		if !w.first[top] {
			w.Buf = append(w.Buf, ',')
		}
		w.first[top] = false
	}
	w.Buf = appendString(w.Buf, k)
	w.Buf = append(w.Buf, ':')
}

// Object opens a nested object under key k.
func (w *Writer) Object(k string) {
	w.key(k)
	w.Buf = append(w.Buf, '{')
	w.first = append(w.first, true)
}

// End closes the innermost open object.
func (w *Writer) End() {
	w.Buf = append(w.Buf, '}')
	w.first = w.first[:len(w.first)-1]
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

// Time writes a timestamp in RFC 3339 with nanoseconds, UTC.
func (w *Writer) Time(k string, t time.Time) {
	w.key(k)
	w.Buf = append(w.Buf, '"')
	w.Buf = t.UTC().AppendFormat(w.Buf, time.RFC3339Nano)
	w.Buf = append(w.Buf, '"')
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
	w.first = append(w.first, true)
}

// ArrayEnd closes an array opened with ArrayStart.
func (w *Writer) ArrayEnd() {
	w.Buf = append(w.Buf, ']')
	w.first = w.first[:len(w.first)-1]
}

func (w *Writer) elem() {
	top := len(w.first) - 1
	if !w.first[top] {
		w.Buf = append(w.Buf, ',')
	}
	w.first[top] = false
}

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
	w.first = append(w.first, true)
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
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

func appendBytesString(b []byte, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscapedASCII(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
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
