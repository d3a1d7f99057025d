// Package mongodb decodes the MongoDB wire protocol over TCP into
// network_traffic.mongodb transactions shaped like Packetbeat's: a request
// (OP_MSG command, legacy OP_QUERY/OP_GET_MORE, or a reply-less
// OP_INSERT/OP_UPDATE/OP_DELETE/OP_KILL_CURSORS) paired with its reply by
// requestID/responseTo per connection; method = command name, resource =
// db.collection, query = resource.method(args), mongodb.* wire fields.
// OP_COMPRESSED messages are counted and skipped (no decompression).
//
// Files: config.go (options and defaults), bson.go (bounded BSON reader and
// JSON-like rendering), parser.go (framing and message bodies over byte
// slices), transactions.go (per-connection pairing, gaps, timeouts),
// event.go (the ECS document).
package mongodb

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Packetbeat's defaults.
var defaultPorts = []uint16{27017}

const (
	defaultTimeout      = 10 * time.Second
	defaultMaxDocs      = 10
	defaultMaxDocLength = 5000
)

// Config holds the mongodb-specific options (the common ones live in
// protocol.Common).
type Config struct {
	// MaxDocs bounds the documents written to the response text
	// (send_response); 0 means no limit, as in Packetbeat.
	MaxDocs *int `yaml:"max_docs"`
	// MaxDocLength bounds the text of one document; 0 means no limit.
	MaxDocLength *int `yaml:"max_doc_length"`
}

type settings struct {
	common       protocol.Common
	maxDocs      int
	maxDocLength int
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{common: common, maxDocs: defaultMaxDocs, maxDocLength: defaultMaxDocLength}
	var err error
	if s.maxDocs, err = protocol.NonNegative("max_docs", c.MaxDocs, s.maxDocs); err != nil {
		return nil, err
	}
	if s.maxDocLength, err = protocol.NonNegative("max_doc_length", c.MaxDocLength, s.maxDocLength); err != nil {
		return nil, err
	}
	// Unlimited text still stays within a parsed message (maxParsed).
	if s.maxDocLength == 0 {
		s.maxDocLength = 4 * maxParsed
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "mongodb",
		TCP:            true,
		DefaultPorts:   defaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: defaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	return &protocol.Instance{Name: "mongodb", Common: common, TCP: p}, nil
}
