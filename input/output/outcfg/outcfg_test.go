package outcfg

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

func TestTypedSettingsAndUnknown(t *testing.T) {
	c := New(map[string]any{"type": "x", "queue": map[string]any{}, "n": 3.0, "d": "250ms", "s": 2, "b": "true", "extra": 1, "other": 2})
	if n, err := c.Int("n", 0, 0, 5); err != nil || n != 3 {
		t.Errorf("n %d %v", n, err)
	}
	if d, err := c.Duration("d", 0, false); err != nil || d != 250*time.Millisecond {
		t.Errorf("d %v %v", d, err)
	}
	if d, err := c.Duration("s", 0, false); err != nil || d != 2*time.Second {
		t.Errorf("s %v %v", d, err)
	}
	if b, err := c.Bool("b", false); err != nil || !b {
		t.Errorf("b %v %v", b, err)
	}
	err := c.Unknown("test")
	if err == nil || !strings.Contains(err.Error(), "unknown test output setting extra, other (supported: b, d, n, s)") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := New(map[string]any{"n": 9}).Int("n", 0, 0, 5); err == nil || !strings.Contains(err.Error(), "n: 9 must be a whole number from 0 to 5") {
		t.Errorf("range: %v", err)
	}
}

func TestTLS(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := New(map[string]any{"ssl": map[string]any{
		"certificate_authorities": []any{certs.CA}, "certificate": certs.ClientCert, "key": certs.ClientKey,
		"supported_protocols": []any{"TLSv1.3"}, "verification_mode": "certificate",
	}}).TLS()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.MinVersion != tls.VersionTLS13 || !tc.InsecureSkipVerify || tc.VerifyConnection == nil {
		t.Errorf("config %+v", tc)
	}
	if tc, err := New(map[string]any{"ssl": map[string]any{"enabled": false, "certificate_authorities": []any{certs.CA}}}).TLS(); err != nil || tc != nil {
		t.Errorf("disabled: %v %v", tc, err)
	}
	for want, ssl := range map[string]map[string]any{
		"ssl.certificate_authorities: open /nope":   {"certificate_authorities": "/nope"},
		"ssl.verification_mode: \"maybe\"":          {"verification_mode": "maybe"},
		"ssl.key_passphrase: set without a key":     {"key_passphrase": "x"},
		"ssl.ca_trusted_fingerprint: \"ab\" is not": {"ca_trusted_fingerprint": "ab"},
		"ssl.renegotiation: \"often\"":              {"renegotiation": "often"},
		"ssl.supported_protocols: \"SSLv3\"":        {"supported_protocols": []any{"SSLv3"}},
		"ssl.curve_types: unknown setting":          {"curve_types": []any{"P-256"}},
		"ssl.certificate/key":                       {"certificate": certs.ClientCert, "key": certs.ServerCert},
	} {
		if _, err := New(map[string]any{"ssl": ssl}).TLS(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", ssl, err, want)
		}
	}
}
