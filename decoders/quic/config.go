// Package quic decodes the Initial packets of QUIC version 1 (RFC 9000,
// 9001) and version 2 (RFC 9369) into one network_traffic.quic event per
// connection: the TLS handshake's clear part (ClientHello and ServerHello,
// with the fields, JA3, JA3S and JA4 of the tls data stream, computed by
// decoders/tls) plus QUIC's own (version, connection IDs, Retry, version
// negotiation).
//
// No key is needed: Initial packets are protected with keys derived from
// the client's first Destination Connection ID, which any observer can
// read (RFC 9001 section 5.2). Everything after them (Handshake and 1-RTT
// packets) is only counted.
//
// Layout: config.go (options, registration), keys.go (Initial secrets,
// Retry integrity), packet.go (long headers, header protection, AEAD,
// frames), crypto.go (CRYPTO reassembly), conn.go (per-connection state,
// when an event goes out), event.go (the document).
package quic

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Defaults: HTTP/3's port, and how long a connection's handshake may take
// before what is known is published.
var (
	DefaultPorts   = []uint16{443}
	DefaultTimeout = 10 * time.Second
)

// DefaultMaxConnections bounds the connections tracked at once; Initials
// of new connections beyond it are counted and not decoded.
const DefaultMaxConnections = 16384

// Config holds the quic options; the common ones (ports,
// transaction_timeout, keep_null) come in protocol.Common.
type Config struct {
	// IncludeRawJA4 also writes tls.client.ja4_r, as the tls stream does.
	IncludeRawJA4 bool `yaml:"include_raw_ja4"`
	// IncludeDetailedFields writes tls.detailed (the hellos' extensions;
	// default true).
	IncludeDetailedFields *bool `yaml:"include_detailed_fields"`
	// MaxConnections bounds the connections tracked at once (default 16384).
	MaxConnections *int `yaml:"max_connections"`
}

type settings struct {
	common   protocol.Common
	rawJA4   bool
	detailed bool
	maxConns int
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "quic",
		UDP:            true,
		DefaultPorts:   DefaultPorts,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	n, err := protocol.NonNegative("max_connections", c.MaxConnections, DefaultMaxConnections)
	if err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("quic: max_connections: must be at least 1")
	}
	s := &settings{
		common:   common,
		rawJA4:   c.IncludeRawJA4,
		detailed: c.IncludeDetailedFields == nil || *c.IncludeDetailedFields,
		maxConns: common.Share(n), // a per-capture bound: shards divide it
	}
	return &protocol.Instance{Name: "quic", Common: common, UDP: newProtocol(s, pub)}, nil
}
