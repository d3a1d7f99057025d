package tcp

import (
	"net/netip"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Factory builds the parser for a new connection, or returns nil to leave
// the connection alone. c.Server is the side the assembler believes is the
// responder; the factory typically dispatches on c.Server.Port(). When the
// handshake was not seen the assembler asks twice, lower port as server
// first, so a factory that only accepts its own server ports settles the
// orientation.
type Factory func(c *protocol.Conn) protocol.TCPParser

// connKey is the table key: both endpoints in canonical order, so both
// directions of a connection hash to the same entry without allocating.
// connKey is a connection regardless of direction. seg is the tunnel
// segment (ecsmap.Tunnel.Segment): the same addresses in two overlays are
// two connections.
type connKey struct {
	a, b netip.AddrPort
	seg  uint64
}

func keyOf(x, y netip.AddrPort, seg uint64) connKey {
	if x.Compare(y) < 0 {
		return connKey{x, y, seg}
	}
	return connKey{y, x, seg}
}

// conn is one table entry. parser == nil marks a connection the factory
// declined; it stays in the table so later packets cost one lookup.
type conn struct {
	key    connKey
	info   *protocol.Conn
	parser protocol.TCPParser
	maxMsg int
	dirs   [2]stream

	sawSYN    bool   // the client's SYN was seen
	clientISN uint32 // its sequence number, to tell a retransmitted SYN from port reuse

	lastSeen     time.Time
	newer, older *conn // idle list, newest first
}

// Assembler reassembles every TCP connection it is handed. It is not safe
// for concurrent use: the engine calls it from its decode goroutine.
type Assembler struct {
	cfg     Config
	factory Factory
	conns   map[connKey]*conn
	// last is the connection of the previous packet: consecutive packets
	// often belong to one connection, and comparing keys is cheaper than
	// hashing one. Cleared when that connection is closed.
	last   *conn
	newest *conn
	oldest *conn
	free   []*conn
	pool   bufPool
	stats  Stats
	// active is the connection whose parser may be running: set while a
	// packet, an expiry or a close is handled, nil otherwise. A panic in a
	// parser unwinds past it, and Quarantine takes that connection out.
	active *conn
}

// Recycled conn structs keep their small tail buffers; this many are kept.
const maxFreeConns = 1024

// NewAssembler returns an assembler with cfg's bounds (defaults for zero
// fields) that asks factory for a parser per new connection.
func NewAssembler(cfg Config, factory func(c *protocol.Conn) protocol.TCPParser) *Assembler {
	cfg.defaults()
	return &Assembler{cfg: cfg, factory: factory, conns: make(map[connKey]*conn)}
}

// Stats returns a snapshot of the counters.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.Active = uint64(len(a.conns))
	return s
}

// Packet feeds one decoded TCP packet. p.Payload is copied if it must be
// kept (out of order); otherwise it is handed to the parser directly.
func (a *Assembler) Packet(p *link.Packet) {
	if p.IPProto != 6 {
		return
	}
	a.stats.Packets++
	src := netip.AddrPortFrom(p.SrcIP, p.SrcPort)
	dst := netip.AddrPortFrom(p.DstIP, p.DstPort)
	syn, ack := p.Flags&link.FlagSYN != 0, p.Flags&link.FlagACK != 0
	k := keyOf(src, dst, p.Segment())
	c := a.last
	if c == nil || c.key != k {
		c = a.conns[k]
		a.last = c
	}

	// A SYN on a known connection is either a retransmission of the SYN we
	// saw or a new connection reusing the ports after the old one ended
	// without us seeing it end.
	if c != nil && syn && !ack && !(c.sawSYN && src == c.info.Client && p.Seq == c.clientISN) {
		a.close(c, p.Timestamp)
		a.stats.Closed++
		c = nil
	}
	if c == nil {
		// Pure ACK/FIN/RST of an unknown connection: nothing to reassemble,
		// and creating an entry for the last ACK of a closed connection
		// would resurrect it.
		if !syn && len(p.Payload) == 0 {
			return
		}
		c = a.open(k, src, dst, syn, ack, p)
	}
	a.touch(c, p.Timestamp)
	if c.parser == nil {
		return
	}
	a.active = c

	d := protocol.FromClient
	if src != c.info.Client {
		d = protocol.FromServer
	}
	s := &c.dirs[d]
	ts := p.Timestamp
	seq := p.Seq
	if syn {
		seq++ // the SYN occupies one sequence number; data (TFO) follows it
		if !s.started {
			s.start(seq)
		}
		if d == protocol.FromClient && !ack {
			c.sawSYN, c.clientISN = true, p.Seq
		}
	}
	if len(p.Payload) > 0 {
		if !s.started {
			s.start(seq) // mid-stream: start where we joined
		}
		a.segment(c, d, seq, p.Payload, ts)
	}
	if p.Flags&link.FlagFIN != 0 && !s.fin {
		if !s.started {
			// A direction that never sent data (joined mid-stream): its
			// FIN is where it starts, not a hole.
			s.start(seq)
		}
		s.fin, s.finSeq = true, seq+uint32(len(p.Payload))
	}
	if ack {
		// The peer acknowledging bytes of the other direction that we never
		// saw means they will not come: report them lost now.
		a.ackedPast(c, 1-d, p.Ack, ts)
	}
	a.checkFin(c, d, ts)

	if p.Flags&link.FlagRST != 0 {
		if !s.finDone {
			s.finDone = true
			c.parser.Fin(d, ts)
		}
		a.close(c, ts)
		a.stats.Closed++
		return
	}
	if c.dirs[0].fin && c.dirs[1].fin {
		a.close(c, ts)
		a.stats.Closed++
	}
	a.active = nil
}

// open creates the table entry, choosing client and server and asking the
// factory for a parser.
func (a *Assembler) open(k connKey, src, dst netip.AddrPort, syn, ack bool, p *link.Packet) *conn {
	if len(a.conns) >= a.cfg.MaxConnections {
		a.close(a.oldest, p.Timestamp)
		a.stats.Evicted++
	}
	info := &protocol.Conn{IPProtocol: 6, Iface: p.Iface}
	if p.NVLANs > 0 {
		info.VLANs = append([]uint16(nil), p.VLANList()...)
	}
	if p.Tunnel.N > 0 {
		t := p.Tunnel
		info.Tunnel = &t
	}
	var parser protocol.TCPParser
	switch {
	case syn && !ack: // SYN: the sender is the client
		info.Client, info.Server = src, dst
		parser = a.factory(info)
	case syn && ack: // SYN-ACK: the sender is the server
		info.Client, info.Server = dst, src
		parser = a.factory(info)
	default:
		// Joined mid-stream: servers usually listen on the lower port; if
		// the factory declines that guess, try the other way round.
		info.Client, info.Server = src, dst
		if src.Port() < dst.Port() {
			info.Client, info.Server = dst, src
		}
		if parser = a.factory(info); parser == nil {
			info.Client, info.Server = info.Server, info.Client
			parser = a.factory(info)
		}
	}

	c := a.getConn()
	c.key, c.info, c.parser, c.maxMsg = k, info, parser, a.cfg.MaxMessageSize
	if parser == nil {
		a.stats.Ignored++
	} else {
		a.stats.Connections++
		if l, ok := parser.(MessageSizeLimiter); ok && l.MaxMessageSize() > 0 {
			c.maxMsg = l.MaxMessageSize()
		}
	}
	a.conns[k] = c
	c.lastSeen = p.Timestamp
	a.pushNewest(c)
	return c
}

// checkFin tells the parser about a FIN once every byte before it has been
// delivered.
func (a *Assembler) checkFin(c *conn, d protocol.Dir, ts time.Time) {
	s := &c.dirs[d]
	if s.fin && !s.finDone && s.next == s.finSeq {
		s.finDone = true
		c.parser.Fin(d, ts)
	}
}

// close ends a connection: holes still open are reported as gaps (no more
// data can fill them), pending FINs are delivered, the parser is closed and
// the entry recycled.
func (a *Assembler) close(c *conn, ts time.Time) {
	if c.parser != nil {
		a.active = c
		for d := protocol.FromClient; d <= protocol.FromServer; d++ {
			a.flushHoles(c, d, ts)
			s := &c.dirs[d]
			if s.fin && !s.finDone {
				if seqDiff(s.finSeq, s.next) > 0 {
					a.gapTo(c, d, s.finSeq, ts)
				}
				s.finDone = true
				c.parser.Fin(d, ts)
			}
		}
		c.parser.Close(ts)
		a.active = nil
	}
	delete(a.conns, c.key)
	if a.last == c {
		a.last = nil
	}
	a.unlink(c)
	for d := range c.dirs {
		a.resetStream(&c.dirs[d])
	}
	a.putConn(c)
}

// Expire closes connections idle for longer than IdleTimeout, then lets
// every remaining parser time out its transactions. now is packet time.
func (a *Assembler) Expire(now time.Time) {
	for a.oldest != nil && now.Sub(a.oldest.lastSeen) > a.cfg.IdleTimeout {
		a.close(a.oldest, now)
		a.stats.Expired++
	}
	for c := a.newest; c != nil; c = c.older {
		if c.parser != nil {
			a.active = c
			c.parser.Expire(now)
		}
	}
	a.active = nil
}

// Quarantine is called after a panic unwound the assembler: the
// connection whose parser was running (if any) is taken out of decoding.
// It stays in the table as an ignored connection, so its later packets
// cost a lookup and nothing else, and its buffers are released. It
// returns that connection's description, or false when no parser was
// running (the panic came from elsewhere).
func (a *Assembler) Quarantine() (*protocol.Conn, bool) {
	c := a.active
	a.active = nil
	if c == nil {
		return nil, false
	}
	c.parser = nil
	for d := range c.dirs {
		a.resetStream(&c.dirs[d])
	}
	a.stats.Quarantined++
	return c.info, true
}

// FlushAll closes every connection (end of a pcap, shutdown), so parsers
// publish what they hold.
func (a *Assembler) FlushAll(ts time.Time) {
	for a.oldest != nil {
		a.close(a.oldest, ts)
	}
}

// Idle list: newest at the front. Every packet moves its connection to the
// front, so the back is always the connection idle longest.

func (a *Assembler) touch(c *conn, ts time.Time) {
	if ts.After(c.lastSeen) {
		c.lastSeen = ts
	}
	if a.newest == c {
		return
	}
	a.unlink(c)
	a.pushNewest(c)
}

func (a *Assembler) pushNewest(c *conn) {
	c.older, c.newer = a.newest, nil
	if a.newest != nil {
		a.newest.newer = c
	} else {
		a.oldest = c
	}
	a.newest = c
}

func (a *Assembler) unlink(c *conn) {
	if c.newer != nil {
		c.newer.older = c.older
	} else if a.newest == c {
		a.newest = c.older
	}
	if c.older != nil {
		c.older.newer = c.newer
	} else if a.oldest == c {
		a.oldest = c.newer
	}
	c.newer, c.older = nil, nil
}

func (a *Assembler) getConn() *conn {
	if n := len(a.free); n > 0 {
		c := a.free[n-1]
		a.free = a.free[:n-1]
		return c
	}
	return &conn{}
}

func (a *Assembler) putConn(c *conn) {
	dirs := c.dirs
	*c = conn{}
	if len(a.free) >= maxFreeConns {
		return
	}
	// Keep the emptied tail and segment-list backing arrays for reuse.
	for d := range dirs {
		c.dirs[d].buf = dirs[d].buf[:0]
		c.dirs[d].ooo = dirs[d].ooo[:0]
	}
	a.free = append(a.free, c)
}
