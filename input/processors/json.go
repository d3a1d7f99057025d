package processors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A decoder and an encoder for documents, faster than encoding/json's
// reflection for the one shape processors use: objects as map[string]any,
// arrays as []any, numbers as json.Number (kept as written), strings, bools
// and nulls. They accept and produce what encoding/json does (the
// differential fuzz test FuzzJSONMatchesStdlib checks it); output keys are
// sorted and HTML characters are not escaped.

const maxJSONDepth = 10000 // encoding/json's limit

type jsonDecoder struct {
	b     []byte
	i     int
	depth int
}

var errJSONSyntax = errors.New("invalid JSON")

// decodeDocument parses a JSON object.
func decodeDocument(b []byte) (map[string]any, error) {
	d := jsonDecoder{b: b}
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		if d.i+4 <= len(d.b) && string(d.b[d.i:d.i+4]) == "null" {
			return nil, fmt.Errorf("document is null, not a JSON object")
		}
		return nil, fmt.Errorf("document is not a JSON object")
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return nil, fmt.Errorf("%w: data after the object at offset %d", errJSONSyntax, d.i)
	}
	return v.(map[string]any), nil
}

func (d *jsonDecoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errJSONSyntax, what, d.i)
}

func (d *jsonDecoder) value() (any, error) {
	d.skipSpace()
	if d.i >= len(d.b) {
		return nil, d.fail("unexpected end")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, d.fail("unexpected character")
}

func (d *jsonDecoder) lit(s string) error {
	if d.i+len(s) > len(d.b) || string(d.b[d.i:d.i+len(s)]) != s {
		return d.fail("bad literal")
	}
	d.i += len(s)
	return nil
}

func (d *jsonDecoder) object() (any, error) {
	d.depth++
	if d.depth > maxJSONDepth {
		return nil, d.fail("nested too deeply")
	}
	d.i++ // {
	m := map[string]any{}
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth--
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, d.fail("want a key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, d.fail("want ':'")
		}
		d.i++
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.fail("unexpected end")
		}
		if d.b[d.i] == ',' {
			d.i++
			continue
		}
		if d.b[d.i] == '}' {
			d.i++
			d.depth--
			return m, nil
		}
		return nil, d.fail("want ',' or '}'")
	}
}

func (d *jsonDecoder) array() (any, error) {
	d.depth++
	if d.depth > maxJSONDepth {
		return nil, d.fail("nested too deeply")
	}
	d.i++ // [
	a := []any{}
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, d.fail("unexpected end")
		}
		if d.b[d.i] == ',' {
			d.i++
			continue
		}
		if d.b[d.i] == ']' {
			d.i++
			d.depth--
			return a, nil
		}
		return nil, d.fail("want ',' or ']'")
	}
}

func (d *jsonDecoder) number() (any, error) {
	start := d.i
	if !d.skipNumber() {
		return nil, d.fail("bad number")
	}
	return json.Number(d.b[start:d.i]), nil
}

// skipNumber moves past a number in JSON's grammar.
func (d *jsonDecoder) skipNumber() bool {
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// str reads a string, turning escapes and invalid UTF-8 into runes as
// encoding/json does (bad bytes and lone surrogates become U+FFFD).
func (d *jsonDecoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := d.b[start:d.i]
			d.i++
			if utf8.Valid(s) {
				return string(s), nil
			}
			d.i = start
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.i++
	}
	d.i = start
	out := make([]byte, 0, 16)
	for {
		if d.i >= len(d.b) {
			return "", d.fail("unterminated string")
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), nil
		case c < 0x20:
			return "", d.fail("control character in string")
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return "", d.fail("unterminated string")
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						var ok2 bool
						if r2, ok2 = d.hex4(); !ok2 {
							return "", d.fail("bad \\u escape")
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							continue
						}
						d.i = save // not a pair: the second escape stands alone
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", d.fail("bad escape")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			d.i += size
			out = utf8.AppendRune(out, r) // RuneError for a bad byte
		}
	}
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// appendJSON encodes v as encoding/json would with SetEscapeHTML(false).
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil
		}
		if !validNumber(string(x)) {
			return nil, fmt.Errorf("invalid number literal %q", string(x))
		}
		return append(b, x...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return appendFloat(b, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	// Anything else (typed slices and maps a library handed over): the
	// standard encoder, without HTML escaping.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}

// validNumber is JSON's number grammar.
func validNumber(s string) bool {
	d := jsonDecoder{b: []byte(s)}
	if len(s) == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return false
	}
	return d.skipNumber() && d.i == len(s)
}

// appendFloat formats like encoding/json: %f in [1e-6, 1e21), else %e
// with a short exponent.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("unsupported value: %v", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does without HTML escaping:
// control characters, invalid UTF-8 (as U+FFFD) and U+2028/U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
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
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
