package kafka

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/outcfg"
	"os"
	"sort"
	"strings"
)

// tlsFromMap builds the client TLS config from Beats' `ssl` settings. It
// returns nil when ssl is absent or `enabled: false`. Settings it cannot
// honour are errors naming them.
func tlsFromMap(v any) (*tls.Config, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a map, got %T", v)
	}
	if e, ok := m["enabled"]; ok {
		b, ok := e.(bool)
		if !ok {
			return nil, errors.New("enabled: must be true or false")
		}
		if !b {
			return nil, nil
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	var mode, certRef, keyRef, pass, fingerprint string
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := m[k]
		var err error
		switch k {
		case "enabled":
		case "verification_mode":
			mode, err = str(val)
		case "certificate_authorities":
			var cas []string
			if cas, err = outcfg.StrList(val); err != nil {
				break
			}
			if len(cas) == 0 {
				break
			}
			pool := x509.NewCertPool()
			for _, ca := range cas {
				b, rerr := pemOrFile(ca)
				if rerr != nil {
					return nil, fmt.Errorf("certificate_authorities: %w", rerr)
				}
				if !pool.AppendCertsFromPEM(b) {
					return nil, fmt.Errorf("certificate_authorities: no PEM certificate in %s", shortRef(ca))
				}
			}
			tc.RootCAs = pool
		case "certificate":
			certRef, err = str(val)
		case "key":
			keyRef, err = str(val)
		case "key_passphrase":
			pass, err = str(val)
		case "ca_trusted_fingerprint":
			fingerprint, err = str(val)
			fingerprint = strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
		case "supported_protocols":
			var ps []string
			if ps, err = outcfg.StrList(val); err != nil {
				break
			}
			tc.MinVersion, tc.MaxVersion = 0, 0
			for _, p := range ps {
				ver, ok := map[string]uint16{"TLSv1.0": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
					"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}[p]
				if !ok {
					return nil, fmt.Errorf("supported_protocols: %q (use TLSv1.0 ... TLSv1.3)", p)
				}
				if tc.MinVersion == 0 || ver < tc.MinVersion {
					tc.MinVersion = ver
				}
				if ver > tc.MaxVersion {
					tc.MaxVersion = ver
				}
			}
		case "renegotiation":
			var s string
			if s, err = str(val); err != nil {
				break
			}
			switch s {
			case "never", "":
				tc.Renegotiation = tls.RenegotiateNever
			case "once":
				tc.Renegotiation = tls.RenegotiateOnceAsClient
			case "freely":
				tc.Renegotiation = tls.RenegotiateFreelyAsClient
			default:
				return nil, fmt.Errorf("renegotiation: %q (use never, once or freely)", s)
			}
		default:
			// cipher_suites, curve_types, ca_sha256, ...: not implemented.
			return nil, fmt.Errorf("%s: not supported by the kafka output", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if certRef != "" || keyRef != "" {
		if certRef == "" || keyRef == "" {
			return nil, errors.New("certificate and key: both are needed for a client certificate")
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
	switch mode {
	case "", "full", "strict":
		// Go's default checks the chain and the host name.
		if fingerprint != "" {
			tc.InsecureSkipVerify = true
			tc.VerifyConnection = verifyChain(tc.RootCAs, fingerprint, true)
		}
	case "certificate":
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = verifyChain(tc.RootCAs, fingerprint, false)
	case "none":
		tc.InsecureSkipVerify = true
	default:
		return nil, fmt.Errorf("verification_mode: %q (use full, strict, certificate or none)", mode)
	}
	return tc, nil
}

// verifyChain checks the server's chain against roots (or, with a
// fingerprint, trusts a chain that contains the CA of that SHA-256
// fingerprint), and the host name when withHost.
func verifyChain(roots *x509.CertPool, fingerprint string, withHost bool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("server sent no certificate")
		}
		pool := roots
		if fingerprint != "" {
			pool = x509.NewCertPool()
			if roots != nil {
				pool = roots.Clone()
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

// decryptKey decrypts a legacy encrypted PEM key (Proc-Type: 4,ENCRYPTED).
// Encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") is not in Go's library.
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
