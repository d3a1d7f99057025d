package outfmt

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/network-traffic/network-traffic/input/processors"
)

// Selector picks a destination name (a Kafka topic, a Redis key) per event
// from a single format string and an ordered list of rules, as the Beats
// outputs do with `topic`+`topics` or `key`+`keys`:
//
//	key: "%{[data_stream.type]}-%{[data_stream.dataset]}"   # used when no rule applies
//	keys:
//	  - key: "dns-%{[data_stream.namespace]}"
//	    when: {equals: {network.protocol: dns}}
//	  - key: "%{[fields.kind]}"
//	    mappings: {a: alpha, b: beta}                       # value looked up; rule skipped if absent
//	    default: other                                      # ... unless a default is given
//
// The first rule whose condition holds and whose format fills (and maps)
// wins. A rule that cannot fill is skipped; when nothing applies the single
// format is used, and if that cannot fill either Select returns an error
// naming the field: the caller counts and logs the event as failed.
type Selector struct {
	name  string // "key", "topic": for messages
	def   *Format
	rules []rule
	// Conditions read documents decoded: only the fields they name
	// (fields) unless one cannot say which (full).
	fields []string
	full   bool
}

type rule struct {
	format   *Format
	mappings map[string]string
	def      string
	hasDef   bool
	when     processors.Condition
}

// NewSelector reads the single setting cfg[single] and the rules
// cfg[list]; a rule's format is under the same name as the single setting.
// fallback is used when neither is set; with fallback "" one of them is
// required.
func NewSelector(cfg map[string]any, single, list, fallback string) (*Selector, error) {
	s := &Selector{name: single}
	if v, ok := cfg[single]; ok && v != nil {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a string, got %T", single, v)
		}
		f, err := Parse(str)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", single, err)
		}
		s.def = f
	}
	if v, ok := cfg[list]; ok && v != nil {
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a list of rules, got %T", list, v)
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: want a map, got %T", list, i, it)
			}
			r, err := parseRule(m, single)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %v", list, i, err)
			}
			if r.when != nil {
				if fs, ok := r.when.Fields(); ok {
					s.fields = append(s.fields, fs...)
				} else {
					s.full = true
				}
			}
			s.rules = append(s.rules, r)
		}
	}
	if s.def == nil {
		if fallback == "" && len(s.rules) == 0 {
			return nil, fmt.Errorf("%s: required (or %s rules)", single, list)
		}
		if fallback != "" {
			s.def = &Format{src: fallback, parts: []part{{lit: fallback}}}
		}
	}
	return s, nil
}

func parseRule(m map[string]any, single string) (rule, error) {
	var r rule
	var unknown []string
	for k := range m {
		switch k {
		case single, "mappings", "default", "when":
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return r, fmt.Errorf("unknown setting %s (a rule has %s, mappings, default, when)", strings.Join(unknown, ", "), single)
	}
	str, ok := m[single].(string)
	if !ok {
		return r, fmt.Errorf("%s: required, a format string", single)
	}
	f, err := Parse(str)
	if err != nil {
		return r, fmt.Errorf("%s: %v", single, err)
	}
	r.format = f
	if v, ok := m["mappings"]; ok && v != nil {
		mm, ok := v.(map[string]any)
		if !ok {
			return r, fmt.Errorf("mappings: want a map of values to names, got %T", v)
		}
		r.mappings = make(map[string]string, len(mm))
		for k, x := range mm {
			xs, ok := x.(string)
			if !ok {
				return r, fmt.Errorf("mappings.%s: want a string, got %T", k, x)
			}
			r.mappings[k] = xs
		}
	}
	if v, ok := m["default"]; ok && v != nil {
		ds, ok := v.(string)
		if !ok {
			return r, fmt.Errorf("default: want a string, got %T", v)
		}
		r.def, r.hasDef = ds, true
	}
	if v, ok := m["when"]; ok && v != nil {
		c, err := processors.ParseCondition(v)
		if err != nil {
			return r, fmt.Errorf("when: %v", err)
		}
		r.when = c
	}
	return r, nil
}

// Const returns the name when it is the same for every event.
func (s *Selector) Const() (string, bool) {
	if len(s.rules) > 0 || s.def == nil {
		return "", false
	}
	return s.def.Const()
}

// ErrNoMatch is wrapped by Select's error when nothing applies.
var ErrNoMatch = errors.New("no rule applies")

// Select returns the name for the document (JSON bytes).
func (s *Selector) Select(doc []byte) (string, error) {
	if c, ok := s.Const(); ok {
		return c, nil
	}
	var m map[string]any
	var decErr error
	decoded := false
	var buf [128]byte
	for _, r := range s.rules {
		if r.when != nil {
			if !decoded {
				m, decErr = s.decode(doc)
				decoded = true
			}
			if decErr != nil || !r.when.Match(m) {
				continue
			}
		}
		b, err := r.format.Append(buf[:0], doc)
		if err != nil {
			continue
		}
		if r.mappings != nil {
			v, ok := r.mappings[string(b)]
			switch {
			case ok:
				return v, nil
			case r.hasDef:
				return r.def, nil
			}
			continue
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
	if s.def == nil {
		return "", fmt.Errorf("no %s for the event: %w and %s is not set", s.name, ErrNoMatch, s.name)
	}
	b, err := s.def.Append(buf[:0], doc)
	if err != nil {
		return "", fmt.Errorf("no %s for the event: %s %q: %w", s.name, s.name, s.def.src, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("no %s for the event: %s %q is empty", s.name, s.name, s.def.src)
	}
	return string(b), nil
}

// decode returns the document as conditions read it: only the fields they
// name, each decoded on its own and stored under its dotted path (which
// lookups try first), or the whole document when needed.
func (s *Selector) decode(doc []byte) (map[string]any, error) {
	if s.full {
		return decode(doc)
	}
	m := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		raw, ok := lookup(doc, f)
		if !ok {
			continue
		}
		v, err := decodeValue(raw)
		if err != nil {
			return nil, err
		}
		m[f] = v
	}
	return m, nil
}

// String returns the single format string ("" if only rules are set).
func (s *Selector) String() string {
	if s.def == nil {
		return ""
	}
	return s.def.src
}
