// Package tls decodes the clear-text part of TLS handshakes (SSL 3.0 to
// TLS 1.3) into one network_traffic.tls event per connection, shaped like
// Packetbeat 8's: versions, cipher suites, extensions, JA3/JA3S, the
// certificates sent in the clear (TLS <= 1.2), alerts, resumption.
//
// Layout: config.go (options, defaults, registration), record.go (record
// layer and handshake reassembly on byte slices, per direction), hello.go
// (ClientHello/ServerHello and their extensions), names.go and ciphers.go
// (IANA names), cert.go (X.509 mapping), ja3.go, transactions.go (the
// per-connection state and when an event is published), event.go (the ECS
// document).
//
// Once a direction sends ChangeCipherSpec (or application data) the rest of
// it is encrypted: its bytes are only counted.
package tls

import (
	"fmt"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Defaults as in the network_traffic integration.
var (
	DefaultPorts   = []uint16{443, 993, 995, 5223, 8443, 8883, 9243}
	DefaultTimeout = 10 * time.Second
)

// Bounds on memory per connection direction.
const (
	// maxRecordLen is the largest record TLSCiphertext allows (2^14 + 2048);
	// a bigger length means the stream is not TLS.
	maxRecordLen = 1<<14 + 2048
	// maxHandshakeLen bounds one handshake message (crypto/tls uses the same
	// 64 KiB). Certificate chains beyond it are dropped with a note.
	maxHandshakeLen = 1 << 16
	// maxCerts bounds the certificates parsed from one Certificate message.
	maxCerts = 16
)

// Config holds the TLS options; the common ones (ports, keep_null) come in
// protocol.Common.
type Config struct {
	// SendCertificates writes tls.{client,server}.x509 and the detailed
	// certificate chains (default true).
	SendCertificates *bool `yaml:"send_certificates"`
	// IncludeRawCertificates writes tls.{client,server}.certificate_chain as
	// PEM strings.
	IncludeRawCertificates bool `yaml:"include_raw_certificates"`
	// Fingerprints lists the hashes of the leaf certificates written to
	// tls.{client,server}.hash: sha1, sha256, md5 (default [sha1]).
	Fingerprints protocol.StringList `yaml:"fingerprints"`
	// IncludeDetailedFields writes tls.detailed and the x509 objects
	// (default true).
	IncludeDetailedFields *bool `yaml:"include_detailed_fields"`
	// IncludeRawJA4 also writes tls.client.ja4_r, the unhashed JA4 (its
	// sorted cipher, extension and signature algorithm lists in clear).
	IncludeRawJA4 bool `yaml:"include_raw_ja4"`
}

// settings is Config resolved.
type settings struct {
	common            protocol.Common
	sendCerts         bool
	rawCerts          bool
	detailed          bool
	rawJA4            bool
	md5, sha1, sha256 bool
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{
		common:    common,
		sendCerts: c.SendCertificates == nil || *c.SendCertificates,
		rawCerts:  c.IncludeRawCertificates,
		detailed:  c.IncludeDetailedFields == nil || *c.IncludeDetailedFields,
		rawJA4:    c.IncludeRawJA4,
	}
	fps := c.Fingerprints
	if fps == nil {
		fps = protocol.StringList{"sha1"}
	}
	for _, f := range fps {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "md5":
			s.md5 = true
		case "sha1":
			s.sha1 = true
		case "sha256":
			s.sha256 = true
		default:
			return nil, fmt.Errorf("fingerprints: unknown algorithm %q (use sha1, sha256, md5)", f)
		}
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "tls",
		TCP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &protocol.Instance{Name: "tls", Common: common, TCP: &Protocol{cfg: s, pub: pub}}, nil
}
