package dhcpv4

import (
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats are the instance's counters, safe to read from other goroutines.
type Stats struct {
	Messages    atomic.Uint64 // datagrams parsed as DHCP
	ParseErrors atomic.Uint64 // datagrams on the ports that are not DHCP
	Events      atomic.Uint64 // events published
}

// Protocol is one configured DHCPv4 instance (UDP only). DHCP keeps no
// state between datagrams: every message becomes its own event.
type Protocol struct {
	common protocol.Common
	cfg    Config
	pub    protocol.Publisher
	stats  Stats
	// scratch is the message being parsed; events copy it.
	scratch Message
}

// New builds an instance; newInstance (the registry's constructor) decodes
// the options and calls it, tests may call it directly.
func New(common protocol.Common, cfg Config, pub protocol.Publisher) *Protocol {
	return &Protocol{common: common, cfg: cfg, pub: pub}
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return p.stats.ParseErrors.Load() }

// Datagram parses one message and publishes it. The engine calls the side
// sending to a configured port the client; DHCP has both ports configured,
// so the packet's own sender and receiver are recovered from dir and become
// source and destination, as in Packetbeat.
func (p *Protocol) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	// Parse in place first so a datagram that is not DHCP costs no
	// allocation; the event then takes a copy of the bytes it refers to.
	if err := Parse(payload, &p.scratch); err != nil {
		p.stats.ParseErrors.Add(1)
		return
	}
	p.stats.Messages.Add(1)
	ev := newEvent(payload, &p.scratch)
	src, dst := c.Client, c.Server
	if dir == protocol.FromServer {
		src, dst = dst, src
	}
	ev.fill(src, dst, c, len(payload), ts)
	p.stats.Events.Add(1)
	p.pub.Publish(ev)
}

// Expire has nothing to do: no message waits for another.
func (p *Protocol) Expire(time.Time) {}

// Flush has nothing to do either.
func (p *Protocol) Flush() {}
