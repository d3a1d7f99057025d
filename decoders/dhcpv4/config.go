// Package dhcpv4 decodes BOOTP/DHCPv4 datagrams into network_traffic.dhcpv4
// documents shaped like Packetbeat 8's: one event per message, no pairing of
// requests with replies (DHCP exchanges span several broadcasts from changing
// addresses, so Packetbeat reports each message on its own and so do we).
//
// Layout: config.go (options, defaults, registration), parser.go (the
// message and option parser on byte slices), names.go (code -> name tables),
// transactions.go (the UDP side: one message -> one event), event.go (the
// ECS document).
package dhcpv4

import (
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the DHCPv4-specific options: there are none. The common ones
// (ports, keep_null) come in protocol.Common; an unknown key is an error.
type Config struct{}

// Defaults as in the network_traffic integration.
var (
	DefaultPorts   = []uint16{67, 68}
	DefaultTimeout = 10 * time.Second
)

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "dhcpv4",
		UDP:            true,
		DefaultPorts:   DefaultPorts,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var cfg Config
	if err := opts.Decode(&cfg); err != nil {
		return nil, err
	}
	p := New(common, cfg, pub)
	return &protocol.Instance{Name: "dhcpv4", Common: common, UDP: p}, nil
}
