package outcfg

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// TLS reads the `ssl` block: nil when absent or `enabled: false`. See
// TLSBlock for the settings; errors name ssl.<setting>.
func (c *Config) TLS() (*tls.Config, error) {
	v, ok := c.Raw("ssl")
	if !ok {
		return nil, nil
	}
	if _, isMap := v.(map[string]any); !isMap {
		return nil, fmt.Errorf("ssl: want a map, got %v", v)
	}
	tc, err := TLSBlock(v)
	if err != nil {
		return nil, fmt.Errorf("ssl.%w", err)
	}
	return tc, nil
}

// TLSBlock reads an `ssl` block (the map under `ssl`; nil: none), for
// every output: nil when absent or `enabled: false`. Errors name the
// setting inside the block. Settings:
//   - enabled (true)
//   - certificate_authorities: paths or inline PEM
//   - certificate, key: a client certificate (paths or inline PEM), both
//     or neither; key_passphrase decrypts a legacy encrypted PEM key
//     (Proc-Type: 4,ENCRYPTED; encrypted PKCS#8 is not in Go's library
//     and is refused)
//   - verification_mode: full (default), strict (the same: chain and host
//     name), certificate (chain only), none
//   - ca_trusted_fingerprint: the hex SHA-256 of a CA certificate that,
//     when the server sends it in its chain, is trusted as a root (Fleet's
//     "Elasticsearch CA trusted fingerprint")
//   - supported_protocols: TLSv1.0 to TLSv1.3 (default TLSv1.2 and up)
//   - renegotiation: never (default), once, freely
//
// Anything else is an error naming it: a setting accepted must do what it
// says.
func TLSBlock(v any) (*tls.Config, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a map, got %v", v)
	}
	s := &Config{m: m, used: map[string]bool{}}
	on, err := s.Bool("enabled", true)
	if err != nil {
		return nil, err
	}
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	var unknown []string
	for k := range m {
		if !s.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%s: unknown setting (supported: enabled, certificate_authorities, certificate, key, key_passphrase, verification_mode, ca_trusted_fingerprint, supported_protocols, renegotiation)",
			strings.Join(unknown, ", "))
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
	pass, err := s.String("key_passphrase", "")
	if err != nil {
		return nil, err
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
		if pass != "" {
			if keyPEM, err = decryptKey(keyPEM, pass); err != nil {
				return nil, fmt.Errorf("key_passphrase: %w", err)
			}
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("certificate/key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else if pass != "" {
		return nil, errors.New("key_passphrase: set without a key")
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
	reneg, err := s.String("renegotiation", "never")
	if err != nil {
		return nil, err
	}
	switch reneg {
	case "never", "":
		tc.Renegotiation = tls.RenegotiateNever
	case "once":
		tc.Renegotiation = tls.RenegotiateOnceAsClient
	case "freely":
		tc.Renegotiation = tls.RenegotiateFreelyAsClient
	default:
		return nil, fmt.Errorf("renegotiation: %q (use never, once or freely)", reneg)
	}
	fp, err := s.String("ca_trusted_fingerprint", "")
	if err != nil {
		return nil, err
	}
	fp = strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	if fp != "" {
		if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("ca_trusted_fingerprint: %q is not a hex SHA-256", fp)
		}
	}
	mode, err := s.String("verification_mode", "full")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "", "full", "strict":
		// Go's default verification checks chain and host name; with a
		// fingerprint the chain check is ours.
		if fp != "" {
			tc.InsecureSkipVerify = true
			tc.VerifyConnection = verifyChain(tc.RootCAs, fp, true)
		}
	case "certificate":
		// Chain verified, host name not: the chain check is ours.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = verifyChain(tc.RootCAs, fp, false)
	case "none":
		tc.InsecureSkipVerify = true
	default:
		return nil, fmt.Errorf("verification_mode: %q (use full, strict, certificate or none)", mode)
	}
	return tc, nil
}

// verifyChain checks the server's chain against roots (nil: the system's)
// or, with a fingerprint, also trusts the certificate of that SHA-256 the
// server sent in its chain; and the host name when withHost.
func verifyChain(roots *x509.CertPool, fingerprint string, withHost bool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server sent no certificate")
		}
		pool := roots
		if fingerprint != "" {
			if roots != nil {
				pool = roots.Clone()
			} else if sys, err := x509.SystemCertPool(); err == nil {
				pool = sys
			} else {
				pool = x509.NewCertPool()
			}
			for _, c := range cs.PeerCertificates {
				sum := sha256.Sum256(c.Raw)
				if hex.EncodeToString(sum[:]) == fingerprint {
					pool.AddCert(c)
				}
			}
		}
		opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
		if withHost {
			opts.DNSName = cs.ServerName
		}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// decryptKey decrypts a legacy encrypted PEM key (Proc-Type: 4,ENCRYPTED);
// an unencrypted key is returned as is.
func decryptKey(keyPEM []byte, pass string) ([]byte, error) {
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		return nil, errors.New("key is not PEM")
	}
	//nolint:staticcheck // legacy PEM encryption is what key_passphrase is for
	if !x509.IsEncryptedPEMBlock(blk) {
		if blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted PKCS#8 keys are not supported; decrypt the key or use a legacy encrypted PEM key")
		}
		return keyPEM, nil
	}
	//nolint:staticcheck
	der, err := x509.DecryptPEMBlock(blk, []byte(pass))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_ = pem.Encode(&out, &pem.Block{Type: blk.Type, Bytes: der})
	return out.Bytes(), nil
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
