package processors

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// condition is a parsed `when` clause.
type condition interface {
	match(doc map[string]any) bool
}

// parseCondition builds a condition from its config map. Several keys in one
// map must all hold.
func parseCondition(v any) (condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("condition must be a map, got %s", describe(v))
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	keys := sortedKeys(m)
	var all andCond
	for _, k := range keys {
		c, err := parseOne(k, m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		all = append(all, c)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

func parseOne(kind string, v any) (condition, error) {
	switch kind {
	case "equals":
		fields, err := fieldMap(v)
		if err != nil {
			return nil, err
		}
		c := equalsCond{}
		for _, f := range sortedKeys(fields) {
			want := fields[f]
			switch want.(type) {
			case string, bool, int, int64, uint64, float64:
			default:
				return nil, fmt.Errorf("%s: value must be a string, number or boolean, got %s", f, describe(want))
			}
			c = append(c, fieldValue{f, want})
		}
		return c, nil
	case "contains":
		fields, err := fieldMap(v)
		if err != nil {
			return nil, err
		}
		c := containsCond{}
		for _, f := range sortedKeys(fields) {
			s, ok := fields[f].(string)
			if !ok {
				return nil, fmt.Errorf("%s: value must be a string, got %s", f, describe(fields[f]))
			}
			c = append(c, fieldValue{f, s})
		}
		return c, nil
	case "regexp":
		fields, err := fieldMap(v)
		if err != nil {
			return nil, err
		}
		c := regexpCond{}
		for _, f := range sortedKeys(fields) {
			s, ok := fields[f].(string)
			if !ok {
				return nil, fmt.Errorf("%s: value must be a string, got %s", f, describe(fields[f]))
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			c = append(c, fieldRegexp{f, re})
		}
		return c, nil
	case "range":
		fields, err := fieldMap(v)
		if err != nil {
			return nil, err
		}
		return parseRange(fields)
	case "network":
		fields, err := fieldMap(v)
		if err != nil {
			return nil, err
		}
		return parseNetwork(fields)
	case "has_fields":
		list, err := stringList(v)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("needs at least one field")
		}
		return hasFieldsCond(list), nil
	case "or", "and":
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("must be a non-empty list of conditions")
		}
		var cs []condition
		for i, e := range list {
			c, err := parseCondition(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			cs = append(cs, c)
		}
		if kind == "or" {
			return orCond(cs), nil
		}
		return andCond(cs), nil
	case "not":
		c, err := parseCondition(v)
		if err != nil {
			return nil, err
		}
		return notCond{c}, nil
	}
	return nil, fmt.Errorf("unknown condition (want equals, contains, regexp, range, network, has_fields, or, and, not)")
}

type fieldValue struct {
	field string
	value any
}

type fieldRegexp struct {
	field string
	re    *regexp.Regexp
}

type equalsCond []fieldValue

func (c equalsCond) match(doc map[string]any) bool {
	for _, fv := range c {
		v, ok := getPath(doc, fv.field)
		if !ok || !equalValues(v, fv.value) {
			return false
		}
	}
	return true
}

// equalValues compares a document value with a configured one: numbers by
// value, strings and booleans exactly.
func equalValues(docV, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := docV.(string)
		return ok && s == w
	case bool:
		b, ok := docV.(bool)
		return ok && b == w
	}
	wf, ok := toFloat(want)
	if !ok {
		return false
	}
	df, ok := toFloat(docV)
	return ok && df == wf
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// stringsOf returns the string value(s) of a field: a string or the strings
// of an array.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

type containsCond []fieldValue

func (c containsCond) match(doc map[string]any) bool {
	for _, fv := range c {
		v, _ := getPath(doc, fv.field)
		found := false
		for _, s := range stringsOf(v) {
			if strings.Contains(s, fv.value.(string)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type regexpCond []fieldRegexp

func (c regexpCond) match(doc map[string]any) bool {
	for _, fr := range c {
		v, _ := getPath(doc, fr.field)
		found := false
		for _, s := range stringsOf(v) {
			if fr.re.MatchString(s) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type bound struct {
	field string
	op    string // gt, gte, lt, lte
	value float64
}

type rangeCond []bound

func parseRange(fields map[string]any) (condition, error) {
	var c rangeCond
	// Beats also takes the dotted form "field.gte: 400".
	merged := map[string]any{}
	for f, v := range fields {
		if _, isMap := v.(map[string]any); !isMap {
			if i := strings.LastIndexByte(f, '.'); i > 0 {
				switch op := f[i+1:]; op {
				case "gt", "gte", "lt", "lte":
					m, _ := merged[f[:i]].(map[string]any)
					if m == nil {
						m = map[string]any{}
						merged[f[:i]] = m
					}
					m[op] = v
					continue
				}
			}
		}
		if m, ok := merged[f].(map[string]any); ok {
			if vm, ok := v.(map[string]any); ok {
				for k, x := range vm {
					m[k] = x
				}
				continue
			}
		}
		merged[f] = v
	}
	fields = merged
	for _, f := range sortedKeys(fields) {
		ops, ok := fields[f].(map[string]any)
		if !ok || len(ops) == 0 {
			return nil, fmt.Errorf("%s: want a map of gt, gte, lt, lte to numbers", f)
		}
		for _, op := range sortedKeys(ops) {
			switch op {
			case "gt", "gte", "lt", "lte":
			default:
				return nil, fmt.Errorf("%s: unknown operator %q (want gt, gte, lt, lte)", f, op)
			}
			n, ok := toFloat(ops[op])
			if !ok {
				return nil, fmt.Errorf("%s.%s: %s is not a number", f, op, describe(ops[op]))
			}
			c = append(c, bound{f, op, n})
		}
	}
	return c, nil
}

func (c rangeCond) match(doc map[string]any) bool {
	for _, b := range c {
		v, _ := getPath(doc, b.field)
		x, ok := toFloat(v)
		if !ok || math.IsNaN(x) {
			return false
		}
		switch b.op {
		case "gt":
			ok = x > b.value
		case "gte":
			ok = x >= b.value
		case "lt":
			ok = x < b.value
		case "lte":
			ok = x <= b.value
		}
		if !ok {
			return false
		}
	}
	return true
}

// Named ranges of the network condition.
var namedNetworks = map[string]func(netip.Addr) bool{
	"loopback":  netip.Addr.IsLoopback,
	"private":   netip.Addr.IsPrivate,
	"public":    isPublic,
	"multicast": netip.Addr.IsMulticast,
	"unicast": func(a netip.Addr) bool {
		return !a.IsMulticast() && !a.IsUnspecified() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
	},
	"global_unicast":            netip.Addr.IsGlobalUnicast,
	"link_local_unicast":        netip.Addr.IsLinkLocalUnicast,
	"link_local_multicast":      netip.Addr.IsLinkLocalMulticast,
	"interface_local_multicast": netip.Addr.IsInterfaceLocalMulticast,
	"unspecified":               netip.Addr.IsUnspecified,
}

// isPublic is Beats' definition: not private, loopback, link local,
// multicast, unspecified or broadcast.
func isPublic(a netip.Addr) bool {
	return !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

// NetworkSet is a set of networks given as CIDRs, single addresses or the
// named ranges Beats knows (private, loopback, public, ...). It serves the
// network condition and the capture's internal_networks.
type NetworkSet struct {
	prefixes []netip.Prefix
	named    []func(netip.Addr) bool
}

// ParseNetworks builds a NetworkSet; an entry that is neither a CIDR, an
// address nor a known name is an error that lists the names.
func ParseNetworks(specs []string) (*NetworkSet, error) {
	n := &NetworkSet{}
	for _, s := range specs {
		if fn, ok := namedNetworks[s]; ok {
			n.named = append(n.named, fn)
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor one of %s", s, strings.Join(sortedKeys(namedNetworks), ", "))
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		n.prefixes = append(n.prefixes, p.Masked())
	}
	return n, nil
}

// Contains reports whether a is in one of the networks.
func (n *NetworkSet) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range n.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	for _, fn := range n.named {
		if fn(a) {
			return true
		}
	}
	return false
}

type netMatcher struct {
	field string
	set   *NetworkSet
}

type networkCond []netMatcher

func parseNetwork(fields map[string]any) (condition, error) {
	var c networkCond
	for _, f := range sortedKeys(fields) {
		specs, err := stringList(fields[f])
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		set, err := ParseNetworks(specs)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		c = append(c, netMatcher{field: f, set: set})
	}
	return c, nil
}

func (c networkCond) match(doc map[string]any) bool {
	for _, m := range c {
		v, _ := getPath(doc, m.field)
		found := false
		for _, s := range stringsOf(v) {
			a, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			if m.set.Contains(a) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type hasFieldsCond []string

func (c hasFieldsCond) match(doc map[string]any) bool {
	for _, f := range c {
		if _, ok := getPath(doc, f); !ok {
			return false
		}
	}
	return true
}

type orCond []condition

func (c orCond) match(doc map[string]any) bool {
	for _, x := range c {
		if x.match(doc) {
			return true
		}
	}
	return false
}

type andCond []condition

func (c andCond) match(doc map[string]any) bool {
	for _, x := range c {
		if !x.match(doc) {
			return false
		}
	}
	return true
}

type notCond struct{ c condition }

func (c notCond) match(doc map[string]any) bool { return !c.c.match(doc) }

func fieldMap(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("want a map of field names to values, got %s", describe(v))
	}
	return m, nil
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want strings, got %s", describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return x, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %s", describe(v))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describe names a config value's type for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// condFields lists the fields a condition reads.
func condFields(c condition) []string {
	var out []string
	switch x := c.(type) {
	case equalsCond:
		for _, f := range x {
			out = append(out, f.field)
		}
	case containsCond:
		for _, f := range x {
			out = append(out, f.field)
		}
	case regexpCond:
		for _, f := range x {
			out = append(out, f.field)
		}
	case rangeCond:
		for _, b := range x {
			out = append(out, b.field)
		}
	case networkCond:
		for _, m := range x {
			out = append(out, m.field)
		}
	case hasFieldsCond:
		out = append(out, x...)
	case orCond:
		for _, e := range x {
			out = append(out, condFields(e)...)
		}
	case andCond:
		for _, e := range x {
			out = append(out, condFields(e)...)
		}
	case notCond:
		out = condFields(x.c)
	}
	return out
}
