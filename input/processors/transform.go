package processors

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Processors that rewrite field values in place or into a new field.

func init() {
	register("convert", newConvert)
	register("replace", newReplace)
	register("truncate_fields", newTruncateFields)
	register("urldecode", newURLDecode)
	register("decode_base64_field", newDecodeBase64)
}

// convert: {fields: [{from, to, type}], ignore_missing: false,
// fail_on_error: true, tag, mode: copy|rename}. Types are Beats':
// integer, long, float, double, string, boolean, ip. Without `to` the field
// is converted in place.
func newConvert(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "ignore_missing", "fail_on_error", "tag", "mode")
	if err != nil {
		return nil, err
	}
	type conv struct{ from, to, typ string }
	var convs []conv
	err = itemList(cfg, "fields", "{from, to, type}", func(m map[string]any) error {
		if err := checkKeys(m, "from", "to", "type"); err != nil {
			return err
		}
		c := conv{}
		c.from, _ = m["from"].(string)
		c.to, _ = m["to"].(string)
		c.typ, _ = m["type"].(string)
		if c.from == "" {
			return fmt.Errorf("from is a required string")
		}
		switch c.typ {
		case "integer", "long", "float", "double", "string", "boolean", "ip":
		case "":
			if c.to == "" {
				return fmt.Errorf("type or to is required")
			}
		default:
			return fmt.Errorf("type: %q is not one of integer, long, float, double, string, boolean, ip", c.typ)
		}
		convs = append(convs, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := stringOpt(cfg, "tag", ""); err != nil {
		return nil, err
	}
	mode, err := stringOpt(cfg, "mode", "copy")
	if err != nil {
		return nil, err
	}
	if mode != "copy" && mode != "rename" {
		return nil, fmt.Errorf("mode: %q is not copy or rename", mode)
	}
	return func(doc map[string]any) (bool, error) {
		return false, o.each(doc, len(convs), func(i int) error {
			c := convs[i]
			v, ok, err := o.value(doc, c.from)
			if !ok {
				return err
			}
			out := v
			if c.typ != "" {
				if out, err = convertValue(v, c.typ); err != nil {
					return fmt.Errorf("unable to convert field %q to %s: %v", c.from, c.typ, err)
				}
			}
			if c.to == "" || c.to == c.from {
				return putPath(doc, c.from, out)
			}
			if mode == "rename" {
				deletePath(doc, c.from)
			}
			return putPath(doc, c.to, out)
		})
	}, nil
}

// convertValue converts one value (or each element of an array) to a Beats
// convert type.
func convertValue(v any, typ string) (any, error) {
	if arr, ok := v.([]any); ok {
		out := make([]any, len(arr))
		for i, e := range arr {
			c, err := convertValue(e, typ)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	switch typ {
	case "string":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		case nil:
			return nil, fmt.Errorf("null value")
		case map[string]any:
			return nil, fmt.Errorf("an object is not a string")
		}
		return fmt.Sprint(v), nil
	case "integer", "long":
		bits := 64
		if typ == "integer" {
			bits = 32
		}
		switch x := v.(type) {
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 0, bits)
			if err != nil {
				return nil, err
			}
			return n, nil
		case json.Number:
			if n, err := strconv.ParseInt(x.String(), 10, bits); err == nil {
				return n, nil
			}
			f, err := x.Float64()
			if err != nil {
				return nil, err
			}
			return floatToInt(f, bits)
		case float64:
			return floatToInt(x, bits)
		case int64:
			return floatToInt(float64(x), bits)
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "float", "double":
		switch x := v.(type) {
		case string:
			bits := 64
			if typ == "float" {
				bits = 32
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(x), bits)
			if err != nil {
				return nil, err
			}
			return f, nil
		case json.Number:
			return x.Float64()
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			return strconv.ParseBool(strings.TrimSpace(x))
		case json.Number:
			return x.String() != "0", nil
		}
	case "ip":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s is not an IP address string", describe(v))
		}
		if _, err := netip.ParseAddr(strings.TrimSpace(s)); err != nil {
			return nil, fmt.Errorf("%q is not an IP address", s)
		}
		return strings.TrimSpace(s), nil
	}
	return nil, fmt.Errorf("%s cannot be converted", describe(v))
}

func floatToInt(f float64, bits int) (any, error) {
	lim := math.Ldexp(1, bits-1)
	if math.IsNaN(f) || f >= lim || f < -lim {
		return nil, fmt.Errorf("%v is out of range for a %d-bit integer", f, bits)
	}
	return int64(f), nil
}

// replace: {fields: [{field, pattern, replacement}], ignore_missing: false,
// fail_on_error: true}. pattern is a regular expression; replacement may use
// $1 groups.
func newReplace(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "ignore_missing", "fail_on_error", "tag")
	if err != nil {
		return nil, err
	}
	var reps []replacement
	err = itemList(cfg, "fields", "{field, pattern, replacement}", func(m map[string]any) error {
		if err := checkKeys(m, "field", "pattern", "replacement"); err != nil {
			return err
		}
		f, _ := m["field"].(string)
		p, pok := m["pattern"].(string)
		r, rok := m["replacement"].(string)
		if f == "" || !pok || !rok {
			return fmt.Errorf("field, pattern and replacement are required strings")
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("pattern: %v", err)
		}
		reps = append(reps, replacement{f, r, re})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		return false, eachString(o, doc, reps, func(r replacement, s string) error {
			return putPath(doc, r.field, r.re.ReplaceAllString(s, r.with))
		})
	}, nil
}

// replacement is one item of replace's fields.
type replacement struct {
	field, with string
	re          *regexp.Regexp
}

func (r replacement) source() string { return r.field }

// truncate_fields: {fields, max_bytes | max_characters, fail_on_error: true,
// ignore_missing: false}. A truncated event gets "truncated" in log.flags.
// Byte truncation never splits a UTF-8 character.
func newTruncateFields(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "max_bytes", "max_characters", "fail_on_error", "ignore_missing")
	if err != nil {
		return nil, err
	}
	names, err := stringList(cfg["fields"])
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("fields: required, a string or a list of strings")
	}
	fields := make([]fromTo, len(names)) // truncated in place
	for i, f := range names {
		fields[i] = fromTo{from: f}
	}
	maxBytes, err := intOpt(cfg, "max_bytes", 0)
	if err != nil {
		return nil, err
	}
	maxChars, err := intOpt(cfg, "max_characters", 0)
	if err != nil {
		return nil, err
	}
	if (maxBytes > 0) == (maxChars > 0) {
		return nil, fmt.Errorf("max_bytes or max_characters: exactly one is required, a positive integer")
	}
	return func(doc map[string]any) (bool, error) {
		truncated := false
		err := eachString(o, doc, fields, func(f fromTo, s string) error {
			var cut string
			if maxBytes > 0 {
				cut = truncateBytes(s, maxBytes)
			} else {
				cut = truncateChars(s, maxChars)
			}
			if len(cut) == len(s) {
				return nil
			}
			truncated = true
			return putPath(doc, f.from, cut)
		})
		if err == nil && truncated {
			appendFlag(doc, "truncated")
		}
		return false, err
	}, nil
}

func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func truncateChars(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// appendFlag adds a value to log.flags once.
func appendFlag(doc map[string]any, flag string) {
	v, _ := getPath(doc, "log.flags")
	list, _ := tagList(v) // another value is replaced
	if list, added := appendNew(list, flag); added {
		_ = putPath(doc, "log.flags", list)
	}
}

// urldecode: {fields: [{from, to}], ignore_missing: false, fail_on_error:
// true}. Without `to` the field is decoded in place.
func newURLDecode(cfg map[string]any) (runFunc, error) {
	return newStringDecoder(cfg, func(s string) (string, error) { return url.QueryUnescape(s) }, "fields")
}

// decode_base64_field: {field: {from, to}, ignore_missing: false,
// fail_on_error: true}.
func newDecodeBase64(cfg map[string]any) (runFunc, error) {
	dec := func(s string) (string, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			// Beats accepts unpadded input too.
			b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		if err != nil {
			return "", fmt.Errorf("failed to decode base64: %v", err)
		}
		return string(b), nil
	}
	return newStringDecoder(cfg, dec, "field")
}

// newStringDecoder serves urldecode (a list under "fields") and
// decode_base64_field (one pair under "field").
func newStringDecoder(cfg map[string]any, decode func(string) (string, error), key string) (runFunc, error) {
	o, err := fieldOptions(cfg, key, "ignore_missing", "fail_on_error")
	if err != nil {
		return nil, err
	}
	v := cfg[key]
	if key == "field" {
		v = []any{v}
	}
	pairs, err := fromToList(v, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	return func(doc map[string]any) (bool, error) {
		return false, eachString(o, doc, pairs, func(p fromTo, s string) error {
			out, err := decode(s)
			if err != nil {
				return fmt.Errorf("field %q: %v", p.from, err)
			}
			return putPath(doc, p.target(), out)
		})
	}, nil
}
