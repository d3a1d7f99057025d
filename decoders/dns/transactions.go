package dns

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Notes Packetbeat attaches as error.message; kept word for word so
// searches and dashboards built on them keep working.
const (
	noteNotDNS         = "Message's data could not be decoded as DNS"
	noteDuplicateQuery = "Another query with the same DNS ID from this client was received so this query was closed without receiving a response"
	noteNoResponse     = "No response to this query was received"
	noteOrphanResponse = "Response: received without an associated Query"
	noteUDPTooLarge    = "Non-EDNS packet has size greater than 512"
	noteEDNSNoSupport  = "Responder does not support EDNS"
	noteEDNSUnexpected = "Unexpected EDNS answer"
	noteZeroLength     = "Message's length was set to zero"
	noteIncomplete     = "Message's data is incomplete"
	responsePrefix     = "Response: "
)

// Stats are the instance's counters, safe to read from other goroutines.
type Stats struct {
	Messages           atomic.Uint64 // DNS messages seen (queries and responses)
	ParseErrors        atomic.Uint64 // datagrams or TCP messages that are not DNS
	Events             atomic.Uint64 // events published
	UnmatchedQueries   atomic.Uint64 // queries published without a response
	UnmatchedResponses atomic.Uint64 // responses without a query
	Evicted            atomic.Uint64 // queries published early because a pending table was full
	// Resync counts the searches for the next TCP message after lost
	// framing (resyncProbe).
	Resync protocol.ResyncStats
}

// endpoints is one client/server pair, copied out of the engine's Conn
// (which is only valid during a call).
type endpoints struct {
	client, server netip.AddrPort
	ipProto        uint8
	nvlans         uint8
	vlans          [2]uint16
	detected       bool // the connection was handed over by the probe
	// tunnel is the engine's per-datagram copy (safe to keep); seg its
	// segment, part of the transaction key.
	tunnel *ecsmap.Tunnel
	seg    uint64
	iface  uint16 // the capture interface (protocol.Conn.Iface)
}

func endpointsOf(c *protocol.Conn, swap bool) endpoints {
	ep := endpoints{client: c.Client, server: c.Server, ipProto: c.IPProtocol}
	if swap {
		ep.client, ep.server = c.Server, c.Client
	}
	ep.nvlans = uint8(copy(ep.vlans[:], c.VLANs))
	ep.detected = c.DetectedBy != ""
	ep.tunnel, ep.seg, ep.iface = c.Tunnel, c.Segment(), c.Iface
	return ep
}

// txKey identifies a UDP transaction: the querier, the server and the id.
type txKey struct {
	client, server netip.AddrPort
	id             uint16
	seg            uint64
}

// pending is a query waiting for its response. It owns a copy of the
// query's bytes; pendings are recycled so the steady state allocates
// nothing per query.
type pending struct {
	key        txKey
	ep         endpoints
	ts         time.Time
	raw        []byte
	length     int // bytes on the wire (TCP adds the 2-byte length)
	prev, next *pending
}

// queue is a FIFO of pendings in arrival order, so expiry looks only at
// its head.
type queue struct {
	head, tail *pending
	n          int
	bytes      int // query bytes held
}

func (q *queue) push(p *pending) {
	p.prev, p.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = p
	} else {
		q.head = p
	}
	q.tail = p
	q.n++
	q.bytes += len(p.raw)
}

func (q *queue) remove(p *pending) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		q.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		q.tail = p.prev
	}
	p.prev, p.next = nil, nil
	q.n--
	q.bytes -= len(p.raw)
}

// full reports whether adding a query of size n would exceed the bounds.
func (q *queue) full(maxN, maxBytes, n int) bool {
	return q.head != nil && (q.n >= maxN || q.bytes+n > maxBytes)
}

// Protocol is one configured DNS instance. It is the UDP protocol and the
// factory of TCP connection parsers; the engine calls it from one goroutine.
type Protocol struct {
	common protocol.Common
	cfg    Config
	pub    protocol.Publisher

	udp   map[txKey]*pending
	order queue
	free  []*pending

	stats Stats
}

// New builds an instance. newInstance (the registry's constructor) decodes
// the options and calls it; tests may call it directly.
func New(common protocol.Common, cfg Config, pub protocol.Publisher) *Protocol {
	if common.TransactionTimeout <= 0 {
		common.TransactionTimeout = DefaultTimeout
	}
	return &Protocol{common: common, cfg: cfg, pub: pub, udp: make(map[txKey]*pending)}
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return p.stats.ParseErrors.Load() }

func (p *Protocol) newPending(ep endpoints, id uint16, msg []byte, length int, ts time.Time) *pending {
	var pd *pending
	if n := len(p.free); n > 0 {
		pd = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		pd = &pending{}
	}
	pd.key = txKey{client: ep.client, server: ep.server, id: id, seg: ep.seg}
	pd.ep = ep
	pd.ts = ts
	pd.raw = append(pd.raw[:0], msg...)
	pd.length = length
	return pd
}

// recycle keeps a pending for reuse unless its buffer grew large (a rare
// big query should not pin memory).
func (p *Protocol) recycle(pd *pending) {
	if cap(pd.raw) > 4096 || len(p.free) >= 1024 {
		return
	}
	p.free = append(p.free, pd)
}

// Datagram handles one UDP datagram: queries wait for their response;
// a response completes its query or is published alone.
func (p *Protocol) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	h, err := Check(payload)
	if err != nil {
		p.stats.ParseErrors.Add(1)
		return
	}
	p.stats.Messages.Add(1)
	if !h.Response() {
		// The querier is the sender, whichever port it used.
		ep := endpointsOf(c, dir == protocol.FromServer)
		key := txKey{client: ep.client, server: ep.server, id: h.ID, seg: ep.seg}
		if old := p.udp[key]; old != nil {
			p.order.remove(old)
			delete(p.udp, key)
			p.publishQuery(old, noteDuplicateQuery)
		}
		for p.order.full(p.common.Share(maxPendingUDP), p.common.Share(maxPendingUDPBytes), len(payload)) {
			oldest := p.order.head
			p.order.remove(oldest)
			delete(p.udp, oldest.key)
			p.stats.Evicted.Add(1)
			p.publishQuery(oldest, noteNoResponse)
		}
		pd := p.newPending(ep, h.ID, payload, len(payload), ts)
		p.udp[key] = pd
		p.order.push(pd)
		return
	}
	// The querier is the receiver of a response.
	ep := endpointsOf(c, dir == protocol.FromClient)
	key := txKey{client: ep.client, server: ep.server, id: h.ID, seg: ep.seg}
	pd := p.udp[key]
	if pd == nil {
		p.stats.UnmatchedResponses.Add(1)
		p.publish(buildEvent(p, ep, nil, 0, time.Time{}, payload, len(payload), ts, []string{noteOrphanResponse}))
		return
	}
	p.order.remove(pd)
	delete(p.udp, key)
	p.publish(buildEvent(p, pd.ep, pd.raw, pd.length, pd.ts, payload, len(payload), ts, nil))
	p.recycle(pd)
}

// publishQuery publishes a query that got no response and recycles it.
func (p *Protocol) publishQuery(pd *pending, note string) {
	p.stats.UnmatchedQueries.Add(1)
	p.publish(buildEvent(p, pd.ep, pd.raw, pd.length, pd.ts, nil, 0, time.Time{}, []string{note}))
	p.recycle(pd)
}

func (p *Protocol) publish(ev *Event) {
	p.stats.Events.Add(1)
	p.pub.Publish(ev)
}

// Expire publishes UDP queries older than transaction_timeout.
func (p *Protocol) Expire(now time.Time) {
	for pd := p.order.head; pd != nil && now.Sub(pd.ts) >= p.common.TransactionTimeout; pd = p.order.head {
		p.order.remove(pd)
		delete(p.udp, pd.key)
		p.publishQuery(pd, noteNoResponse)
	}
}

// Flush publishes every pending UDP query (end of input).
func (p *Protocol) Flush() {
	for pd := p.order.head; pd != nil; pd = p.order.head {
		p.order.remove(pd)
		delete(p.udp, pd.key)
		p.publishQuery(pd, noteNoResponse)
	}
}

// NewConn returns the parser of one TCP connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	return &tcpConn{p: p, ep: endpointsOf(c, false)}
}

// tcpConn parses DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message is
// preceded by its 2-byte length; a connection may carry many queries, and
// responses may come in any order, so they pair by id within the connection.
type tcpConn struct {
	p  *Protocol
	ep endpoints
	// After a gap or a zero length the framing is lost: rs searches for
	// the next message with resyncProbe (within protocol.ResyncBudget;
	// past it the direction is skipped).
	rs [2]protocol.Resync
	// partial directions hold the start of a message the stream keeps for
	// the next call: at FIN or a gap it will never complete.
	partial [2]bool
	pending queue
}

// Parse consumes every complete message in data and leaves a partial one
// for the next call.
func (t *tcpConn) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	consumed := 0
	for {
		if t.rs[dir].Active() {
			skip, found := t.rs[dir].Scan(dir, data[consumed:], resyncProbe, &t.p.stats.Resync)
			consumed += skip
			if !found {
				t.partial[dir] = false
				return consumed
			}
		}
		rest := data[consumed:]
		t.partial[dir] = len(rest) > 0
		if len(rest) < 2 {
			return consumed
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n == 0 {
			// Framing is lost: search for the next message. Responses
			// are paired by id, so no query is closed on a guess.
			t.p.stats.ParseErrors.Add(1)
			t.lose(dir, "")
			continue
		}
		if len(rest) < 2+n {
			return consumed
		}
		consumed += 2 + n
		t.message(dir, rest[2:2+n], ts)
	}
}

func (t *tcpConn) message(dir protocol.Dir, msg []byte, ts time.Time) {
	p := t.p
	h, err := Check(msg)
	if err != nil {
		p.stats.ParseErrors.Add(1)
		if dir == protocol.FromServer {
			t.responseError(noteNotDNS)
		}
		return
	}
	p.stats.Messages.Add(1)
	if !h.Response() {
		for pd := t.pending.head; pd != nil; pd = pd.next {
			if pd.key.id == h.ID {
				t.pending.remove(pd)
				p.publishQuery(pd, noteDuplicateQuery)
				break
			}
		}
		for t.pending.full(maxPendingTCP, maxPendingTCPBytes, len(msg)) {
			oldest := t.pending.head
			t.pending.remove(oldest)
			p.stats.Evicted.Add(1)
			p.publishQuery(oldest, noteNoResponse)
		}
		t.pending.push(p.newPending(t.ep, h.ID, msg, len(msg)+2, ts))
		return
	}
	for pd := t.pending.head; pd != nil; pd = pd.next {
		if pd.key.id == h.ID {
			t.pending.remove(pd)
			p.publish(buildEvent(p, t.ep, pd.raw, pd.length, pd.ts, msg, len(msg)+2, ts, nil))
			p.recycle(pd)
			return
		}
	}
	p.stats.UnmatchedResponses.Add(1)
	p.publish(buildEvent(p, t.ep, nil, 0, time.Time{}, msg, len(msg)+2, ts, []string{noteOrphanResponse}))
}

// responseError closes the oldest pending query with a note saying why its
// response could not be read, as Packetbeat does.
func (t *tcpConn) responseError(note string) {
	if pd := t.pending.head; pd != nil {
		t.pending.remove(pd)
		t.p.publishQuery(pd, responsePrefix+note)
	}
}

// lose starts the search for the next message in dir; note (if any)
// closes the oldest query when a response was cut.
func (t *tcpConn) lose(dir protocol.Dir, note string) {
	t.partial[dir] = false
	t.rs[dir].Lost()
	if dir == protocol.FromServer && note != "" {
		t.responseError(note)
	}
}

// Gap loses the framing: DNS over TCP has no marker of a message
// boundary, so the direction searches for the next plausible message
// (resyncProbe). A response cut by the gap closes the oldest query with a
// note; other pending queries stay until their response, timeout or the
// connection's end.
func (t *tcpConn) Gap(dir protocol.Dir, _ int, _ time.Time) {
	note := ""
	if t.partial[dir] {
		note = noteIncomplete
	}
	t.lose(dir, note)
}

// Fin: a response left incomplete closes the oldest query with a note, as
// in Packetbeat.
func (t *tcpConn) Fin(dir protocol.Dir, _ time.Time) {
	if t.partial[dir] {
		t.partial[dir] = false
		if dir == protocol.FromServer {
			t.responseError(noteIncomplete)
		}
	}
}

// Expire publishes queries older than transaction_timeout.
func (t *tcpConn) Expire(now time.Time) {
	for pd := t.pending.head; pd != nil && now.Sub(pd.ts) >= t.p.common.TransactionTimeout; pd = t.pending.head {
		t.pending.remove(pd)
		t.p.publishQuery(pd, noteNoResponse)
	}
}

// Close publishes the queries still unanswered.
func (t *tcpConn) Close(time.Time) {
	for pd := t.pending.head; pd != nil; pd = t.pending.head {
		t.pending.remove(pd)
		t.p.publishQuery(pd, noteNoResponse)
	}
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"response_without_query", s.UnmatchedResponses.Load(),
		"published_early_table_full", s.Evicted.Load(),
	), s.Resync.Drops()...)
}
