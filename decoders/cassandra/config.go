// Package cassandra decodes the Cassandra (CQL) native protocol, versions 3
// and 4, into network_traffic.cassandra transactions shaped like
// Packetbeat's: a request frame paired with the response carrying the same
// stream id on the same connection, the frame headers, the query text, the
// result summary (rows metadata, keyspace, schema change, prepared ids),
// errors with their details, and server-pushed EVENTs (no_request).
//
// Frames of other versions (v1/v2, v5 and DSE) are recognised by their
// header and skipped, counted; a connection that switches to v5 segment
// framing is skipped whole. Snappy-compressed bodies are decoded when
// compressor: snappy is set, else counted and published without body
// fields.
//
// Files: config.go (options, defaults, registration), frame.go (header and
// body decoding over byte slices), transactions.go (stream-id pairing,
// gaps, timeouts), event.go (the ECS document).
package cassandra

import (
	"fmt"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the cassandra-specific options; the common ones come in
// protocol.Common.
type Config struct {
	SendRequestHeader  *bool    `yaml:"send_request_header"`
	SendResponseHeader *bool    `yaml:"send_response_header"`
	Compressor         string   `yaml:"compressor"`
	IgnoredOps         []string `yaml:"ignored_ops"`
}

var DefaultPorts = []uint16{9042}

const (
	DefaultTimeout = 10 * time.Second
	// maxFrameBody is the protocol's own limit (256 MiB); larger lengths
	// mean the stream is not CQL or framing is lost.
	maxFrameBody = 256 << 20
	// maxDecoded bounds a decompressed body: the engine keeps at most
	// 10 MiB of stream, snappy expands by at most ~6x in practice.
	maxDecoded = 64 << 20
	// maxPending bounds requests waiting for a response on a connection.
	maxPending = 1024
	// maxQueryBytes bounds the query text kept (a keyword field).
	maxQueryBytes = 64 << 10
	// maxListItems bounds string lists/maps and column lists decoded.
	maxListItems = 4096
)

type settings struct {
	common             protocol.Common
	sendRequestHeader  bool
	sendResponseHeader bool
	snappy             bool
	ignored            [256]bool
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{common: common, sendRequestHeader: true, sendResponseHeader: true}
	if c.SendRequestHeader != nil {
		s.sendRequestHeader = *c.SendRequestHeader
	}
	if c.SendResponseHeader != nil {
		s.sendResponseHeader = *c.SendResponseHeader
	}
	switch strings.ToLower(strings.TrimSpace(c.Compressor)) {
	case "":
	case "snappy":
		s.snappy = true
	default:
		return nil, fmt.Errorf("compressor: %q is not supported (only snappy)", c.Compressor)
	}
	for _, name := range c.IgnoredOps {
		op, ok := opByName(name)
		if !ok {
			return nil, fmt.Errorf("ignored_ops: unknown operation %q", name)
		}
		s.ignored[op] = true
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "cassandra",
		TCP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: DefaultTimeout,
		// Packetbeat publishes the request and response groups unless told
		// not to.
		DefaultSendRequest:  true,
		DefaultSendResponse: true,
		New:                 newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("cassandra: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("cassandra: %w", err)
	}
	return &protocol.Instance{Name: "cassandra", Common: common, TCP: &Protocol{cfg: s, pub: pub}}, nil
}
