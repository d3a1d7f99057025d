// Package outcfg reads the settings the Beats-style outputs share from an
// output unit's config map: typed values with errors that name the setting,
// the `ssl` block, and a check that refuses settings an output does not
// implement, so a Fleet user sees a FAILED output naming the setting
// instead of an option silently ignored.
package outcfg

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
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

// TLS reads the `ssl` block: nil when absent or `enabled: false`.
// Supported: enabled, certificate_authorities, certificate, key,
// key_passphrase (refused: encrypted keys), verification_mode (full,
// strict, certificate, none), supported_protocols, ca_trusted_fingerprint.
func (c *Config) TLS() (*tls.Config, error) {
	s, err := c.Sub("ssl")
	if err != nil || s == nil {
		return nil, err
	}
	on, err := s.Bool("enabled", true)
	if err != nil {
		return nil, fmt.Errorf("ssl.%w", err)
	}
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("ssl.%w", err)
	}
	if err := s.Unknown("ssl"); err != nil {
		return nil, err
	}
	if !on {
		return nil, nil
	}
	return tc, nil
}

func (s *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	cas, err := s.Strings("certificate_authorities")
	if err != nil {
		return nil, err
	}
	if len(cas) > 0 {
		pool := x509.NewCertPool()
		for _, ca := range cas {
			pem, err := pemOrFile(ca)
			if err != nil {
				return nil, fmt.Errorf("certificate_authorities: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("certificate_authorities: no PEM certificate in %s", shortRef(ca))
			}
		}
		tc.RootCAs = pool
	}
	certRef, err := s.String("certificate", "")
	if err != nil {
		return nil, err
	}
	keyRef, err := s.String("key", "")
	if err != nil {
		return nil, err
	}
	if pass, _ := s.String("key_passphrase", ""); pass != "" {
		return nil, errors.New("key_passphrase: encrypted keys are not supported; give an unencrypted key")
	}
	if certRef != "" || keyRef != "" {
		if certRef == "" || keyRef == "" {
			return nil, errors.New("certificate and key: give both or neither")
		}
		certPEM, err := pemOrFile(certRef)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		keyPEM, err := pemOrFile(keyRef)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("certificate/key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	protos, err := s.Strings("supported_protocols")
	if err != nil {
		return nil, err
	}
	if len(protos) > 0 {
		var lo, hi uint16
		for _, p := range protos {
			v, ok := map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
				"TLSv1.1": tls.VersionTLS11, "TLSv1.0": tls.VersionTLS10}[p]
			if !ok {
				return nil, fmt.Errorf("supported_protocols: %q (use TLSv1.0 to TLSv1.3)", p)
			}
			if lo == 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
		tc.MinVersion, tc.MaxVersion = lo, hi
	}
	fp, err := s.String("ca_trusted_fingerprint", "")
	if err != nil {
		return nil, err
	}
	mode, err := s.String("verification_mode", "full")
	if err != nil {
		return nil, err
	}
	roots := tc.RootCAs
	switch mode {
	case "", "full", "strict":
		// Go's default verification checks chain and host name.
	case "none":
		tc.InsecureSkipVerify = true
	case "certificate":
		// Chain verified, host name not: do the chain check ourselves.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	default:
		return nil, fmt.Errorf("verification_mode: %q (use full, strict, certificate or none)", mode)
	}
	if fp != "" {
		return nil, errors.New("ca_trusted_fingerprint: not supported; give certificate_authorities")
	}
	return tc, nil
}

// pemOrFile accepts inline PEM (as Fleet can send) or a file path.
func pemOrFile(ref string) ([]byte, error) {
	if strings.Contains(ref, "-----BEGIN") {
		return []byte(ref), nil
	}
	if ref == "" {
		return nil, errors.New("empty")
	}
	return os.ReadFile(ref)
}

func shortRef(ref string) string {
	if strings.Contains(ref, "-----BEGIN") {
		return "inline PEM"
	}
	return ref
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
