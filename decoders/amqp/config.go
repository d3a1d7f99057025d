// Package amqp decodes AMQP 0-9-1 over TCP (RabbitMQ and friends) into the
// events of Packetbeat's amqp data stream: synchronous methods paired with
// their -ok replies (queue.declare with queue.declare-ok, ...), published
// and delivered messages as one-sided events carrying the content header
// properties and, on request, the body, and channel/connection errors.
//
// Files: config.go (options and defaults), frame.go (frame and field
// decoding over byte slices), methods.go (method names and arguments),
// transactions.go (per-connection, per-channel pairing, gaps, timeouts),
// event.go (the ECS document).
package amqp

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

var defaultPorts = []uint16{5672}

const (
	defaultTimeout       = 10 * time.Second
	defaultMaxBodyLength = 1000

	// maxFrameSize bounds a method or content header frame the parser
	// buffers whole. Brokers negotiate frame_max of 128 KiB by default
	// (RabbitMQ's frame_max ceiling is far below this); a header beyond the
	// bound is garbage. Body frames are not buffered, so they may be larger.
	maxFrameSize = 1 << 20
	// maxChannels bounds the channels tracked per connection (RabbitMQ's
	// default channel_max is 2047); state for more is refused and counted.
	maxChannels = 2048
	// maxHeldBytes bounds what one connection keeps for messages waiting on
	// a reply or on their content (argument copies and kept bodies): with
	// up to maxChannels channels, per-message bounds alone would allow
	// gigabytes.
	maxHeldBytes = 8 << 20
	// maxTableDepth bounds nested field tables and arrays.
	maxTableDepth = 16
)

// Config holds the amqp-specific options (the common ones live in
// protocol.Common). Pointers tell "unset" from false/0, because
// Packetbeat's defaults for the booleans are true.
type Config struct {
	// MaxBodyLength bounds the message body written to request/response
	// for basic.publish, basic.deliver, basic.get and basic.return.
	MaxBodyLength *int `yaml:"max_body_length"`
	// ParseHeaders decodes the content header properties (content-type,
	// headers table, delivery-mode, ...).
	ParseHeaders *bool `yaml:"parse_headers"`
	// ParseArguments decodes the optional arguments table of declare,
	// bind and consume methods.
	ParseArguments *bool `yaml:"parse_arguments"`
	// HideConnectionInformation drops connection.start/tune/open,
	// channel.open/flow, basic.qos and clean closes from the output.
	HideConnectionInformation *bool `yaml:"hide_connection_information"`
}

// settings is Config resolved.
type settings struct {
	common         protocol.Common
	maxBodyLength  int
	parseHeaders   bool
	parseArguments bool
	hideConnInfo   bool
}

func orTrue(b *bool) bool { return b == nil || *b }

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{
		common:         common,
		maxBodyLength:  defaultMaxBodyLength,
		parseHeaders:   orTrue(c.ParseHeaders),
		parseArguments: orTrue(c.ParseArguments),
		hideConnInfo:   orTrue(c.HideConnectionInformation),
	}
	var err error
	if s.maxBodyLength, err = protocol.NonNegative("max_body_length", c.MaxBodyLength, s.maxBodyLength); err != nil {
		return nil, err
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "amqp",
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
		return nil, fmt.Errorf("amqp: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("amqp: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	return &protocol.Instance{Name: "amqp", Common: common, TCP: p}, nil
}
