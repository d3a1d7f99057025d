package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A format string is Beats' `%{[field.path]}` syntax: literal text with
// field references, each optionally with a default (`%{[field]:default}`).
// It is evaluated against the encoded document bytes, without decoding the
// whole document: topics and keys are computed for every document.
type fmtString struct {
	raw   string
	parts []fmtPart
}

type fmtPart struct {
	lit   string // literal text, when field is ""
	field string // dotted path
	def   string
	hasDf bool
}

// parseFmt parses a format string. `%{+yyyy.MM.dd}` (event time formats)
// is refused: topics and keys built from timestamps are not supported.
func parseFmt(s string) (*fmtString, error) {
	f := &fmtString{raw: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			f.parts = append(f.parts, fmtPart{lit: rest})
			break
		}
		if i > 0 {
			f.parts = append(f.parts, fmtPart{lit: rest[:i]})
		}
		rest = rest[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("format %q: unclosed %%{", s)
		}
		expr := rest[:end]
		rest = rest[end+1:]
		if strings.HasPrefix(expr, "+") {
			return nil, fmt.Errorf("format %q: %%{%s}: timestamp formats are not supported", s, expr)
		}
		if !strings.HasPrefix(expr, "[") {
			return nil, fmt.Errorf("format %q: %%{%s}: expected %%{[field]}", s, expr)
		}
		// [a.b] or [a][b], then an optional :default.
		var path []string
		for strings.HasPrefix(expr, "[") {
			j := strings.IndexByte(expr, ']')
			if j < 0 {
				return nil, fmt.Errorf("format %q: unclosed [ in %%{...}", s)
			}
			if expr[1:j] == "" {
				return nil, fmt.Errorf("format %q: empty field name", s)
			}
			path = append(path, expr[1:j])
			expr = expr[j+1:]
		}
		p := fmtPart{field: strings.Join(path, ".")}
		switch {
		case expr == "":
		case expr[0] == ':':
			p.def, p.hasDf = expr[1:], true
		default:
			return nil, fmt.Errorf("format %q: unexpected %q after field name", s, expr)
		}
		f.parts = append(f.parts, p)
	}
	return f, nil
}

// static reports whether the string has no field references, and its text.
func (f *fmtString) static() (string, bool) {
	var b strings.Builder
	for _, p := range f.parts {
		if p.field != "" {
			return "", false
		}
		b.WriteString(p.lit)
	}
	return b.String(), true
}

// fields lists the referenced field paths.
func (f *fmtString) fields() []string {
	var out []string
	for _, p := range f.parts {
		if p.field != "" {
			out = append(out, p.field)
		}
	}
	return out
}

var errMissing = errors.New("missing field")

// appendTo evaluates f on doc, appending to dst. A field that is absent
// (or null) without a default makes the whole string fail with errMissing,
// as in Beats: a topic with a hole in it is no topic.
func (f *fmtString) appendTo(dst, doc []byte) ([]byte, error) {
	for _, p := range f.parts {
		if p.field == "" {
			dst = append(dst, p.lit...)
			continue
		}
		v, ok := lookup(doc, p.field)
		if !ok {
			if !p.hasDf {
				return dst, fmt.Errorf("%w %s", errMissing, p.field)
			}
			dst = append(dst, p.def...)
			continue
		}
		dst = appendValue(dst, v)
	}
	return dst, nil
}

// appendValue renders a raw JSON value as text: strings unquoted, numbers
// and booleans as written, objects and arrays as JSON.
func appendValue(dst, v []byte) []byte {
	if len(v) == 0 || v[0] != '"' {
		return append(dst, v...)
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(v, &s) == nil {
				return append(dst, s...)
			}
			return append(dst, inner...)
		}
	}
	return append(dst, inner...)
}

// lookup finds the raw JSON value at a dotted path in a JSON object. At
// each level a literal key equal to the rest of the path wins over nested
// objects, as in the processors' field lookup. null counts as absent.
func lookup(doc []byte, path string) ([]byte, bool) {
	i := skipWS(doc, 0)
	for {
		if i >= len(doc) || doc[i] != '{' {
			return nil, false
		}
		var nested []byte
		nestedRest := ""
		i++
		for {
			i = skipWS(doc, i)
			if i >= len(doc) {
				return nil, false
			}
			if doc[i] == '}' {
				break
			}
			if doc[i] == ',' {
				i++
				continue
			}
			if doc[i] != '"' {
				return nil, false
			}
			key, end, ok := scanString(doc, i)
			if !ok {
				return nil, false
			}
			i = skipWS(doc, end)
			if i >= len(doc) || doc[i] != ':' {
				return nil, false
			}
			vs := skipWS(doc, i+1)
			ve, ok := skipValue(doc, vs)
			if !ok {
				return nil, false
			}
			i = ve
			k := keyBytes(key)
			switch {
			case string(k) == path: // compared without a conversion copy
				v := doc[vs:ve]
				if string(v) == "null" {
					return nil, false
				}
				return v, true
			case nested == nil && len(path) > len(k) && path[len(k)] == '.' && string(k) == path[:len(k)]:
				if vs < len(doc) && doc[vs] == '{' {
					nested, nestedRest = doc[vs:ve], path[len(k)+1:]
				}
			}
		}
		if nested == nil {
			return nil, false
		}
		doc, path, i = nested, nestedRest, 0
	}
}

// keyBytes returns a quoted key's text; keys with escapes (rare) are
// decoded.
func keyBytes(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return inner
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the quoted string starting at b[i] (quotes included)
// and the index after it.
func scanString(b []byte, i int) ([]byte, int, bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return nil, 0, false
		}
		j += k
		// Escaped when preceded by an odd run of backslashes.
		n := 0
		for m := j - 1; m > i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return b[i : j+1], j + 1, true
		}
		j++
	}
}

// skipValue returns the index after the JSON value starting at b[i]. It
// checks only what it needs to find the end (the documents come from our
// own encoder), but never reads out of bounds or loops on bad input.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		_, end, ok := scanString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, end, ok := scanString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				break
			}
			j++
		}
		if j == i {
			return 0, false
		}
		return j, true
	}
}
