package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Common holds the options every protocol accepts.
type Common struct {
	Enabled            bool
	Ports              []uint16
	SendRequest        bool
	SendResponse       bool
	TransactionTimeout time.Duration
	KeepNull           bool
	// Detect hands connections on no configured port to this protocol
	// when its probe recognises their first bytes (TCP only).
	Detect bool
	// Shards is how many flow shards of one capture each run an instance
	// (0 or 1: one). Bounds on tables shared by all of a capture's
	// traffic (UDP transactions, connections) are divided among them
	// with Share, so the capture holds what one instance would.
	Shards int
}

// Share is a per-capture bound divided among the capture's shards (at
// least 1).
func (c Common) Share(bound int) int {
	if c.Shards <= 1 {
		return bound
	}
	return max(1, bound/c.Shards)
}

// StreamKeys are keys a stream may carry that belong to the stream layer
// (input/config), not to the protocol: the protocol never sees them.
var StreamKeys = map[string]bool{
	"id": true, "type": true, "data_stream": true, "processors": true,
	"tags": true, "fields": true, "fields_under_root": true, "index": true,
	"interface": true, "procs": true, "npcap": true, "interfaces": true,
	"ignore_outgoing": true, "_conf": true, "keep_null": true, "enabled": true,
	"condition": true, "pipeline": true, "monitor_processes": true,
}

// Options is the protocol-specific part of a stream's configuration.
type Options map[string]any

// Decode fills into (a pointer to a struct with yaml tags) from the options,
// rejecting keys the struct does not declare so a typo in a Fleet policy is
// reported instead of silently ignored.
func (o Options) Decode(into any) error {
	if len(o) == 0 {
		return nil
	}
	raw, err := yaml.Marshal(map[string]any(o))
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		return cleanYAMLError(err, append(yamlKeys(into), StreamOptionNames()...))
	}
	return nil
}

func cleanYAMLError(err error, known []string) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			// "line 3: field foo not found in type x.Config" -> "unknown option foo"
			if i := strings.Index(m, "field "); i >= 0 && strings.Contains(m, " not found in type") {
				name := m[i+len("field "):]
				name = name[:strings.Index(name, " not found")]
				msgs = append(msgs, "unknown option "+strconv.Quote(name)+DidYouMean(name, known))
				continue
			}
			if i := strings.Index(m, ": "); i >= 0 && strings.HasPrefix(m, "line ") {
				m = m[i+2:]
			}
			msgs = append(msgs, m)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// SplitCommon takes a stream's protocol map (stream keys already removed or
// not) and returns the common options, applying the spec's defaults, and the
// protocol-specific rest.
func SplitCommon(spec *Spec, stream map[string]any) (Common, Options, error) {
	c := Common{Enabled: true, TransactionTimeout: spec.DefaultTimeout,
		SendRequest: spec.DefaultSendRequest, SendResponse: spec.DefaultSendResponse}
	rest := Options{}
	var errs []string
	for k, v := range stream {
		var err error
		switch k {
		case "enabled":
			c.Enabled, err = AsBool(v)
		case "keep_null":
			c.KeepNull, err = AsBool(v)
		case "detect":
			c.Detect, err = AsBool(v)
			if err == nil && c.Detect && (spec.Probe == nil || !spec.TCP) {
				err = fmt.Errorf("protocol %s cannot be detected by content", spec.Name)
			}
		case "ports":
			c.Ports, err = AsPorts(v)
		case "send_request":
			c.SendRequest, err = AsBool(v)
		case "send_response":
			c.SendResponse, err = AsBool(v)
		case "transaction_timeout":
			c.TransactionTimeout, err = AsDuration(v)
			if err == nil && c.TransactionTimeout <= 0 {
				err = fmt.Errorf("must be positive")
			}
		default:
			if !StreamKeys[k] {
				rest[k] = v
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if c.Ports == nil {
		c.Ports = append([]uint16(nil), spec.DefaultPorts...)
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return c, rest, errors.New(strings.Join(errs, "; "))
	}
	return c, rest, nil
}

// StringList is an option that takes a YAML sequence of strings or one
// comma-separated string (what a Fleet "text" variable renders to). An empty
// string gives an empty, non-nil list, so "set to nothing" stays apart from
// "not set" (nil) for options whose default is not empty.
type StringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = StringList{}
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*l = append(*l, p)
			}
		}
	default:
		return fmt.Errorf("expected a list of strings")
	}
	return nil
}

// AsBool accepts YAML booleans and the strings "true"/"false".
func AsBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, fmt.Errorf("%q is not true or false", x)
		}
		return b, nil
	}
	return false, fmt.Errorf("%v is not true or false", v)
}

// AsPorts accepts a list of numbers or numeric strings (Fleet renders a text
// var), a single number, or a comma-separated string.
func AsPorts(v any) ([]uint16, error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		items = x
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		items = []any{x}
	}
	ports := make([]uint16, 0, len(items))
	for _, it := range items {
		var n int64
		switch p := it.(type) {
		case int:
			n = int64(p)
		case int64:
			n = p
		case uint64:
			n = int64(p)
		case float64:
			n = int64(p)
			if float64(n) != p {
				return nil, fmt.Errorf("%v is not a port number", p)
			}
		case string:
			var err error
			n, err = strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a port number", p)
			}
		default:
			return nil, fmt.Errorf("%v is not a port number", it)
		}
		if n < 1 || n > 65535 {
			return nil, fmt.Errorf("%d is outside 1-65535", n)
		}
		ports = append(ports, uint16(n))
	}
	return ports, nil
}

// AsInt accepts a whole YAML number (int, int64, uint64, or a float64 with
// no fraction, which is how JSON-decoded policies carry numbers) within
// [min, max]. Strings are not numbers here: a quoted value is reported.
func AsInt(v any, min, max int64) (int, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		n = int64(x)
	case float64:
		n = int64(x)
		if float64(n) != x {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%d is outside %d-%d", n, min, max)
	}
	return int(n), nil
}

// NonNegative resolves an optional size or count option decoded into a
// *int: def when it is not set, its value when that is zero or more, else
// the error "<name>: must not be negative, got <n>".
func NonNegative(name string, v *int, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 0 {
		return 0, fmt.Errorf("%s: must not be negative, got %d", name, *v)
	}
	return *v, nil
}

// AsDuration accepts Go duration strings ("10s", "1m30s") and plain numbers,
// which count seconds as in Beats' configuration.
func AsDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case string:
		s := strings.TrimSpace(x)
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return time.Duration(f * float64(time.Second)), nil
		}
		return 0, fmt.Errorf("%q is not a duration (use units ns, us, ms, s, m, h)", x)
	case int:
		return time.Duration(x) * time.Second, nil
	case int64:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}
