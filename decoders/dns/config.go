// Package dns decodes DNS over UDP and TCP into network_traffic.dns
// transactions shaped like Packetbeat 8's: a query paired with its response
// by (client, server, transport, id), or a one-sided event with an
// error.message when either never comes.
//
// Layout: config.go (options, defaults, registration), parser.go and
// names.go (the message parser on byte slices), transactions.go (pairing,
// UDP datagrams and TCP length framing), event.go (the ECS document).
package dns

import (
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the DNS-specific options. The common ones (ports,
// send_request, send_response, transaction_timeout, keep_null) come in
// protocol.Common.
type Config struct {
	// IncludeAuthorities writes dns.authorities (the count is always there).
	IncludeAuthorities bool `yaml:"include_authorities"`
	// IncludeAdditionals writes dns.additionals (the count is always there).
	IncludeAdditionals bool `yaml:"include_additionals"`
}

// Defaults as in the network_traffic integration.
var (
	DefaultPorts   = []uint16{53}
	DefaultTimeout = 10 * time.Second
)

// Bounds on memory; when reached, the oldest pending query is published
// early as unanswered, so state never grows without limit.
const (
	// maxPendingUDP is the number of queries awaiting a response across all
	// UDP clients of one instance.
	maxPendingUDP = 65536
	// maxPendingUDPBytes bounds the query bytes those hold (queries are
	// usually under 100 bytes; a flood of large ones must not pin memory).
	maxPendingUDPBytes = 16 << 20
	// maxPendingTCP is the number of queries awaiting a response on one
	// TCP connection.
	maxPendingTCP = 256
	// maxPendingTCPBytes bounds the query bytes one connection holds.
	maxPendingTCPBytes = 256 << 10
	// maxUDPPacket is the classic DNS UDP limit: a larger response without
	// EDNS gets a note, as in Packetbeat.
	maxUDPPacket = 512
)

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "dns",
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
	var cfg Config
	if err := opts.Decode(&cfg); err != nil {
		return nil, err
	}
	p := New(common, cfg, pub)
	return &protocol.Instance{Name: "dns", Common: common, TCP: p, UDP: p}, nil
}
