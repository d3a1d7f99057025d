// Package processors applies the processors a Beats or Fleet user writes
// in a stream's `processors` list, with Beats' names, options and
// semantics, and `when` conditions (equals, contains, regexp, range,
// network, has_fields, or, and, not; conditions.go).
//
// One file per family:
//
//	fields.go     add_fields, add_tags, add_labels, drop_fields, include_fields,
//	              drop_event, rename, copy_fields, extract_array
//	transform.go  convert, replace, truncate_fields, urldecode, decode_base64_field
//	decode.go     decode_json_fields, decode_xml
//	dissect.go    dissect
//	script.go     script (JavaScript, ECMAScript 5.1 in goja)
//	syslog.go     syslog
//	network.go    community_id, add_network_direction, registered_domain
//	dns.go        dns
//	misc.go       add_id, add_locale, fingerprint, rate_limit
//	hostinfo.go   add_host_metadata, add_observer_metadata
//	cloud.go      add_cloud_metadata
//	process.go    add_process_metadata
//	docker.go     add_docker_metadata
//	kubernetes.go add_kubernetes_metadata
//
// Documents arrive as JSON bytes from ecsmap. A chain decodes a document
// once, applies every processor and re-encodes it. A nil chain (no
// processors configured) returns the document untouched without decoding
// it, so streams without processors pay nothing.
//
// A bad option is an error from New naming the processor and the option.
// A processor failing on an event stops the chain there, as in Beats; the
// event is still published, with error.message, and Run reports the error
// so the caller counts it. Metadata processors whose source is not
// reachable (cloud, Docker, Kubernetes) leave events as they are and never
// hold one: their sources are read in the background.
package processors

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Chain is an ordered list of processors. Safe for use from one goroutine
// at a time.
type Chain struct {
	procs  []step
	buf    []byte
	static bool // every step can run on the fast path
	// filterKeys are the top-level keys the conditions read (fastpath.go).
	filterKeys []string
	skip       []bool     // per step: its condition did not match (fast path)
	kvBuf      []staticKV // the fast path's additions, reused
	docID      string     // @metadata._id of the last event (add_id, document_id)
}

// runFunc applies one processor to a decoded document. drop cancels the
// event. An error is a runtime failure: the chain stops there, as Beats'
// does, and the event is published with error.message.
type runFunc func(doc map[string]any) (drop bool, err error)

// builder turns a processor's options into its run function; an error is a
// configuration error naming the option.
type builder func(cfg map[string]any) (runFunc, error)

// step is one configured processor with its optional condition.
type step struct {
	name   string
	when   condition
	run    runFunc
	static staticFunc // non-nil: the step can run on the fast path (fastpath.go)
	filter bool       // drop_event with a condition: the fast path evaluates it
}

// builders maps processor names to constructors. Each family registers its
// own in an init function of its file.
var builders = map[string]builder{}

func register(name string, b builder) { builders[name] = b }

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
	// The fast path takes additions and filters, provided no filter reads
	// a key an addition writes (additions are not applied to the sparse
	// view the filters see).
	c.static = true
	var added []string
	for i := range c.procs {
		s := &c.procs[i]
		switch {
		case s.filter:
			c.filterKeys = append(c.filterKeys, filterKeys(s.when)...)
		case s.static != nil:
			if s.when != nil {
				c.filterKeys = append(c.filterKeys, filterKeys(s.when)...)
			}
			if kvs, ok := s.static(); ok {
				for _, kv := range kvs {
					added = append(added, kv.key)
				}
			} else {
				c.static = false
			}
		default:
			c.static = false
		}
	}
	for _, k := range c.filterKeys {
		top, _, _ := strings.Cut(k, ".")
		if contains(added, top) || contains(added, k) || top == "host" || top == "observer" || top == "cloud" {
			c.static = false // (metadata additions may change their keys later)
		}
	}
	return c, nil
}

// newStep returns errors starting with " (name): ..." or ": ..." so New can
// prefix the index.
func newStep(item map[string]any) (step, error) {
	item, err := expandCondKeys(item, "if")
	if err != nil {
		return step{}, err
	}
	if _, ok := item["if"]; ok {
		return newIfStep(item)
	}
	if item, err = expandCondKeys(item, "when"); err != nil {
		return step{}, err
	}
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
	if why, known := unsupported[name]; !ok && known {
		return step{}, fmt.Errorf(" (%s): not supported here: %s", name, why)
	}
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
	if opts, err = expandCondKeys(opts, "when"); err != nil {
		return step{}, fmt.Errorf(" (%s): %v", name, err)
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
	var run runFunc
	var static staticFunc
	if sb, ok := staticBuilders[name]; ok {
		run, static, err = sb(opts)
	} else {
		run, err = build(opts)
	}
	if err != nil {
		return step{}, fmt.Errorf(" (%s): %v", name, err)
	}
	s.run = run
	s.static = static // with a `when`, the fast path evaluates it first
	if s.when != nil && name == "drop_event" {
		s.filter = true
	}
	return s, nil
}

// expandCondKeys turns Beats' dotted shorthand for a condition
// ("if.equals.cloudfoundry.org.name: acme", "when.has_fields: [a]") into
// the nested form: the first segment after the prefix is the condition, the
// rest its field.
func expandCondKeys(m map[string]any, prefix string) (map[string]any, error) {
	var out map[string]any
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(m))
			for k2, v2 := range m {
				out[k2] = v2
			}
		}
		delete(out, k)
		cond, _ := out[prefix].(map[string]any)
		if _, exists := out[prefix]; exists && cond == nil {
			return nil, fmt.Errorf(": %s given twice", prefix)
		}
		if cond == nil {
			cond = map[string]any{}
			out[prefix] = cond
		}
		kind, field, hasField := strings.Cut(rest, ".")
		if !hasField {
			cond[kind] = v
			continue
		}
		fields, _ := cond[kind].(map[string]any)
		if fields == nil {
			fields = map[string]any{}
			cond[kind] = fields
		}
		fields[field] = v
	}
	if out == nil {
		return m, nil
	}
	return out, nil
}

// newIfStep builds Beats' conditional list item:
//
//   - if: {condition}
//     then: [processors]
//     else: [processors]   (optional)
func newIfStep(item map[string]any) (step, error) {
	for k := range item {
		if k != "if" && k != "then" && k != "else" {
			return step{}, fmt.Errorf(" (if): unknown key %q (want if, then, else)", k)
		}
	}
	cond, err := parseCondition(item["if"])
	if err != nil {
		return step{}, fmt.Errorf(" (if): %v", err)
	}
	branch := func(key string) ([]step, error) {
		v, ok := item[key]
		if !ok || v == nil {
			return nil, nil
		}
		var list []any
		switch x := v.(type) {
		case []any:
			list = x
		case map[string]any: // a single processor
			list = []any{x}
		default:
			return nil, fmt.Errorf(" (if): %s: want a list of processors, got %s", key, describe(v))
		}
		var steps []step
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf(" (if): %s[%d]: want a processor, got %s", key, i, describe(e))
			}
			st, err := newStep(m)
			if err != nil {
				return nil, fmt.Errorf(" (if): %s[%d]%s", key, i, err.Error())
			}
			steps = append(steps, st)
		}
		return steps, nil
	}
	then, err := branch("then")
	if err != nil {
		return step{}, err
	}
	if len(then) == 0 {
		return step{}, fmt.Errorf(" (if): then: required, a list of processors")
	}
	els, err := branch("else")
	if err != nil {
		return step{}, err
	}
	runAll := func(key string, steps []step, doc map[string]any) (bool, error) {
		for i := range steps {
			s := &steps[i]
			if s.when != nil && !s.when.match(doc) {
				continue
			}
			drop, err := s.run(doc)
			if err != nil {
				return false, fmt.Errorf("%s[%d] (%s): %v", key, i, s.name, err)
			}
			if drop {
				return true, nil
			}
		}
		return false, nil
	}
	return step{name: "if", run: func(doc map[string]any) (bool, error) {
		if cond.match(doc) {
			return runAll("then", then, doc)
		}
		return runAll("else", els, doc)
	}}, nil
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
// valid until the next Run) and whether the event is dropped.
//
// A processor failing at run time stops the chain (Beats' rule): out is then
// the event as the processors left it, with error.message saying what
// failed, and err is that failure, for the caller to count and log. out is
// nil only when doc is not a JSON object at all.
func (c *Chain) Run(doc []byte) (out []byte, drop bool, err error) {
	if c == nil || len(c.procs) == 0 {
		return doc, false, nil
	}
	c.docID = ""
	if c.static {
		if out, drop, ok := c.fastFilter(doc); ok {
			return out, drop, nil
		}
	}
	m, err := decodeDocument(doc)
	if err != nil {
		return nil, false, fmt.Errorf("processors: %v", err)
	}
	var runErr error
	for i := range c.procs {
		s := &c.procs[i]
		if s.when != nil && !s.when.match(m) {
			continue
		}
		drop, err := s.run(m)
		if err != nil {
			runErr = fmt.Errorf("processors[%d] (%s): %v", i, s.name, err)
			setErrorMessage(m, runErr.Error())
			break
		}
		if drop {
			return nil, true, nil
		}
	}
	if md, ok := m["@metadata"].(map[string]any); ok {
		c.docID, _ = md["_id"].(string)
	}
	delete(m, "@metadata") // Beats' event metadata is never indexed
	out, err = appendJSON(c.buf[:0], m)
	if err != nil {
		return nil, false, fmt.Errorf("processors: encoding: %v", err)
	}
	c.buf = out
	return out, false, runErr
}

// DocID is the @metadata._id the last Run left (add_id, or document_id of
// decode_json_fields and decode_xml): the document's _id in
// Elasticsearch, as in Beats. Empty when none.
func (c *Chain) DocID() string {
	if c == nil {
		return ""
	}
	return c.docID
}

// setErrorMessage records a processor failure in error.message as Beats
// does. An "error" that is not an object is kept under error.original;
// messages already there are kept too.
func setErrorMessage(m map[string]any, msg string) {
	switch e := m["error"].(type) {
	case map[string]any:
		// Notes the decoder already put there stay: the message becomes a list.
		switch old := e["message"].(type) {
		case nil:
			e["message"] = msg
		case []any:
			e["message"] = append(old, msg)
		default:
			e["message"] = []any{old, msg}
		}
	case nil:
		m["error"] = map[string]any{"message": msg}
	default:
		m["error"] = map[string]any{"message": msg, "original": e}
	}
}

// checkKeys rejects options a processor does not know.
func checkKeys(cfg map[string]any, known ...string) error {
	var unknown []string
	for k := range cfg {
		if !contains(known, k) {
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

// fromTo is one {from, to} pair of the processors that move or rewrite
// fields (rename, copy_fields, urldecode, decode_base64_field, ...).
type fromTo struct{ from, to string }

// fromToList parses a list of {from, to} maps; to may be optional.
func fromToList(v any, needTo bool) ([]fromTo, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("required, a list of {from, to}")
	}
	var out []fromTo
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: want {from, to}, got %s", i, describe(e))
		}
		if err := checkKeys(m, "from", "to"); err != nil {
			return nil, fmt.Errorf("[%d]: %v", i, err)
		}
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		if from == "" || (needTo && to == "") {
			if needTo {
				return nil, fmt.Errorf("[%d]: from and to are both required strings", i)
			}
			return nil, fmt.Errorf("[%d]: from is a required string", i)
		}
		out = append(out, fromTo{from, to})
	}
	return out, nil
}

// snapshot and restore give fail_on_error its meaning: on a failure the
// event goes back to what it was before the processor ran.
func snapshot(doc map[string]any) map[string]any { return deepCopy(doc).(map[string]any) }

func restore(doc, snap map[string]any) {
	clear(doc)
	for k, v := range snap {
		doc[k] = v
	}
}

// perField runs op for each of n fields with Beats' fail_on_error rule:
// true stops at the first error and reverts the event; false goes on with
// the other fields and reports nothing.
func perField(doc map[string]any, failOnError bool, n int, op func(i int) error) error {
	var snap map[string]any
	if failOnError {
		snap = snapshot(doc)
	}
	for i := 0; i < n; i++ {
		if err := op(i); err != nil && failOnError {
			restore(doc, snap)
			return err
		}
	}
	return nil
}

// errMissing marks a field not found, which ignore_missing forgives.
type errMissing string

func (e errMissing) Error() string { return fmt.Sprintf("field %q not found", string(e)) }

func intOpt(cfg map[string]any, key string, def int) (int, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok {
		if s, isStr := v.(string); isStr {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err == nil {
				return n, nil
			}
		}
		return 0, fmt.Errorf("%s: %s is not an integer", key, describe(v))
	}
	if f != float64(int(f)) {
		return 0, fmt.Errorf("%s: %s is not an integer", key, describe(v))
	}
	return int(f), nil
}

// durationOpt reads a Go/Beats duration ("500ms", "3s"); a bare number is
// seconds, as in Beats' config.
func durationOpt(cfg map[string]any, key string, def time.Duration) (time.Duration, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a duration (like 500ms, 3s)", key, s)
		}
		return d, nil
	}
	if f, ok := toFloat(v); ok {
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%s: %s is not a duration", key, describe(v))
}

// subOpts reads a nested option group that may also be written with dotted
// keys ("cache.ttl: 5m" or "cache: {ttl: 5m}") and returns it flat.
func subOpts(cfg map[string]any, group string) (map[string]any, error) {
	out := map[string]any{}
	if v, ok := cfg[group]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be a map, got %s", group, describe(v))
		}
		flattenInto(out, "", m)
	}
	for k, v := range cfg {
		if rest, ok := strings.CutPrefix(k, group+"."); ok {
			out[rest] = v
		}
	}
	return out, nil
}

func flattenInto(dst map[string]any, prefix string, m map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flattenInto(dst, prefix+k+".", sub)
			continue
		}
		dst[prefix+k] = v
	}
}

// checkKeysGroups is checkKeys allowing dotted members of option groups.
func checkKeysGroups(cfg map[string]any, groups []string, known ...string) error {
	rest := map[string]any{}
	for k, v := range cfg {
		inGroup := false
		for _, g := range groups {
			if k == g || strings.HasPrefix(k, g+".") {
				inGroup = true
			}
		}
		if !inGroup {
			rest[k] = v
		}
	}
	return checkKeys(rest, append(known, groups...)...)
}
