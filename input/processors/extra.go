package processors

import (
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Further Beats processors: append, move_fields, decode_duration,
// decompress_gzip_field, decode_csv_fields, timestamp.

func init() {
	register("append", newAppend)
	register("move_fields", newMoveFields)
	register("decode_duration", newDecodeDuration)
	register("decompress_gzip_field", newDecompressGzip)
	register("decode_csv_fields", newDecodeCSV)
	register("timestamp", newTimestamp)
}

// unsupported are Beats processors that have no meaning here; naming one is
// a configuration error that says why, not "unknown processor".
var unsupported = map[string]string{
	"translate_sid":             "it translates Windows security identifiers and needs Windows",
	"decode_xml_wineventlog":    "it decodes Windows event log XML, which packet capture does not produce",
	"add_nomad_metadata":        "Nomad metadata is not implemented",
	"add_cloudfoundry_metadata": "Cloud Foundry metadata is not implemented",
	"add_session_metadata":      "it needs Auditbeat's session view of processes",
	"translate_ldap_attribute":  "LDAP lookups are not implemented",
	"decode_cef":                "CEF decoding is not implemented",
	"detect_mime_type":          "MIME detection is not implemented",
}

// append: {target_field, fields, values, fail_on_error: true,
// ignore_missing: false, allow_duplicate: true}.
func newAppend(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "target_field", "fields", "values", "fail_on_error", "ignore_missing", "allow_duplicate", "tag")
	if err != nil {
		return nil, err
	}
	target, err := stringOpt(cfg, "target_field", "")
	if err != nil || target == "" {
		return nil, fmt.Errorf("target_field: required, a field name")
	}
	var fields []string
	if v, ok := cfg["fields"]; ok && v != nil {
		if fields, err = stringList(v); err != nil {
			return nil, fmt.Errorf("fields: %v", err)
		}
	}
	var values []any
	if v, ok := cfg["values"]; ok && v != nil {
		if l, ok := v.([]any); ok {
			values = deepCopy(l).([]any)
		} else {
			values = []any{v}
		}
	}
	if len(fields) == 0 && len(values) == 0 {
		return nil, fmt.Errorf("fields or values: at least one is required")
	}
	dups, err := boolOpt(cfg, "allow_duplicate", true)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		var out []any
		add := func(v any) {
			if l, ok := v.([]any); ok {
				out = append(out, l...)
			} else {
				out = append(out, v)
			}
		}
		if cur, ok := getPath(doc, target); ok {
			add(deepCopy(cur))
		}
		for _, f := range fields {
			v, ok, err := o.value(doc, f)
			if err != nil && o.failOnError {
				return false, err
			}
			if !ok {
				continue
			}
			add(deepCopy(v))
		}
		add(deepCopy(values))
		if !dups {
			seen := map[string]bool{}
			uniq := out[:0]
			for _, v := range out {
				kb, _ := appendJSON(nil, v)
				k := string(kb)
				if !seen[k] {
					seen[k] = true
					uniq = append(uniq, v)
				}
			}
			out = uniq
		}
		var val any = out
		if len(out) == 1 {
			val = out[0]
		}
		if err := putPath(doc, target, val); err != nil && o.failOnError {
			return false, err
		}
		return false, nil
	}, nil
}

// move_fields: {from, fields, exclude, to, ignore_missing: false,
// fail_on_error: true}. Moves fields (or, with none named, every field but
// exclude) from the object at `from` to names prefixed with `to`.
func newMoveFields(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "from", "fields", "exclude", "to", "ignore_missing", "fail_on_error")
	if err != nil {
		return nil, err
	}
	from, err := stringOpt(cfg, "from", "")
	if err != nil {
		return nil, err
	}
	to, err := stringOpt(cfg, "to", "")
	if err != nil {
		return nil, err
	}
	var fields, exclude []string
	if v, ok := cfg["fields"]; ok && v != nil {
		if fields, err = stringList(v); err != nil {
			return nil, fmt.Errorf("fields: %v", err)
		}
	}
	if v, ok := cfg["exclude"]; ok && v != nil {
		if exclude, err = stringList(v); err != nil {
			return nil, fmt.Errorf("exclude: %v", err)
		}
	}
	if from == "" && len(fields) == 0 && to == "" {
		return nil, fmt.Errorf("from, fields or to: nothing to move")
	}
	return func(doc map[string]any) (bool, error) {
		src := doc
		if from != "" {
			v, ok := getPath(doc, from)
			m, isObj := v.(map[string]any)
			if !ok || !isObj {
				if o.ignoreMissing || !o.failOnError {
					return false, nil
				}
				return false, fmt.Errorf("field %q is not an object", from)
			}
			src = m
		}
		names := fields
		if len(names) == 0 {
			names = sortedKeys(src)
		}
		var moves []string
		for _, n := range names {
			if contains(exclude, n) || (from == "" && strings.HasPrefix(to, n+".")) {
				continue
			}
			moves = append(moves, n)
		}
		return false, o.each(doc, len(moves), func(i int) error {
			n := moves[i]
			v, ok, err := o.value(src, n)
			if !ok {
				return err
			}
			deletePath(src, n)
			return putPath(doc, to+n, v)
		})
	}, nil
}

// decode_duration: {field, format: milliseconds|seconds|minutes|hours}.
// A Go duration string ("1h2m", "5.5s") becomes a number in that unit.
func newDecodeDuration(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "field", "format"); err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "")
	if err != nil || field == "" {
		return nil, fmt.Errorf("field: required, a field name")
	}
	format, err := stringOpt(cfg, "format", "milliseconds")
	if err != nil {
		return nil, err
	}
	unit := map[string]time.Duration{"milliseconds": time.Millisecond, "seconds": time.Second, "minutes": time.Minute, "hours": time.Hour}[format]
	if unit == 0 {
		return nil, fmt.Errorf("format: %q is not one of milliseconds, seconds, minutes, hours", format)
	}
	return func(doc map[string]any) (bool, error) {
		v, ok := getPath(doc, field)
		if !ok {
			return false, nil
		}
		s, ok := v.(string)
		if !ok {
			return false, fmt.Errorf("field %q is not a duration string", field)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return false, fmt.Errorf("field %q: %v", field, err)
		}
		return false, putPath(doc, field, float64(d)/float64(unit))
	}, nil
}

// maxGunzip bounds a decompressed field (a gzip bomb must not take memory).
const maxGunzip = 10 << 20

// decompress_gzip_field: {field: {from, to}, ignore_missing: false,
// fail_on_error: true}.
func newDecompressGzip(cfg map[string]any) (runFunc, error) {
	return newStringDecoder(cfg, func(s string) (string, error) {
		zr, err := gzip.NewReader(strings.NewReader(s))
		if err != nil {
			return "", fmt.Errorf("not gzip: %v", err)
		}
		b, err := io.ReadAll(io.LimitReader(zr, maxGunzip+1))
		if err != nil {
			return "", fmt.Errorf("gzip: %v", err)
		}
		if len(b) > maxGunzip {
			return "", fmt.Errorf("decompresses to more than %d bytes", maxGunzip)
		}
		return string(b), nil
	}, "field")
}

// decode_csv_fields: {fields: {from: to}, separator: ",", ignore_missing:
// false, overwrite_keys: false, trim_leading_space: false, fail_on_error:
// true}. One CSV line becomes a list of strings.
func newDecodeCSV(cfg map[string]any) (runFunc, error) {
	if err := checkKeysGroups(cfg, []string{"fields"}, "separator", "ignore_missing", "overwrite_keys", "trim_leading_space", "fail_on_error"); err != nil {
		return nil, err
	}
	fm, err := subOpts(cfg, "fields")
	if err != nil {
		return nil, err
	}
	if len(fm) == 0 {
		return nil, fmt.Errorf("fields: required, a map of source field to target field")
	}
	var pairs []fromTo
	for _, k := range sortedKeys(fm) {
		to, ok := fm[k].(string)
		if !ok {
			return nil, fmt.Errorf("fields.%s: the target must be a field name", k)
		}
		pairs = append(pairs, fromTo{k, to})
	}
	sep, err := stringOpt(cfg, "separator", ",")
	if err != nil {
		return nil, err
	}
	if len([]rune(sep)) != 1 {
		return nil, fmt.Errorf("separator: must be one character, got %q", sep)
	}
	o, err := readFieldOpts(cfg)
	if err != nil {
		return nil, err
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", false)
	if err != nil {
		return nil, err
	}
	trim, err := boolOpt(cfg, "trim_leading_space", false)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		return false, eachString(o, doc, pairs, func(p fromTo, s string) error {
			to := p.target()
			if err := checkTarget(doc, p.from, to, overwrite); err != nil {
				return err
			}
			r := csv.NewReader(strings.NewReader(s))
			r.Comma = []rune(sep)[0]
			r.TrimLeadingSpace = trim
			r.FieldsPerRecord = -1
			rec, err := r.Read()
			if err != nil {
				return fmt.Errorf("field %q: %v", p.from, err)
			}
			out := make([]any, len(rec))
			for i, e := range rec {
				out[i] = e
			}
			return putPath(doc, to, out)
		})
	}, nil
}

// timestamp: {field, target_field: @timestamp, layouts, timezone: UTC,
// ignore_missing: false, ignore_failure: false, test}. Layouts are Go's
// reference-time layouts, or UNIX / UNIX_MS for epoch numbers; test values
// must parse when the processor is built.
func newTimestamp(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "field", "target_field", "layouts", "timezone", "ignore_missing", "ignore_failure", "test", "id")
	if err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "")
	if err != nil || field == "" {
		return nil, fmt.Errorf("field: required, a field name")
	}
	target, err := stringOpt(cfg, "target_field", "@timestamp")
	if err != nil {
		return nil, err
	}
	layouts, err := stringList(cfg["layouts"])
	if err != nil || len(layouts) == 0 {
		return nil, fmt.Errorf("layouts: required, Go time layouts like 2006-01-02T15:04:05Z07:00, or UNIX, UNIX_MS")
	}
	tz, err := stringOpt(cfg, "timezone", "UTC")
	if err != nil {
		return nil, err
	}
	loc, err := parseTimezone(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone: %v", err)
	}
	parse := func(v any) (time.Time, error) {
		s := str(v)
		for _, l := range layouts {
			switch l {
			case "UNIX", "UNIX_MS":
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					continue
				}
				if l == "UNIX_MS" {
					return time.UnixMilli(int64(f)).UTC(), nil
				}
				sec := int64(f)
				return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
			default:
				if t, err := time.ParseInLocation(l, s, loc); err == nil {
					return t, nil
				}
			}
		}
		return time.Time{}, fmt.Errorf("failed parsing time field %s=%q with the layouts", field, s)
	}
	if v, ok := cfg["test"]; ok && v != nil {
		tests, err := stringList(v)
		if err != nil {
			return nil, fmt.Errorf("test: %v", err)
		}
		for _, s := range tests {
			if _, err := parse(s); err != nil {
				return nil, fmt.Errorf("test: %q does not parse with the layouts", s)
			}
		}
	}
	return func(doc map[string]any) (bool, error) {
		v, ok, err := o.value(doc, field)
		if !ok {
			return false, err
		}
		t, err := parse(v)
		if err != nil {
			return o.fail(err)
		}
		return false, putPath(doc, target, t.UTC().Format(time.RFC3339Nano))
	}, nil
}
