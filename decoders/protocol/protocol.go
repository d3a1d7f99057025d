// Package protocol is the contract between the capture engine and the
// protocol decoders. Each protocol package (decoders/dns, decoders/http, ...)
// registers a Spec; the engine builds one instance per configured stream and
// feeds it reassembled TCP bytes or UDP datagrams.
//
// Data flows one way: engine -> parser -> transaction -> Publisher. Parsers
// never reach back into the engine.
package protocol

import (
	"net/netip"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Dir is the direction of data within a connection.
type Dir uint8

const (
	// FromClient is data sent by the initiator (towards the server port).
	FromClient Dir = 0
	// FromServer is data sent by the responder.
	FromServer Dir = 1
)

func (d Dir) String() string {
	if d == FromClient {
		return "client"
	}
	return "server"
}

// Conn identifies one connection (TCP) or one address/port pair (UDP).
// Client is the initiator, Server the responder.
type Conn struct {
	Client, Server netip.AddrPort
	IPProtocol     uint8 // 6 TCP, 17 UDP
	VLANs          []uint16
	// Tunnel is the encapsulation the connection was seen in, nil when
	// seen natively. Like VLANs it belongs to the Conn (copied from the
	// packet), so a parser may keep it.
	Tunnel *ecsmap.Tunnel
	// DetectedBy says how the protocol was chosen when not by port
	// (DetectedByContent); written as network.detected_by. DetectedAs
	// names the protocol chosen, so a panic in its parser can be blamed on
	// it as on a port's protocol.
	DetectedBy, DetectedAs string
	// Iface is the capture interface of a capture of several (link.Packet's
	// Iface; 0 with one interface).
	Iface uint16
}

// Segment is the tunnel segment of the connection (ecsmap.Tunnel.Segment),
// 0 when seen natively: protocols that pair messages by addresses add it to
// their keys so that two overlays reusing the same addresses stay apart.
func (c *Conn) Segment() uint64 {
	seg := uint64(c.Iface) << 48 // as link.IfaceSegment
	if c.Tunnel == nil {
		return seg
	}
	return c.Tunnel.Segment() | seg
}

// NetworkType returns "ipv4" or "ipv6" for network.type.
func (c *Conn) NetworkType() string {
	if c.Client.Addr().Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// Transport returns "tcp" or "udp" for network.transport.
func (c *Conn) Transport() string {
	if c.IPProtocol == 6 {
		return "tcp"
	}
	return "udp"
}

// FillBase sets the connection fields of an event base: endpoints,
// transport, network type, VLANs. Protocols call it when they build a
// transaction, then set the byte counts and their own fields.
func (c *Conn) FillBase(b *ecsmap.Base) {
	b.Source.IP = c.Client.Addr().Unmap()
	b.Source.Port = c.Client.Port()
	b.Destination.IP = c.Server.Addr().Unmap()
	b.Destination.Port = c.Server.Port()
	b.IPProtocol = c.IPProtocol
	b.Transport = c.Transport()
	b.NetworkType = c.NetworkType()
	b.ClientServer = true
	b.VLANs = c.VLANs
	b.Tunnel = c.Tunnel
	b.Iface = c.Iface
	b.DetectedBy = c.DetectedBy
}

// Publisher receives finished events. Publish must not retain ev's
// byte slices beyond the call unless ev owns them; implementations encode
// immediately.
type Publisher interface {
	Publish(ev ecsmap.Event)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ev ecsmap.Event)

// Publish calls f(ev).
func (f PublisherFunc) Publish(ev ecsmap.Event) { f(ev) }

// TCPParser decodes one TCP connection, both directions. The engine calls
// it from a single goroutine.
type TCPParser interface {
	// Parse receives in-order stream bytes of one direction. It returns how
	// many leading bytes it consumed; the unconsumed rest is kept by the
	// stream and handed back, with the next bytes appended, on the next
	// call. A parser that needs more data returns 0. The stream bounds what
	// it keeps (the protocol's max message size); beyond that it reports a
	// gap instead. data is only valid during the call.
	Parse(dir Dir, data []byte, ts time.Time) (consumed int)
	// Gap reports n bytes lost in dir (capture loss, buffer overflow). The
	// parser drops or closes what it cannot recover and resynchronises.
	Gap(dir Dir, n int, ts time.Time)
	// Fin reports that dir sent FIN (or the connection was reset).
	Fin(dir Dir, ts time.Time)
	// Expire lets the parser publish or drop transactions older than its
	// transaction_timeout. now is packet time.
	Expire(now time.Time)
	// Close ends the connection: the parser publishes what it can (one-sided
	// transactions) and drops its state.
	Close(ts time.Time)
}

// TCPProtocol creates a parser per connection.
type TCPProtocol interface {
	NewConn(c *Conn) TCPParser
}

// UDPProtocol receives datagrams of every flow on its ports.
type UDPProtocol interface {
	// Datagram handles one datagram. c and payload are only valid during
	// the call (the engine reuses both): copy what you keep.
	Datagram(c *Conn, dir Dir, payload []byte, ts time.Time)
	// Expire publishes or drops transactions older than the timeout.
	Expire(now time.Time)
	// Flush publishes everything still pending (end of input, shutdown).
	Flush()
}

// Instance is one configured protocol. TCP and/or UDP is non-nil according
// to the transports the protocol speaks.
type Instance struct {
	Name   string
	Common Common
	TCP    TCPProtocol
	UDP    UDPProtocol
}

// Spec describes a protocol to the registry.
type Spec struct {
	Name string // stream type: "dns", "http", ...
	// DataStream is the package data stream the events go to, when it is
	// not named as the stream type (memcache's is memcached).
	DataStream string
	TCP        bool // speaks TCP
	UDP        bool // speaks UDP
	// DefaultPorts are used when a stream gives none.
	DefaultPorts []uint16
	// DefaultTimeout is transaction_timeout when unset (Packetbeat: 10s).
	DefaultTimeout time.Duration
	// DefaultSendRequest and DefaultSendResponse are send_request and
	// send_response when unset (false except where Packetbeat says otherwise,
	// e.g. cassandra).
	DefaultSendRequest, DefaultSendResponse bool
	// Probe, when set, recognises the protocol by content on connections
	// whose port no protocol is configured on (option detect: true).
	Probe Probe
	// Resync, when set, is the message-start probe the protocol's parser
	// scans with after a gap (see Resync): it says yes at any message
	// boundary, not only at a connection's start, so it is often not the
	// same function as Probe. Nil when the protocol declines to
	// resynchronise that way; FuzzResyncScan fuzzes every one registered.
	Resync Probe
	// New builds an instance. opts holds the protocol's own options (common
	// ones already removed); decode them with opts.Decode, which rejects
	// unknown keys. pub receives the protocol's events.
	New func(common Common, opts Options, pub Publisher) (*Instance, error)
}

// ErrorCounter is optionally implemented by a protocol's TCP or UDP part to
// report how many messages it could not parse (for the exit summary and
// diagnostics). It is read from other goroutines: use atomics.
type ErrorCounter interface {
	ParseErrors() uint64
}
