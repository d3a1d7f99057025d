package processors

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// dissect: {tokenizer, field: message, target_prefix: dissect,
// ignore_failure: false, overwrite_keys: false, trim_values: none,
// trim_chars: " "}. The tokenizer is Beats' pattern language: %{key}
// between literal delimiters, with the modifiers
//
//	%{} %{?key}    skip the value
//	%{+key} %{+key/2}  append to key (joined with the delimiter before it), in ordinal order
//	%{*key} %{&key}    the first names a field, the second gives its value
//	%{key->}       skip repeats of the delimiter that follows
//	%{key|integer} convert (integer, long, float, double, boolean, ip)
//
// A line the pattern does not match leaves the event as it was, adds
// "dissect_parsing_error" to log.flags and is an error unless ignore_failure.

func init() { register("dissect", newDissect) }

type dissectField struct {
	key      string
	skip     bool
	appendTo bool
	ordinal  int
	indName  bool // *key: the value is a field name
	indValue bool // &key: the value of the field named by *key
	greedy   bool
	convert  string
	delim    string // the literal after this field ("" for the last one)
	join     string // for append: the delimiter before this field
	order    int
}

type dissector struct {
	prefix string
	fields []dissectField
}

var dissectToken = regexp.MustCompile(`%\{([^}]*)\}`)

func parseDissect(pattern string) (*dissector, error) {
	locs := dissectToken.FindAllStringSubmatchIndex(pattern, -1)
	if len(locs) == 0 {
		return nil, fmt.Errorf("no %%{key} in the pattern")
	}
	d := &dissector{prefix: pattern[:locs[0][0]]}
	prevDelim := d.prefix
	for i, loc := range locs {
		f := dissectField{order: i}
		raw := pattern[loc[2]:loc[3]]
		end := len(pattern)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		f.delim = pattern[loc[1]:end]
		if f.delim == "" && i+1 < len(locs) {
			return nil, fmt.Errorf("%%{%s} is followed by another key without a delimiter between them", raw)
		}
		if k, t, ok := strings.Cut(raw, "|"); ok {
			switch t {
			case "integer", "long", "float", "double", "boolean", "ip":
			default:
				return nil, fmt.Errorf("%%{%s}: unknown data type %q (want integer, long, float, double, boolean, ip)", raw, t)
			}
			raw, f.convert = k, t
		}
		if k, ok := strings.CutSuffix(raw, "->"); ok {
			raw, f.greedy = k, true
		}
		switch {
		case raw == "":
			f.skip = true
		case raw[0] == '?':
			f.skip, raw = true, raw[1:]
		case raw[0] == '+':
			f.appendTo, raw = true, raw[1:]
			if k, n, ok := strings.Cut(raw, "/"); ok {
				o, err := strconv.Atoi(n)
				if err != nil || o < 0 {
					return nil, fmt.Errorf("%%{+%s}: ordinal %q is not a number", raw, n)
				}
				raw, f.ordinal = k, o
			}
			f.join = prevDelim
			if f.join == "" {
				f.join = " "
			}
		case raw[0] == '*':
			f.indName, raw = true, raw[1:]
		case raw[0] == '&':
			f.indValue, raw = true, raw[1:]
		}
		if !f.skip && raw == "" {
			return nil, fmt.Errorf("a key is empty after its modifier")
		}
		if strings.ContainsAny(raw, "+*&?/") {
			return nil, fmt.Errorf("%%{%s}: modifiers go before the key name", raw)
		}
		f.key = raw
		d.fields = append(d.fields, f)
		prevDelim = f.delim
	}
	return d, nil
}

// dissect splits s; the result maps keys to string values.
func (d *dissector) dissect(s string) (map[string]string, error) {
	rem, ok := strings.CutPrefix(s, d.prefix)
	if !ok {
		return nil, fmt.Errorf("could not find beginning delimiter: %q in remaining: %q", d.prefix, s)
	}
	values := make([]string, len(d.fields))
	for i := range d.fields {
		f := &d.fields[i]
		if f.delim == "" {
			values[i], rem = rem, ""
			continue
		}
		j := strings.Index(rem, f.delim)
		if j < 0 {
			return nil, fmt.Errorf("could not find delimiter: %q in remaining: %q", f.delim, rem)
		}
		values[i], rem = rem[:j], rem[j+len(f.delim):]
		if f.greedy {
			for strings.HasPrefix(rem, f.delim) {
				rem = rem[len(f.delim):]
			}
		}
	}
	out := map[string]string{}
	names := map[string]string{} // *key -> the name it gave
	var appends []int
	for i := range d.fields {
		f := &d.fields[i]
		switch {
		case f.skip:
		case f.appendTo:
			appends = append(appends, i)
		case f.indName:
			names[f.key] = values[i]
		case f.indValue:
		default:
			out[f.key] = values[i]
		}
	}
	sort.SliceStable(appends, func(a, b int) bool { return d.fields[appends[a]].ordinal < d.fields[appends[b]].ordinal })
	for _, i := range appends {
		f := &d.fields[i]
		if prev, ok := out[f.key]; ok {
			out[f.key] = prev + f.join + values[i]
		} else {
			out[f.key] = values[i]
		}
	}
	for i := range d.fields {
		f := &d.fields[i]
		if f.indValue {
			name, ok := names[f.key]
			if !ok {
				return nil, fmt.Errorf("%%{&%s} has no %%{*%s} naming it", f.key, f.key)
			}
			if name != "" {
				out[name] = values[i]
			}
		}
	}
	return out, nil
}

func newDissect(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "tokenizer", "field", "target_prefix", "ignore_failure", "overwrite_keys", "trim_values", "trim_chars", "tag")
	if err != nil {
		return nil, err
	}
	tok, err := stringOpt(cfg, "tokenizer", "")
	if err != nil || tok == "" {
		return nil, fmt.Errorf("tokenizer: required, a pattern like \"%%{key1} %%{key2}\"")
	}
	d, err := parseDissect(tok)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %v", err)
	}
	field, err := stringOpt(cfg, "field", "message")
	if err != nil {
		return nil, err
	}
	prefix, err := stringOpt(cfg, "target_prefix", "dissect")
	if err != nil {
		return nil, err
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", false)
	if err != nil {
		return nil, err
	}
	trim, err := stringOpt(cfg, "trim_values", "none")
	if err != nil {
		return nil, err
	}
	switch trim {
	case "none", "left", "right", "all":
	default:
		return nil, fmt.Errorf("trim_values: %q is not one of none, left, right, all", trim)
	}
	cutset, err := stringOpt(cfg, "trim_chars", " ")
	if err != nil {
		return nil, err
	}
	convert := map[string]string{}
	for _, f := range d.fields {
		if f.convert != "" {
			convert[f.key] = f.convert
		}
	}
	fail := func(doc map[string]any, err error) (bool, error) {
		appendFlag(doc, "dissect_parsing_error")
		return o.fail(err)
	}
	return func(doc map[string]any) (bool, error) {
		s, ok, err := o.str(doc, field)
		if !ok {
			return fail(doc, err)
		}
		vals, err := d.dissect(s)
		if err != nil {
			return fail(doc, err)
		}
		out := make(map[string]any, len(vals))
		for k, val := range vals {
			switch trim {
			case "left":
				val = strings.TrimLeft(val, cutset)
			case "right":
				val = strings.TrimRight(val, cutset)
			case "all":
				val = strings.Trim(val, cutset)
			}
			var x any = val
			if t, ok := convert[k]; ok {
				c, err := convertValue(val, t)
				if err != nil {
					return fail(doc, fmt.Errorf("%s: %v", k, err))
				}
				x = c
			}
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			if _, exists := getPath(doc, name); exists && !overwrite {
				return fail(doc, fmt.Errorf("cannot override existing key %q", name))
			}
			out[name] = x
		}
		for _, name := range sortedKeys(out) {
			if err := putPath(doc, name, out[name]); err != nil {
				return fail(doc, err)
			}
		}
		return false, nil
	}, nil
}
