// Package engine routes decoded packets to the flow table, the ICMP tracker,
// the TCP reassembler and the UDP protocols, and drives their timers from
// packet time. It runs on one goroutine per capture: no locks on the hot
// path.
package engine

import (
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// PacketHandler is what the flow table and the ICMP tracker look like to the
// engine.
type PacketHandler interface {
	Packet(p *link.Packet)
	// Tick runs timers: expiries and periodic reports (now is packet time).
	Tick(now time.Time)
	// Flush publishes everything pending (end of input).
	Flush(now time.Time)
}

// TCPAssembler reassembles TCP connections and feeds the parsers the engine's
// factory creates.
type TCPAssembler interface {
	Packet(p *link.Packet)
	Expire(now time.Time)
	FlushAll(now time.Time)
}

// Counters are per-protocol figures, read by diagnostics from other
// goroutines (hence atomics).
type Counters struct {
	Packets      atomic.Uint64
	Bytes        atomic.Uint64
	Transactions atomic.Uint64
	Detected     atomic.Uint64 // connections handed over by a probe (detect: true)
}

// Engine dispatches packets. Build it with New, then set TCP (created with
// NewTCPParser as factory), Flows and ICMP as configured.
type Engine struct {
	insts []*protocol.Instance
	// Port tables map a port to 1 + index into insts (0: no protocol). Two
	// 128 KiB arrays make dispatch a single load.
	tcpPorts [65536]uint16
	udpPorts [65536]uint16
	counters []*Counters
	// detect lists the protocols with detect: true and a probe, in
	// configuration order: connections on no configured port are probed
	// for them (see detect.go).
	detect []candidate
	Detect DetectCounters
	// udpConn is the Conn handed to UDP protocols, reused for every
	// datagram: it is only valid during Datagram (protocols copy what they
	// keep, as they do the payload), which saves an allocation per packet.
	udpConn protocol.Conn

	TCP   TCPAssembler
	Flows PacketHandler
	ICMP  PacketHandler

	// TickEvery is how much packet time passes between timer runs.
	TickEvery time.Duration
	lastTick  time.Time
	now       time.Time

	Unrouted atomic.Uint64 // TCP/UDP packets on no configured port

	// tcpSYN: the TCP packet being handed to the assembler is a SYN, so a
	// connection it opens was not joined mid-stream.
	tcpSYN bool

	// activeUDP is 1 + the index of the UDP protocol running now (0: none),
	// so a panic that unwinds the engine can be blamed on it.
	activeUDP int
}

// New builds the port tables. Port collisions must have been rejected by
// the config layer; here the first instance wins.
func New(insts []*protocol.Instance) *Engine {
	e := &Engine{insts: insts, TickEvery: time.Second}
	for i, in := range insts {
		e.counters = append(e.counters, &Counters{})
		for _, p := range in.Common.Ports {
			if in.TCP != nil && e.tcpPorts[p] == 0 {
				e.tcpPorts[p] = uint16(i + 1)
			}
			if in.UDP != nil && e.udpPorts[p] == 0 {
				e.udpPorts[p] = uint16(i + 1)
			}
		}
		if in.Common.Detect && in.TCP != nil && len(e.detect) < maxCandidates {
			if spec, ok := protocol.Lookup(in.Name); ok && spec.Probe != nil {
				c := candidate{idx: i, probe: spec.Probe, resync: spec.Resync}
				if c.resync == nil {
					c.resync = spec.Probe
				}
				e.detect = append(e.detect, c)
			}
		}
	}
	return e
}

// Detecting reports whether some protocol has detect: true, so every TCP
// connection must reach the engine (no port-based capture filter).
func (e *Engine) Detecting() bool { return len(e.detect) > 0 }

// WithInstances returns an engine that routes to insts with new port tables
// but shares e's TCP assembler, flow table, ICMP tracker, clock and counters
// of the instances both have. A live reconfiguration uses it so that the
// connections and pending transactions of unchanged protocols survive; the
// assembler's factory must reach the current engine through an indirection
// (a TCP connection keeps the parser it was opened with, so a changed
// protocol's open connections finish on their old parser). Call it on the
// goroutine that runs e: it reads e's clock.
func (e *Engine) WithInstances(insts []*protocol.Instance) *Engine {
	n := New(insts)
	for i, in := range insts {
		for j, old := range e.insts {
			if old == in {
				n.counters[i] = e.counters[j]
				break
			}
		}
	}
	n.TCP, n.Flows, n.ICMP = e.TCP, e.Flows, e.ICMP
	n.TickEvery, n.lastTick, n.now = e.TickEvery, e.lastTick, e.now
	n.Unrouted.Store(e.Unrouted.Load())
	n.Detect.Probed.Store(e.Detect.Probed.Load())
	n.Detect.Claimed.Store(e.Detect.Claimed.Load())
	n.Detect.Unclaimed.Store(e.Detect.Unclaimed.Load())
	n.Detect.Resumed.Store(e.Detect.Resumed.Load())
	n.Detect.ClaimedAfterGap.Store(e.Detect.ClaimedAfterGap.Load())
	return n
}

// Instances returns the protocol instances in configuration order.
func (e *Engine) Instances() []*protocol.Instance { return e.insts }

// CountersOf returns the counters of instance i.
func (e *Engine) CountersOf(i int) *Counters { return e.counters[i] }

// ServerPort reports which instance serves a TCP port (for the reassembler
// to tell client from server on mid-stream starts).
func (e *Engine) IsTCPServerPort(port uint16) bool { return e.tcpPorts[port] != 0 }

// NewTCPParser is the reassembler's factory: it picks the protocol by the
// server port; on no configured port it returns a prober when some
// protocol has detect on (see detect.go), else nil.
func (e *Engine) NewTCPParser(c *protocol.Conn) protocol.TCPParser {
	idx := e.tcpPorts[c.Server.Port()]
	if idx == 0 {
		if len(e.detect) > 0 && e.tcpPorts[c.Client.Port()] == 0 {
			return e.newProber(c, !e.tcpSYN)
		}
		return nil
	}
	return e.insts[idx-1].TCP.NewConn(c)
}

// Packet handles one decoded packet.
func (e *Engine) Packet(p *link.Packet) {
	e.now = p.Timestamp
	if e.Flows != nil {
		e.Flows.Packet(p)
	}
	switch p.IPProto {
	case 6:
		e.tcpSYN = p.Flags&link.FlagSYN != 0
		idx := e.tcpPorts[p.DstPort]
		if idx == 0 {
			idx = e.tcpPorts[p.SrcPort]
		}
		if idx != 0 && e.TCP != nil {
			c := e.counters[idx-1]
			c.Packets.Add(1)
			c.Bytes.Add(uint64(len(p.Payload)))
			e.TCP.Packet(p)
		} else if len(e.detect) > 0 && e.TCP != nil {
			e.TCP.Packet(p) // probed (or already claimed) by content
		} else {
			e.Unrouted.Add(1)
		}
	case 17:
		e.udp(p)
	case 1, 58:
		if e.ICMP != nil {
			e.ICMP.Packet(p)
		}
	}
	if p.Timestamp.Sub(e.lastTick) >= e.TickEvery {
		e.Tick(p.Timestamp)
	}
}

func (e *Engine) udp(p *link.Packet) {
	dir := protocol.FromClient
	idx := e.udpPorts[p.DstPort]
	if idx == 0 {
		idx = e.udpPorts[p.SrcPort]
		dir = protocol.FromServer
	}
	if idx == 0 {
		e.Unrouted.Add(1)
		return
	}
	in := e.insts[idx-1]
	c := e.counters[idx-1]
	c.Packets.Add(1)
	c.Bytes.Add(uint64(len(p.Payload)))
	conn := &e.udpConn
	*conn = protocol.Conn{IPProtocol: 17, Iface: p.Iface}
	if p.NVLANs > 0 {
		// Parsers may keep a copy of the Conn, VLANs included; the
		// packet's array is reused, so the VLANs get their own.
		conn.VLANs = append([]uint16(nil), p.VLANList()...)
	}
	if p.Tunnel.N > 0 {
		t := p.Tunnel // the same reason
		conn.Tunnel = &t
	}
	src, dst := addrPort(p.SrcIP, p.SrcPort), addrPort(p.DstIP, p.DstPort)
	if dir == protocol.FromClient {
		conn.Client, conn.Server = src, dst
	} else {
		conn.Client, conn.Server = dst, src
	}
	e.activeUDP = int(idx)
	in.UDP.Datagram(conn, dir, p.Payload, p.Timestamp)
	e.activeUDP = 0
}

// QuarantineUDP is called after a panic unwound the engine: it names the
// UDP protocol that was running, if any, and forgets it was. The datagram
// is lost; the protocol keeps decoding later ones.
func (e *Engine) QuarantineUDP() (string, bool) {
	idx := e.activeUDP
	e.activeUDP = 0
	if idx == 0 {
		return "", false
	}
	return e.insts[idx-1].Name, true
}

// TCPProtocolOf names the protocol a TCP connection was handed to.
func (e *Engine) TCPProtocolOf(c *protocol.Conn) string {
	if idx := e.tcpPorts[c.Server.Port()]; idx != 0 {
		return e.insts[idx-1].Name
	}
	return c.DetectedAs
}

// Tick runs every timer at packet time now. Live captures call it on read
// timeouts too, so idle periods still expire transactions and flows.
func (e *Engine) Tick(now time.Time) {
	if now.Before(e.lastTick) {
		return
	}
	e.lastTick = now
	if e.TCP != nil {
		e.TCP.Expire(now)
	}
	for i, in := range e.insts {
		if in.UDP != nil {
			e.activeUDP = i + 1
			in.UDP.Expire(now)
		}
	}
	e.activeUDP = 0
	if e.ICMP != nil {
		e.ICMP.Tick(now)
	}
	if e.Flows != nil {
		e.Flows.Tick(now)
	}
}

// Now is the packet time of the last packet seen.
func (e *Engine) Now() time.Time { return e.now }

// Flush ends the input: every pending transaction and flow is published as
// it would be on timeout, so nothing is lost to the file ending.
func (e *Engine) Flush(now time.Time) {
	if e.TCP != nil {
		e.TCP.FlushAll(now)
	}
	for i, in := range e.insts {
		if in.UDP != nil {
			e.activeUDP = i + 1
			in.UDP.Flush()
		}
	}
	e.activeUDP = 0
	if e.ICMP != nil {
		e.ICMP.Flush(now)
	}
	if e.Flows != nil {
		e.Flows.Flush(now)
	}
}
