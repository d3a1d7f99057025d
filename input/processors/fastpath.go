package processors

import (
	"strings"
	"unicode/utf8"
)

// The fast path: a chain made only of processors that add top-level
// objects (add_host_metadata, add_observer_metadata, add_cloud_metadata,
// add_fields, add_tags, add_labels, without `when`) gives the same document
// as the decode-process-encode path whenever the document lacks those
// top-level keys: the additions are then appended to the document's bytes.
// Fleet's stream templates put add_host_metadata on every stream, so this is
// the common case; anything else takes the general path.

// staticKV is one top-level member to add, already encoded.
type staticKV struct {
	key string
	raw []byte
}

// staticFunc returns the members a processor adds to a document that lacks
// them, or ok=false when it cannot say (the general path then runs).
type staticFunc func() (kvs []staticKV, ok bool)

// staticBuilders build processors that can also run on the fast path.
var staticBuilders = map[string]func(cfg map[string]any) (runFunc, staticFunc, error){}

func registerStatic(name string, b func(cfg map[string]any) (runFunc, staticFunc, error)) {
	staticBuilders[name] = b
	builders[name] = func(cfg map[string]any) (runFunc, error) {
		r, _, err := b(cfg)
		return r, err
	}
}

// staticValue makes the member that adds v at a dotted target: the first
// segment is the top-level key, the rest nests.
func staticValue(target string, v any) (staticKV, bool) {
	key, rest, nested := strings.Cut(target, ".")
	if key == "" || key == "@metadata" { // metadata is never published: the general path handles it
		return staticKV{}, false
	}
	if nested {
		m := map[string]any{}
		if err := putPath(m, rest, v); err != nil {
			return staticKV{}, false
		}
		v = m
	}
	raw, err := appendJSON(nil, v)
	if err != nil {
		return staticKV{}, false
	}
	return staticKV{key, raw}, true
}

// Filters: drop_event steps with a `when` are evaluated on a sparse
// decoding of the document (only the top-level members their conditions
// read), so a chain of additions and filters, the usual one, skips the
// general path too.

// filterKeys are the top-level keys a filter's condition can read: every
// dotted prefix of its fields (a top-level key may itself hold dots).
func filterKeys(c condition) []string {
	var keys []string
	for _, f := range condFields(c) {
		for i := 0; i <= len(f); i++ {
			if i == len(f) || f[i] == '.' {
				if !contains(keys, f[:i]) {
					keys = append(keys, f[:i])
				}
			}
		}
	}
	return keys
}

// fastFilter runs the chain when every step is an addition or a filter.
// drop reports a filter matched; ok=false sends the caller to the general
// path.
func (c *Chain) fastFilter(doc []byte) (out []byte, drop, ok bool) {
	if len(c.skip) != len(c.procs) {
		c.skip = make([]bool, len(c.procs))
	}
	clear(c.skip)
	if len(c.filterKeys) > 0 {
		m, ok := sparseDecode(doc, c.filterKeys)
		if !ok {
			return nil, false, false
		}
		for i := range c.procs {
			s := &c.procs[i]
			if s.when == nil {
				continue
			}
			matched := s.when.match(m)
			if s.filter && matched {
				return nil, true, true
			}
			c.skip[i] = !matched
		}
	}
	out, ok = c.fastRun(doc)
	return out, false, ok
}

// sparseDecode decodes the top-level members named in keys (the rest is
// only validated).
func sparseDecode(b []byte, keys []string) (map[string]any, bool) {
	m := map[string]any{}
	s := fastScanner{b: b}
	s.space()
	if !s.byte('{') {
		return nil, false
	}
	s.space()
	if s.byte('}') {
		s.space()
		return m, s.i == len(b)
	}
	for {
		s.space()
		if s.peek() != '"' {
			return nil, false
		}
		start := s.i + 1
		if !s.str() {
			return nil, false
		}
		key := b[start : s.i-1]
		for _, ch := range key {
			if ch == '\\' {
				return nil, false
			}
		}
		s.space()
		if !s.byte(':') {
			return nil, false
		}
		s.space()
		vstart := s.i
		if !s.value(0) {
			return nil, false
		}
		for _, k := range keys {
			if string(key) == k {
				d := jsonDecoder{b: b[:s.i], i: vstart}
				v, err := d.value()
				if err != nil {
					return nil, false
				}
				m[k] = v
				break
			}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.space()
			return m, s.i == len(b)
		default:
			return nil, false
		}
	}
}

// fastRun appends the chain's additions to doc when doc is a valid JSON
// object without any of their keys. ok=false sends the caller to the
// general path.
func (c *Chain) fastRun(doc []byte) (out []byte, ok bool) {
	kvs := c.kvBuf[:0]
	for i := range c.procs {
		if c.procs[i].filter || (i < len(c.skip) && c.skip[i]) {
			continue
		}
		add, ok := c.procs[i].static()
		if !ok {
			return nil, false
		}
		kvs = append(kvs, add...)
	}
	c.kvBuf = kvs
	for i := range kvs {
		for j := i + 1; j < len(kvs); j++ {
			if kvs[i].key == kvs[j].key {
				return nil, false // two additions to one object: merge in the general path
			}
		}
	}
	n, end, ok := scanTopLevel(doc, kvs)
	if !ok {
		return nil, false
	}
	out = append(c.buf[:0], doc[:end]...) // without the closing brace
	for i, kv := range kvs {
		if n > 0 || i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, kv.key)
		out = append(out, ':')
		out = append(out, kv.raw...)
	}
	out = append(out, '}')
	c.buf = out
	return out, true
}

// scanTopLevel checks that b is one JSON object in canonical enough shape
// for the fast path (valid UTF-8, no escaped keys, nothing after it) and
// without any of the keys of kvs at the top, and returns the number of keys
// and the offset of the closing brace.
func scanTopLevel(b []byte, kvs []staticKV) (n, end int, ok bool) {
	s := fastScanner{b: b}
	s.space()
	if !s.byte('{') {
		return 0, 0, false
	}
	s.space()
	if s.peek() == '}' {
		end = s.i
		s.i++
		s.space()
		return 0, end, s.i == len(b)
	}
	for {
		s.space()
		if s.peek() != '"' {
			return 0, 0, false
		}
		start := s.i + 1
		if !s.str() {
			return 0, 0, false
		}
		key := b[start : s.i-1]
		for _, c := range key {
			if c == '\\' {
				return 0, 0, false
			}
		}
		for i := range kvs {
			if string(key) == kvs[i].key {
				return 0, 0, false
			}
		}
		n++
		s.space()
		if !s.byte(':') || !s.value(0) {
			return 0, 0, false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			end = s.i
			s.i++
			s.space()
			return n, end, s.i == len(b)
		default:
			return 0, 0, false
		}
	}
}

// fastScanner validates JSON without building values.
type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *fastScanner) byte(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

func (s *fastScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *fastScanner) str() bool {
	s.i++ // opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return false // the general path would rewrite it as U+FFFD
			}
			s.i += size
		}
	}
	return false
}

func (s *fastScanner) value(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	s.space()
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '{', c == '[':
		closeCh := byte('}')
		if c == '[' {
			closeCh = ']'
		}
		s.i++
		s.space()
		if s.byte(closeCh) {
			return true
		}
		for {
			s.space()
			if c == '{' {
				if s.peek() != '"' || !s.str() {
					return false
				}
				s.space()
				if !s.byte(':') {
					return false
				}
			}
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.byte(',') {
				continue
			}
			return s.byte(closeCh)
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		d := jsonDecoder{b: s.b, i: s.i}
		if !d.skipNumber() {
			return false
		}
		s.i = d.i
		return true
	}
	return false
}

func (s *fastScanner) lit(w string) bool {
	if s.i+len(w) > len(s.b) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}
