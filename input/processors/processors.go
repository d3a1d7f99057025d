// Package processors applies Beats-style processors (add_fields, add_tags,
// drop_fields, drop_event, rename, add_host_metadata,
// add_observer_metadata, with `when` conditions) to encoded documents.
//
// Documents arrive as JSON bytes from ecsmap. A chain decodes a document
// once, applies every processor and re-encodes it. A nil or empty chain
// returns the document untouched without decoding it, so streams without
// processors pay nothing.
package processors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Chain is an ordered list of processors. Safe for use from one goroutine
// at a time.
type Chain struct {
	procs []step
	buf   bytes.Buffer
}

// step is one configured processor with its optional condition.
type step struct {
	name string
	when condition
	run  func(doc map[string]any) (drop bool, err error)
}

// builders maps processor names to constructors of their run function.
var builders = map[string]func(cfg map[string]any) (func(map[string]any) (bool, error), error){
	"add_fields":            newAddFields,
	"add_tags":              newAddTags,
	"drop_fields":           newDropFields,
	"drop_event":            newDropEvent,
	"rename":                newRename,
	"add_host_metadata":     newAddHostMetadata,
	"add_observer_metadata": newAddObserverMetadata,
}

// Names lists the supported processors.
func Names() []string { return sortedKeys(builders) }

// New builds a chain from processor configs as they appear in a stream's
// `processors` list: each item is a one-key map {name: options}. A `when`
// condition may sit inside the options or next to the name. Returns a nil
// chain (which costs nothing) when cfgs is empty.
func New(cfgs []map[string]any) (*Chain, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	c := &Chain{}
	for i, item := range cfgs {
		s, err := newStep(item)
		if err != nil {
			return nil, fmt.Errorf("processors[%d]%s", i, err.Error())
		}
		c.procs = append(c.procs, s)
	}
	return c, nil
}

// newStep returns errors starting with " (name): ..." or ": ..." so New can
// prefix the index.
func newStep(item map[string]any) (step, error) {
	var name string
	var when any
	for k, v := range item {
		if k == "when" {
			when = v
			continue
		}
		if name != "" {
			return step{}, fmt.Errorf(": one processor per list item, found %q and %q", min(name, k), max(name, k))
		}
		name = k
	}
	if name == "" {
		return step{}, fmt.Errorf(": no processor name")
	}
	build, ok := builders[name]
	if !ok {
		return step{}, fmt.Errorf(": unknown processor %q (supported: %s)", name, strings.Join(Names(), ", "))
	}
	var opts map[string]any
	switch v := item[name].(type) {
	case nil:
		opts = map[string]any{}
	case map[string]any:
		opts = make(map[string]any, len(v))
		for k, x := range v {
			opts[k] = x
		}
	default:
		return step{}, fmt.Errorf(" (%s): options must be a map, got %s", name, describe(v))
	}
	if w, ok := opts["when"]; ok {
		if when != nil {
			return step{}, fmt.Errorf(" (%s): `when` given twice", name)
		}
		when = w
		delete(opts, "when")
	}
	s := step{name: name}
	if when != nil {
		cond, err := parseCondition(when)
		if err != nil {
			return step{}, fmt.Errorf(" (%s): when: %v", name, err)
		}
		s.when = cond
	}
	run, err := build(opts)
	if err != nil {
		return step{}, fmt.Errorf(" (%s): %v", name, err)
	}
	s.run = run
	return s, nil
}

// Len is the number of processors.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.procs)
}

// Run applies the chain to one JSON document. It returns the new document
// (doc itself when the chain is empty; otherwise a buffer owned by the chain,
// valid until the next Run), whether the event is dropped, or an error (the
// caller keeps the original document).
func (c *Chain) Run(doc []byte) (out []byte, drop bool, err error) {
	if c == nil || len(c.procs) == 0 {
		return doc, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // keep numbers exactly as written (nanosecond durations, ports)
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, false, fmt.Errorf("processors: document is not a JSON object: %v", err)
	}
	if m == nil { // "null" decodes without error
		return nil, false, fmt.Errorf("processors: document is null, not a JSON object")
	}
	for i := range c.procs {
		s := &c.procs[i]
		if s.when != nil && !s.when.match(m) {
			continue
		}
		drop, err := s.run(m)
		if err != nil {
			return nil, false, fmt.Errorf("processors[%d] (%s): %v", i, s.name, err)
		}
		if drop {
			return nil, true, nil
		}
	}
	c.buf.Reset()
	enc := json.NewEncoder(&c.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, false, fmt.Errorf("processors: encoding: %v", err)
	}
	return bytes.TrimSuffix(c.buf.Bytes(), []byte{'\n'}), false, nil
}

// checkKeys rejects options a processor does not know.
func checkKeys(cfg map[string]any, known ...string) error {
	var unknown []string
	for k := range cfg {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown option %s (known: %s)", quoteSorted(unknown), strings.Join(known, ", "))
	}
	return nil
}

func quoteSorted(keys []string) string {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	ks := sortedKeys(m)
	for i, k := range ks {
		ks[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(ks, ", ")
}

func boolOpt(cfg map[string]any, key string, def bool) (bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("%s: %s is not true or false", key, describe(v))
}

func stringOpt(cfg map[string]any, key string, def string) (string, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: must be a string, got %s", key, describe(v))
	}
	return s, nil
}

// add_fields: {target: "project", fields: {...}}. target defaults to
// "fields"; an empty target adds at the root. Objects merge, other values
// are overwritten.
func newAddFields(cfg map[string]any) (func(map[string]any) (bool, error), error) {
	if err := checkKeys(cfg, "target", "fields"); err != nil {
		return nil, err
	}
	target, err := stringOpt(cfg, "target", "fields")
	if err != nil {
		return nil, err
	}
	fields, ok := cfg["fields"].(map[string]any)
	if !ok || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a non-empty map")
	}
	fields = deepCopy(fields).(map[string]any)
	return func(doc map[string]any) (bool, error) {
		dst := doc
		if target != "" {
			existing, _ := getPath(doc, target)
			sub, ok := existing.(map[string]any)
			if !ok {
				sub = map[string]any{}
				if err := putPath(doc, target, sub); err != nil {
					return false, err
				}
			}
			dst = sub
		}
		deepMerge(dst, fields)
		return false, nil
	}, nil
}

// add_tags: {tags: [..], target: "tags"}. Tags are appended to the array at
// target (default "tags"), skipping ones already present.
func newAddTags(cfg map[string]any) (func(map[string]any) (bool, error), error) {
	if err := checkKeys(cfg, "tags", "target"); err != nil {
		return nil, err
	}
	tags, err := stringList(cfg["tags"])
	if err != nil || len(tags) == 0 {
		return nil, fmt.Errorf("tags: required, a string or a list of strings")
	}
	target, err := stringOpt(cfg, "target", "tags")
	if err != nil {
		return nil, err
	}
	if target == "" {
		target = "tags"
	}
	return func(doc map[string]any) (bool, error) {
		cur, _ := getPath(doc, target)
		var list []any
		switch x := cur.(type) {
		case nil:
		case []any:
			list = x
		case string:
			list = []any{x}
		default:
			return false, fmt.Errorf("%s is not a list of tags", target)
		}
		for _, t := range tags {
			dup := false
			for _, e := range list {
				if e == t {
					dup = true
					break
				}
			}
			if !dup {
				list = append(list, t)
			}
		}
		return false, putPath(doc, target, list)
	}, nil
}

// drop_fields: {fields: [..], ignore_missing: false}. @timestamp and type are
// never dropped (Beats keeps them too). A missing field is an error unless
// ignore_missing; the other fields are dropped either way.
func newDropFields(cfg map[string]any) (func(map[string]any) (bool, error), error) {
	if err := checkKeys(cfg, "fields", "ignore_missing"); err != nil {
		return nil, err
	}
	fields, err := stringList(cfg["fields"])
	if err != nil || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a string or a list of strings")
	}
	ignore, err := boolOpt(cfg, "ignore_missing", false)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		var missing []string
		for _, f := range fields {
			if f == "@timestamp" || f == "type" {
				continue
			}
			if !deletePath(doc, f) && !ignore {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return false, fmt.Errorf("field not found: %s", strings.Join(missing, ", "))
		}
		return false, nil
	}, nil
}

// drop_event drops every event its condition matches (all without one).
func newDropEvent(cfg map[string]any) (func(map[string]any) (bool, error), error) {
	if err := checkKeys(cfg); err != nil {
		return nil, err
	}
	return func(map[string]any) (bool, error) { return true, nil }, nil
}

// rename: {fields: [{from: a, to: b}], ignore_missing: false,
// fail_on_error: true}. An existing target is an error. With fail_on_error
// the document is left as it was.
func newRename(cfg map[string]any) (func(map[string]any) (bool, error), error) {
	if err := checkKeys(cfg, "fields", "ignore_missing", "fail_on_error"); err != nil {
		return nil, err
	}
	list, ok := cfg["fields"].([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("fields: required, a list of {from, to}")
	}
	type pair struct{ from, to string }
	var pairs []pair
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("fields[%d]: want {from, to}, got %s", i, describe(e))
		}
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		if from == "" || to == "" {
			return nil, fmt.Errorf("fields[%d]: from and to are both required strings", i)
		}
		if err := checkKeys(m, "from", "to"); err != nil {
			return nil, fmt.Errorf("fields[%d]: %v", i, err)
		}
		pairs = append(pairs, pair{from, to})
	}
	ignore, err := boolOpt(cfg, "ignore_missing", false)
	if err != nil {
		return nil, err
	}
	failOnError, err := boolOpt(cfg, "fail_on_error", true)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		var done []pair // to undo on failure
		fail := func(err error) (bool, error) {
			if !failOnError {
				return false, nil
			}
			for i := len(done) - 1; i >= 0; i-- {
				v, _ := getPath(doc, done[i].to)
				deletePath(doc, done[i].to)
				_ = putPath(doc, done[i].from, v)
			}
			return false, err
		}
		for _, p := range pairs {
			v, ok := getPath(doc, p.from)
			if !ok {
				if ignore {
					continue
				}
				return fail(fmt.Errorf("field %q not found", p.from))
			}
			if _, exists := getPath(doc, p.to); exists {
				return fail(fmt.Errorf("target field %q already exists", p.to))
			}
			deletePath(doc, p.from)
			if err := putPath(doc, p.to, v); err != nil {
				_ = putPath(doc, p.from, v)
				return fail(err)
			}
			done = append(done, p)
		}
		return false, nil
	}, nil
}
