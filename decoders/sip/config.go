// Package sip decodes SIP (RFC 3261) messages into network_traffic.sip
// documents shaped like Packetbeat 8's: one event per message, requests and
// responses are not paired (a SIP transaction spans retransmissions,
// provisional responses and forked branches; Packetbeat reports each message
// on its own and so do we).
//
// Layout: config.go (options, defaults, registration), parser.go (start
// line, headers, name-addr/URI and SDP parsing on byte slices),
// transactions.go (the UDP side and the TCP side framed by Content-Length),
// event.go (the ECS document).
package sip

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the SIP-specific options, with Packetbeat's defaults.
type Config struct {
	// ParseAuthorization fills sip.auth.* and user.name from Authorization.
	ParseAuthorization bool `yaml:"parse_authorization"`
	// ParseBody fills sip.sdp.* from application/sdp bodies.
	ParseBody bool `yaml:"parse_body"`
	// KeepOriginal copies the raw message into event.original.
	KeepOriginal bool `yaml:"keep_original"`
	// TransportProtocol is "udp" (default) or "tcp": one stream decodes one.
	TransportProtocol string `yaml:"transport_protocol"`
}

// Defaults as in the network_traffic integration.
var (
	DefaultPorts   = []uint16{5060}
	DefaultTimeout = 10 * time.Second
)

// DefaultConfig returns the options a stream gets when it sets none.
func DefaultConfig() Config {
	return Config{ParseAuthorization: true, ParseBody: true, KeepOriginal: true, TransportProtocol: "udp"}
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "sip",
		TCP:            true,
		UDP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	cfg := DefaultConfig()
	if err := opts.Decode(&cfg); err != nil {
		return nil, err
	}
	inst := &protocol.Instance{Name: "sip", Common: common}
	p := New(common, cfg, pub)
	switch cfg.TransportProtocol {
	case "udp", "":
		inst.UDP = p
	case "tcp":
		inst.TCP = p
	default:
		return nil, fmt.Errorf("transport_protocol: %q is neither udp nor tcp", cfg.TransportProtocol)
	}
	return inst, nil
}
