// Package memcache decodes the memcached text and binary protocols, over TCP
// and UDP, into request/response transactions with the fields of
// Packetbeat's memcached data stream (memcache.*, event.action,
// event.outcome, and the root status).
//
// Files: config.go (options and defaults), commands.go (the command,
// opcode and status tables), parser.go (incremental message parser over
// byte slices, shared by TCP and UDP), transactions.go (pairing per TCP
// connection and per UDP request id, gaps, timeouts), event.go (the ECS
// document).
package memcache

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Packetbeat's defaults.
var defaultPorts = []uint16{11211}

const (
	defaultTimeout    = 10 * time.Second
	defaultUDPTimeout = 10 * time.Second

	// maxLineBytes bounds a text command or response line. memcached itself
	// refuses lines over 2048 bytes except for multi-key gets, which it
	// reads in pieces; 64 KiB holds several hundred maximum-length keys.
	maxLineBytes = 64 << 10
	// maxPending bounds the requests waiting for a response on one TCP
	// connection (pipelined or never answered): beyond it the oldest is
	// published alone, so a one-sided capture cannot grow memory.
	maxPending = 1024
	// maxUDPPending bounds the UDP transactions waiting for their other half.
	maxUDPPending = 16384
	// maxUDPMessage bounds the reassembled payload of a multi-datagram UDP
	// message (memcached's largest item is 1 MiB by default).
	maxUDPMessage = 2 << 20
	// maxStats bounds the statistics kept from one stats response
	// (memcached sends ~90 for "stats", a few hundred for "stats slabs").
	maxStats = 4096
	// maxKeys bounds the keys kept from one message (multi-get).
	maxKeys = 4096
	// maxKeptBytes bounds the value bytes kept from one message.
	maxKeptBytes = 4 << 20
	// maxScalarBytes bounds what is kept of a version string or a binary
	// stat value.
	maxScalarBytes = 4096
)

// Config holds the memcache-specific options (the common ones live in
// protocol.Common). The names are Packetbeat's.
type Config struct {
	// ParseUnknown keeps the line of unknown text commands
	// (memcache.request.line) and accepts any line as one. Without it, a
	// line shaped like a command (a lower-case word, printable arguments)
	// is still an UNKNOWN request, so memcached's ERROR pairs with it; other
	// lines are garbage.
	ParseUnknown bool `yaml:"parseunknown"`
	// MaxValues is how many values per message are published base64
	// encoded: 0 none (Packetbeat's default), negative all.
	MaxValues int `yaml:"maxvalues"`
	// MaxBytesPerValue cuts each published value; 0 or negative: no limit.
	MaxBytesPerValue int `yaml:"maxbytespervalue"`
	// UDPTransactionTimeout is how long a UDP request waits for its
	// response. Numbers are seconds, as in Beats; strings are durations.
	UDPTransactionTimeout any `yaml:"udptransactiontimeout"`
}

// settings is Config resolved.
type settings struct {
	common           protocol.Common
	parseUnknown     bool
	maxValues        int // <0: all
	maxBytesPerValue int // >0
	udpTimeout       time.Duration
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{
		common:           common,
		parseUnknown:     c.ParseUnknown,
		maxValues:        c.MaxValues,
		maxBytesPerValue: c.MaxBytesPerValue,
		udpTimeout:       defaultUDPTimeout,
	}
	if s.maxBytesPerValue <= 0 {
		s.maxBytesPerValue = maxUDPMessage
	}
	if c.UDPTransactionTimeout != nil {
		d, err := protocol.AsDuration(c.UDPTransactionTimeout)
		if err != nil {
			return nil, fmt.Errorf("udptransactiontimeout: %w", err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("udptransactiontimeout: must be positive")
		}
		s.udpTimeout = d
	}
	return s, nil
}

// keepValue reports whether the n-th value (0-based) of a message is
// published.
func (s *settings) keepValue(n int) bool {
	return s.maxValues < 0 || n < s.maxValues
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "memcache",
		DataStream:     "memcached",
		TCP:            true,
		UDP:            true,
		DefaultPorts:   defaultPorts,
		Probe:          probe,
		Resync:         probe,
		DefaultTimeout: defaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("memcache: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("memcache: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	p.udp.init(p)
	return &protocol.Instance{Name: "memcache", Common: common, TCP: p, UDP: &p.udp}, nil
}
