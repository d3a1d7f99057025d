package tls

import (
	"crypto/dsa" //nolint:staticcheck // DSA keys still appear in old certificates: report their size
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"strings"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// certMsg is a parsed Certificate message (TLS <= 1.2; TLS 1.3 sends it
// encrypted). certs[0] is the sender's own certificate.
type certMsg struct {
	certs []*x509.Certificate
	bad   int // entries crypto/x509 rejected (skipped)
}

// parseCertificates parses the certificate_list vector. It takes ownership
// of body (parsed certificates point into it).
func parseCertificates(body []byte, cfg *settings) *certMsg {
	m := &certMsg{}
	if len(body) < 3 {
		return m
	}
	n := int(body[0])<<16 | int(body[1])<<8 | int(body[2])
	if 3+n > len(body) {
		return m
	}
	for p := body[3 : 3+n]; len(p) >= 3; {
		l := int(p[0])<<16 | int(p[1])<<8 | int(p[2])
		if 3+l > len(p) {
			m.bad++
			break
		}
		if len(m.certs) >= maxCerts {
			break
		}
		c, err := x509.ParseCertificate(p[3 : 3+l])
		if err != nil {
			m.bad++
		} else {
			m.certs = append(m.certs, c)
		}
		p = p[3+l:]
	}
	return m
}

func (m *certMsg) leaf() *x509.Certificate {
	if m == nil || len(m.certs) == 0 {
		return nil
	}
	return m.certs[0]
}

func publicKeyAlgorithm(a x509.PublicKeyAlgorithm) string {
	switch a {
	case x509.RSA:
		return "RSA"
	case x509.DSA:
		return "DSA"
	case x509.ECDSA:
		return "ECDSA"
	case x509.Ed25519:
		return "Ed25519"
	}
	return "unknown"
}

// keyInfo returns the key size in bits, the ECS curve name and the RSA
// exponent where they apply.
func keyInfo(key any) (size int, curve string, exponent int) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N != nil {
			size = k.N.BitLen()
		}
		exponent = k.E
	case *ecdsa.PublicKey:
		if k.Curve != nil {
			p := k.Curve.Params()
			size = p.BitSize
			// ECS's example form: "nistp256".
			curve = strings.ToLower(strings.ReplaceAll(p.Name, "-", ""))
			if strings.HasPrefix(curve, "p") {
				curve = "nist" + curve
			}
		}
	case *dsa.PublicKey:
		if k.P != nil {
			size = k.P.BitLen()
		}
	case ed25519.PublicKey:
		size = 256
	}
	return
}

// writeName writes an X.509 name as Packetbeat does: one string per
// attribute (multiple values space-joined) and the RFC 2253 form.
func writeName(w *ecsmap.Writer, key string, n *pkix.Name) {
	w.Object(key)
	opt := func(k string, v []string) {
		if len(v) > 0 {
			w.Str(k, strings.Join(v, " "))
		}
	}
	if n.CommonName != "" {
		w.Str("common_name", n.CommonName)
	}
	opt("country", n.Country)
	w.Str("distinguished_name", n.String())
	opt("locality", n.Locality)
	opt("organization", n.Organization)
	opt("organizational_unit", n.OrganizationalUnit)
	opt("state_or_province", n.Province)
	w.End()
}

// writeX509 writes the members of one certificate object (the caller opens
// and closes it): tls.*.x509 and the entries of the detailed chains.
func writeX509(w *ecsmap.Writer, c *x509.Certificate) {
	var alt []string
	alt = append(alt, c.DNSNames...)
	alt = append(alt, c.EmailAddresses...)
	for _, ip := range c.IPAddresses {
		alt = append(alt, ip.String())
	}
	for _, u := range c.URIs {
		alt = append(alt, u.String())
	}
	if len(alt) > 0 {
		w.Strs("alternative_names", alt)
	}
	writeName(w, "issuer", &c.Issuer)
	w.Time("not_after", c.NotAfter)
	w.Time("not_before", c.NotBefore)
	w.Str("public_key_algorithm", publicKeyAlgorithm(c.PublicKeyAlgorithm))
	size, curve, exp := keyInfo(c.PublicKey)
	if curve != "" {
		w.Str("public_key_curve", curve)
	}
	if exp > 0 {
		w.Int("public_key_exponent", int64(exp))
	}
	if size > 0 {
		w.Int("public_key_size", int64(size))
	}
	if c.SerialNumber != nil {
		w.Str("serial_number", c.SerialNumber.Text(10))
	}
	w.Str("signature_algorithm", c.SignatureAlgorithm.String())
	writeName(w, "subject", &c.Subject)
	w.Int("version_number", int64(c.Version))
}

// writeHashes writes the fingerprints of the DER certificate, upper-case
// hex as Packetbeat writes them.
func writeHashes(w *ecsmap.Writer, cfg *settings, raw []byte) {
	if !cfg.md5 && !cfg.sha1 && !cfg.sha256 {
		return
	}
	var buf [64]byte
	up := func(sum []byte) string {
		n := hex.Encode(buf[:], sum)
		return strings.ToUpper(string(buf[:n]))
	}
	w.Object("hash")
	if cfg.md5 {
		s := md5.Sum(raw)
		w.Str("md5", up(s[:]))
	}
	if cfg.sha1 {
		s := sha1.Sum(raw)
		w.Str("sha1", up(s[:]))
	}
	if cfg.sha256 {
		s := sha256.Sum256(raw)
		w.Str("sha256", up(s[:]))
	}
	w.End()
}

// pemChain encodes every certificate as PEM (include_raw_certificates).
func pemChain(m *certMsg) []string {
	out := make([]string, 0, len(m.certs))
	for _, c := range m.certs {
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return out
}
