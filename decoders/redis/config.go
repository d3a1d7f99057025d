// Package redis decodes the Redis protocol (RESP2 and RESP3, plus inline
// commands) over TCP into network_traffic.redis transactions shaped like
// Packetbeat's: a command paired with its reply in FIFO order per
// connection, method = command in upper case, resource = key, query = the
// command line, redis.return_value or redis.error.
//
// Files: config.go (options, defaults, registration), parser.go (the
// incremental RESP parser over byte slices), transactions.go (pairing,
// pipelining, pub/sub pushes, gaps, timeouts), event.go (the ECS document).
package redis

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the redis-specific options; the common ones (ports,
// send_request, send_response, transaction_timeout, keep_null) come in
// protocol.Common.
type Config struct {
	// QueueMaxBytes bounds the bytes of commands waiting for their replies
	// on one connection (pipelining). The oldest are dropped beyond it.
	QueueMaxBytes *int64 `yaml:"queue_max_bytes"`
	// QueueMaxMessages bounds how many commands wait on one connection.
	QueueMaxMessages *int64 `yaml:"queue_max_messages"`
}

// Packetbeat's defaults.
var (
	DefaultPorts = []uint16{6379}
)

const (
	DefaultTimeout          = 10 * time.Second
	DefaultQueueMaxBytes    = 1 << 20
	DefaultQueueMaxMessages = 20000

	// maxTextBytes bounds the rendered text of one message: a 200 MB SET
	// is counted in its bytes but not copied whole into the event.
	// Packetbeat keeps everything up to its 10 MiB stream bound.
	maxTextBytes = 64 << 10
	// maxFieldBytes bounds query, resource, redis.return_value and
	// redis.error: keyword fields, not indexed past 1024 characters. The
	// request/response text fields (send_request/send_response) get up to
	// maxTextBytes.
	maxFieldBytes = 1024
	// maxLineBytes bounds a type line or an inline command (Redis itself
	// refuses inline commands over 64 KiB).
	maxLineBytes = 64 << 10
	// maxDepth bounds aggregate nesting (COMMAND DOCS, the deepest reply a
	// stock server sends, nests 7 levels).
	maxDepth = 64
)

type settings struct {
	common   protocol.Common
	maxBytes int64
	maxMsgs  int
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{common: common, maxBytes: DefaultQueueMaxBytes, maxMsgs: DefaultQueueMaxMessages}
	if c.QueueMaxBytes != nil {
		if *c.QueueMaxBytes <= 0 {
			return nil, fmt.Errorf("queue_max_bytes: must be positive, got %d", *c.QueueMaxBytes)
		}
		s.maxBytes = *c.QueueMaxBytes
	}
	if c.QueueMaxMessages != nil {
		if *c.QueueMaxMessages <= 0 || *c.QueueMaxMessages > 1<<30 {
			return nil, fmt.Errorf("queue_max_messages: must be between 1 and %d, got %d", 1<<30, *c.QueueMaxMessages)
		}
		s.maxMsgs = int(*c.QueueMaxMessages)
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "redis",
		TCP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		Resync:         probe,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return &protocol.Instance{Name: "redis", Common: common, TCP: &Protocol{cfg: s, pub: pub}}, nil
}
