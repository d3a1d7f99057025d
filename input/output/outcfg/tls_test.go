package outcfg

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// ca_trusted_fingerprint: a server whose chain carries the CA of that
// SHA-256 is trusted without certificate_authorities (host name still
// checked in full mode); another fingerprint fails the handshake.
func TestTLSTrustedFingerprint(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(certs.CA)
	blk, _ := pem.Decode(caPEM)
	pair.Certificate = append(pair.Certificate, blk.Bytes) // the chain includes the CA
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	sum := sha256.Sum256(blk.Bytes)
	fp := hex.EncodeToString(sum[:])
	dial := func(ssl map[string]any, server string) error {
		tc, err := TLSBlock(ssl)
		if err != nil {
			t.Fatal(err)
		}
		tc.ServerName = server
		c, err := tls.Dial("tcp", ln.Addr().String(), tc)
		if err == nil {
			c.Close()
		}
		return err
	}
	// Colons and upper case as Kibana shows it.
	var colons []string
	for i := 0; i < len(fp); i += 2 {
		colons = append(colons, strings.ToUpper(fp[i:i+2]))
	}
	if err := dial(map[string]any{"ca_trusted_fingerprint": strings.Join(colons, ":")}, "localhost"); err != nil {
		t.Fatalf("trusted fingerprint: %v", err)
	}
	if err := dial(map[string]any{"ca_trusted_fingerprint": fp}, "elsewhere.example"); err == nil {
		t.Fatal("full mode with a fingerprint accepted a wrong host name")
	}
	if err := dial(map[string]any{"ca_trusted_fingerprint": fp, "verification_mode": "certificate"}, "elsewhere.example"); err != nil {
		t.Fatalf("certificate mode with a fingerprint: %v", err)
	}
	other := strings.Repeat("ab", 32)
	if err := dial(map[string]any{"ca_trusted_fingerprint": other}, "localhost"); err == nil {
		t.Fatal("a fingerprint of no certificate in the chain was trusted")
	}
	if err := dial(map[string]any{}, "localhost"); err == nil {
		t.Fatal("the test CA was trusted without a fingerprint")
	}
}

// key_passphrase decrypts a legacy encrypted PEM key; a wrong passphrase
// is an error naming it.
func TestTLSKeyPassphrase(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(certs.ClientKey)
	blk, _ := pem.Decode(raw)
	//nolint:staticcheck // the legacy format key_passphrase is for
	enc, err := x509.EncryptPEMBlock(rand.Reader, blk.Type, blk.Bytes, []byte("s3cret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(certs.Dir, "enc-key.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(enc), 0o600)
	tc, err := TLSBlock(map[string]any{"certificate": certs.ClientCert, "key": keyFile, "key_passphrase": "s3cret"})
	if err != nil || len(tc.Certificates) != 1 {
		t.Fatalf("decrypted key: %v", err)
	}
	if _, err := TLSBlock(map[string]any{"certificate": certs.ClientCert, "key": keyFile, "key_passphrase": "wrong"}); err == nil || !strings.Contains(err.Error(), "key_passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := TLSBlock(map[string]any{"certificate": certs.ClientCert, "key": keyFile}); err == nil {
		t.Fatal("an encrypted key without key_passphrase was accepted")
	}
}
