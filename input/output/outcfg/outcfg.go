// Package outcfg reads the settings the Beats-style outputs share from an
// output unit's config map: typed values with errors that name the setting,
// the `ssl` block, and a check that refuses settings an output does not
// implement, so a Fleet user sees a FAILED output naming the setting
// instead of an option silently ignored.
package outcfg

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Ignored are settings every output accepts without acting on them: they
// belong to other parts of the agent (the queue, status reporting) or say
// what the map already is.
var Ignored = []string{"type", "enabled", "queue", "status_reporting"}

// Config is an output's settings with the names read so far remembered, so
// Unknown can report the rest.
type Config struct {
	m    map[string]any
	used map[string]bool
}

// New wraps the output map.
func New(m map[string]any) *Config {
	c := &Config{m: m, used: map[string]bool{}}
	for _, k := range Ignored {
		c.used[k] = true
	}
	return c
}

// Map returns the raw map.
func (c *Config) Map() map[string]any { return c.m }

// Has reports whether a top-level setting is present (and not null).
func (c *Config) Has(key string) bool {
	c.used[key] = true
	v, ok := c.m[key]
	return ok && v != nil
}

// Raw returns a setting's value and marks it used.
func (c *Config) Raw(key string) (any, bool) {
	c.used[key] = true
	v, ok := c.m[key]
	return v, ok && v != nil
}

// Unsupported refuses settings the output knows of but cannot honour, with
// why.
func (c *Config) Unsupported(why string, keys ...string) error {
	for _, k := range keys {
		if v, ok := c.m[k]; ok && v != nil {
			return fmt.Errorf("%s: not supported by this output (%s)", k, why)
		}
		c.used[k] = true
	}
	return nil
}

// Unknown returns an error naming every setting nothing read, with the
// supported ones.
func (c *Config) Unknown(output string) error {
	var unknown, known []string
	for k := range c.m {
		if !c.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	for k := range c.used {
		if !contains(Ignored, k) {
			known = append(known, k)
		}
	}
	sort.Strings(unknown)
	sort.Strings(known)
	return fmt.Errorf("unknown %s output setting %s (supported: %s)", output, strings.Join(unknown, ", "), strings.Join(known, ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String reads a string setting.
func (c *Config) String(key, def string) (string, error) {
	v, ok := c.Raw(key)
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %v", key, v)
	}
	return s, nil
}

// Bool reads a boolean setting.
func (c *Config) Bool(key string, def bool) (bool, error) {
	v, ok := c.Raw(key)
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s: want true or false, got %v", key, v)
}

// Int reads a whole number within [lo, hi].
func (c *Config) Int(key string, def, lo, hi int) (int, error) {
	v, ok := c.Raw(key)
	if !ok {
		return def, nil
	}
	n, err := AsInt(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %v must be a whole number from %d to %d", key, v, lo, hi)
	}
	return n, nil
}

// Duration reads a duration ("30s"; a bare number is seconds), > 0 unless
// zero is allowed.
func (c *Config) Duration(key string, def time.Duration, zeroOK bool) (time.Duration, error) {
	v, ok := c.Raw(key)
	if !ok {
		return def, nil
	}
	d, err := AsDuration(v)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%s: %v is not a positive duration such as 30s", key, v)
	}
	return d, nil
}

// Strings reads a string or a list of strings.
func (c *Config) Strings(key string) ([]string, error) {
	v, _ := c.Raw(key)
	l, err := StrList(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return l, nil
}

// Sub returns a nested map setting (nil if absent).
func (c *Config) Sub(key string) (*Config, error) {
	v, ok := c.Raw(key)
	if !ok {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a map, got %v", key, v)
	}
	sub := &Config{m: m, used: map[string]bool{}}
	return sub, nil
}

// MaxRetries accepts Beats' max_retries only where it means what this
// output does: retry until delivered (-1, or absent). Dropping events after
// N attempts would lose them silently; the queue's back-pressure takes the
// place of that bound.
func (c *Config) MaxRetries() error {
	v, ok := c.Raw("max_retries")
	if !ok {
		return nil
	}
	if n, err := AsInt(v); err == nil && n < 0 {
		return nil
	}
	return fmt.Errorf("max_retries: %v is not supported: events are retried until the output takes them (back-pressure reaches the capture, drops are counted there); remove it or set -1", v)
}

// Backoff reads backoff.init and backoff.max (Beats defaults 1s and 60s).
func (c *Config) Backoff() (initial, maxWait time.Duration, err error) {
	initial, maxWait = time.Second, 60*time.Second
	b, err := c.Sub("backoff")
	if err != nil || b == nil {
		return initial, maxWait, err
	}
	if initial, err = b.Duration("init", initial, false); err != nil {
		return 0, 0, fmt.Errorf("backoff.%w", err)
	}
	if maxWait, err = b.Duration("max", maxWait, false); err != nil {
		return 0, 0, fmt.Errorf("backoff.%w", err)
	}
	if err := b.Unknown("backoff"); err != nil {
		return 0, 0, err
	}
	if maxWait < initial {
		maxWait = initial
	}
	return initial, maxWait, nil
}

// StrList accepts a string or a list of strings.
func StrList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", it)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("must be a list of strings")
}

// AsInt accepts the number shapes YAML, JSON and protobuf structs produce.
func AsInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case uint64:
		return int(x), nil
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("%v is not whole", x)
		}
		return int(x), nil
	case string:
		return strconv.Atoi(x)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// AsDuration accepts "30s" or a number of seconds.
func AsDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			return d, nil
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(f * float64(time.Second)), nil
		}
		return 0, fmt.Errorf("%q is not a duration", x)
	case int:
		return time.Duration(x) * time.Second, nil
	case int64:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}
