// Package outfmt evaluates the Beats format strings and selection rules that
// outputs use to pick a destination per event: Kafka's `topic`/`topics`,
// Redis' `key`/`keys`.
//
// A format string mixes text with field references:
//
//	%{[data_stream.type]}-%{[data_stream.dataset]}   fields of the event
//	%{[fields.x]:fallback}                           with a default when missing
//	%{[a][b]}                                        the same as %{[a.b]}
//	%{+yyyy.MM.dd}                                   the event's @timestamp (UTC)
//
// Fields are read straight from the encoded JSON document; a document is
// decoded only when a rule has a `when` condition.
package outfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is a parsed format string. Safe for concurrent use.
type Format struct {
	src   string
	parts []part
}

type part struct {
	lit    string // literal text (when field and layout are empty)
	field  string // dotted field path
	def    string // default for a missing field
	hasDef bool
	layout string // Go time layout for %{+...}
}

// Parse parses a format string.
func Parse(s string) (*Format, error) {
	f := &Format{src: s}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			f.addLit(rest)
			break
		}
		f.addLit(rest[:i])
		rest = rest[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return nil, fmt.Errorf("format %q: %%{ without a closing }", s)
		}
		p, err := parseRef(rest[:j])
		if err != nil {
			return nil, fmt.Errorf("format %q: %v", s, err)
		}
		f.parts = append(f.parts, p)
		rest = rest[j+1:]
	}
	return f, nil
}

// MustParse is Parse for constants in tests and defaults.
func MustParse(s string) *Format {
	f, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return f
}

func (f *Format) addLit(s string) {
	if s == "" {
		return
	}
	if n := len(f.parts); n > 0 && f.parts[n-1].field == "" && f.parts[n-1].layout == "" {
		f.parts[n-1].lit += s
		return
	}
	f.parts = append(f.parts, part{lit: s})
}

// parseRef parses what is between %{ and }.
func parseRef(ref string) (part, error) {
	if strings.HasPrefix(ref, "+") {
		layout, err := jodaLayout(ref[1:])
		if err != nil {
			return part{}, err
		}
		return part{layout: layout}, nil
	}
	if !strings.HasPrefix(ref, "[") {
		return part{}, fmt.Errorf("%%{%s}: want %%{[field]} or %%{+date-format}", ref)
	}
	// [a][b.c]:default
	var segs []string
	rest := ref
	for strings.HasPrefix(rest, "[") {
		k := strings.IndexByte(rest, ']')
		if k < 0 {
			return part{}, fmt.Errorf("%%{%s}: [ without ]", ref)
		}
		seg := strings.TrimSpace(rest[1:k])
		if seg == "" {
			return part{}, fmt.Errorf("%%{%s}: empty field name", ref)
		}
		segs = append(segs, seg)
		rest = rest[k+1:]
	}
	p := part{field: strings.Join(segs, ".")}
	switch {
	case rest == "":
	case strings.HasPrefix(rest, ":"):
		p.def, p.hasDef = rest[1:], true
	default:
		return part{}, fmt.Errorf("%%{%s}: unexpected %q after the field", ref, rest)
	}
	return p, nil
}

// jodaLayout turns the date patterns Beats users write (Joda style:
// yyyy.MM.dd, HH:mm:ss) into a Go layout. Unknown letters are refused
// rather than copied, so a typo is a config error, not a strange topic.
func jodaLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		tok := p[i : i+n]
		i += n
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteString(tok)
			continue
		}
		switch tok {
		case "yyyy", "YYYY", "xxxx":
			b.WriteString("2006")
		case "yy", "YY", "xx":
			b.WriteString("06")
		case "MM":
			b.WriteString("01")
		case "dd":
			b.WriteString("02")
		case "HH":
			b.WriteString("15")
		case "mm":
			b.WriteString("04")
		case "ss":
			b.WriteString("05")
		default:
			return "", fmt.Errorf("date format %q: %q is not supported (use yyyy, yy, MM, dd, HH, mm, ss)", p, tok)
		}
	}
	if b.Len() == 0 {
		return "", errors.New("empty date format")
	}
	return b.String(), nil
}

// String returns the source text.
func (f *Format) String() string { return f.src }

// Const returns the text of a format without references.
func (f *Format) Const() (string, bool) {
	switch len(f.parts) {
	case 0:
		return "", true
	case 1:
		if p := f.parts[0]; p.field == "" && p.layout == "" {
			return p.lit, true
		}
	}
	return "", false
}

// MissingError names the field a format string could not fill.
type MissingError struct{ Field string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("field %q is missing or not a string, number or boolean", e.Field)
}

// Append appends the formatted value for the document to dst.
func (f *Format) Append(dst []byte, doc []byte) ([]byte, error) {
	for _, p := range f.parts {
		switch {
		case p.field != "":
			raw, ok := lookup(doc, p.field)
			var ok2 bool
			if ok {
				dst, ok2 = scalarText(dst, raw)
			}
			if !ok2 {
				if !p.hasDef {
					return dst, &MissingError{Field: p.field}
				}
				dst = append(dst, p.def...)
			}
		case p.layout != "":
			t, err := timestamp(doc)
			if err != nil {
				return dst, err
			}
			dst = t.UTC().AppendFormat(dst, p.layout)
		default:
			dst = append(dst, p.lit...)
		}
	}
	return dst, nil
}

// Run returns the formatted value for the document.
func (f *Format) Run(doc []byte) (string, error) {
	if s, ok := f.Const(); ok {
		return s, nil
	}
	var buf [128]byte
	b, err := f.Append(buf[:0], doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func timestamp(doc []byte) (time.Time, error) {
	raw, ok := lookup(doc, "@timestamp")
	if !ok || len(raw) < 2 || raw[0] != '"' {
		return time.Time{}, &MissingError{Field: "@timestamp"}
	}
	raw = bytes.Trim(raw, `"`)
	t, err := time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		return time.Time{}, fmt.Errorf("@timestamp %q: %v", raw, err)
	}
	return t, nil
}

// decode decodes a document for conditions, as processors do.
func decode(doc []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("document is null")
	}
	return m, nil
}

// decodeValue decodes one JSON value as decode does.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
