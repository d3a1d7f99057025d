package memcache

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the parser skipped or could not pair. Counters are
// shared by every connection of an instance and safe to read at any time.
type Stats struct {
	Messages           atomic.Int64 // complete messages parsed (merged parts count once)
	Events             atomic.Int64 // transactions published
	UnmatchedRequests  atomic.Int64 // published without a response although one was due
	UnmatchedResponses atomic.Int64 // published without a request
	ParseErrors        atomic.Int64 // malformed messages or datagrams: the buffered bytes were dropped
	DroppedBytes       atomic.Int64 // bytes discarded after parse errors
	GapRecovered       atomic.Int64 // gaps inside a value, skipped without losing sync
	GapDrops           atomic.Int64 // gaps that lost the message in progress
	UDPDrops           atomic.Int64 // UDP datagrams dropped (bounds, duplicates, inconsistent headers)
	// Resync counts the searches for the next command after client-side
	// gaps and what text pairing gave up to stay right.
	Resync protocol.ResyncStats
}

// Protocol is one configured memcache instance: the TCPProtocol the engine
// asks for a parser per connection, and (in udp) the UDPProtocol.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
	udp   udpProtocol
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return uint64(p.stats.ParseErrors.Load()) }

// NewConn starts parsing one TCP connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	return &connection{p: p, conn: *c}
}

func (p *Protocol) publish(conn *protocol.Conn, req, resp *message, note string) {
	p.stats.Events.Add(1)
	p.pub.Publish(newEvent(p.cfg, conn, req, resp, note))
}

const (
	noteNoResponse = "memcache: no response to the request"
	noteNoRequest  = "memcache: response without a request"
	noteGap        = "memcache: packet loss inside a value"
)

// connection pairs the requests and responses of one TCP connection. The
// text protocol answers in order; binary responses carry the request's
// opaque and opcode, and quiet requests are only answered on a hit or an
// error, so a response passes the quiet requests before its own.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	streams [2]stream
	// Requests waiting for a response, oldest first.
	head, tail *message
	pending    int
	// rs searches the client's bytes for the next command after lost
	// framing; guard holds text pairing off while commands may have
	// vanished in a gap (binary responses carry the request's opaque and
	// need no guard). binary: the client spoke the binary protocol last.
	rs     protocol.Resync
	guard  protocol.PairGuard
	binary bool
}

func (c *connection) push(m *message) {
	if c.pending == maxPending {
		old := c.pop()
		c.unanswered(old)
	}
	if c.tail == nil {
		c.head = m
	} else {
		c.tail.next = m
	}
	c.tail = m
	c.pending++
}

func (c *connection) pop() *message {
	m := c.head
	if m != nil {
		c.head = m.next
		if c.head == nil {
			c.tail = nil
		}
		m.next = nil
		c.pending--
	}
	return m
}

// unanswered publishes a request alone: quiet requests need no answer.
func (c *connection) unanswered(m *message) {
	note := ""
	if !m.quiet() {
		note = noteNoResponse
		c.p.stats.UnmatchedRequests.Add(1)
	}
	c.p.publish(&c.conn, m, nil, note)
}

// Parse consumes complete protocol elements: lines, headers, and value
// blocks as they come (values are copied only as far as they are kept).
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	st := &c.streams[dir]
	off := 0
	for off < len(data) {
		if dir == protocol.FromClient && c.rs.Active() {
			// Text commands start lines; binary requests start anywhere.
			scan := c.rs.ScanLines
			if c.binary {
				scan = c.rs.Scan
			}
			skip, found := scan(dir, data[off:], probe, &c.p.stats.Resync)
			off += skip
			if !found {
				return off
			}
		}
		n, m, err := st.step(c.p.cfg, data[off:], ts, dir == protocol.FromClient)
		if err != nil {
			// Requests: search for the next command line. Responses:
			// resynchronise at the next segment (responses mostly start
			// at segment boundaries, and a response line such as an incr
			// result has nothing a probe could tell from value bytes).
			c.p.stats.ParseErrors.Add(1)
			c.p.stats.DroppedBytes.Add(int64(len(data) - off))
			st.reset()
			if dir == protocol.FromServer {
				c.flush() // the lost response would pair with the wrong request
			} else {
				c.rs.Lost()
				c.guard.RequestGap(ts)
			}
			return len(data)
		}
		off += n
		if m != nil {
			c.onMessage(m)
		}
		if n == 0 {
			break
		}
	}
	return off
}

func (c *connection) onMessage(m *message) {
	c.p.stats.Messages.Add(1)
	if m.isRequest {
		c.binary = m.binary
		if m.expectsResponse() {
			srv := &c.streams[protocol.FromServer]
			if !m.binary && !c.guard.Request(c.head == nil && srv.state == stStart && srv.cur == nil) {
				c.p.stats.Resync.UnpairedReqs.Add(1)
				c.unanswered(m)
				return
			}
			c.push(m)
		} else {
			c.p.publish(&c.conn, m, nil, "")
		}
		return
	}
	for {
		req := c.pop()
		if req == nil {
			if !m.binary && c.guard.Unanswered(m.ts) {
				c.p.stats.Resync.UnpairedResps.Add(1)
			}
			c.p.stats.UnmatchedResponses.Add(1)
			c.p.publish(&c.conn, nil, m, noteNoRequest)
			return
		}
		if req.binary == m.binary && (!m.binary || (req.opaque == m.opaque && req.opcode == m.opcode)) {
			c.p.publish(&c.conn, req, m, "")
			return
		}
		c.unanswered(req)
	}
}

// flush publishes every waiting request alone.
func (c *connection) flush() {
	for m := c.pop(); m != nil; m = c.pop() {
		c.unanswered(m)
	}
}

// Gap reports lost bytes. A gap that falls inside a value is skipped
// (the value is counted but not kept) and parsing continues in sync; any
// other gap loses the message in progress and the pairing, as Packetbeat.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	st := &c.streams[dir]
	if st.state == stData && int64(n) <= st.remaining {
		m := st.cur
		m.lost += int64(n)
		m.keepCap, m.gapInValue = 0, true
		m.notes = appendNote(m.notes, noteGap)
		st.remaining -= int64(n)
		if st.remaining == 0 && m.binary {
			if done := st.finishBinaryValue(c.p.cfg, ts, true); done != nil {
				c.onMessage(done)
			}
		} else if st.remaining == 0 {
			st.state = stDataCRLF
		}
		c.p.stats.GapRecovered.Add(1)
		return
	}
	if st.cur != nil || st.state != stStart {
		c.p.stats.GapDrops.Add(1)
	}
	st.reset()
	if dir == protocol.FromClient {
		// Requests waiting from before the gap still get their responses
		// in order; what follows the gap is searched for the next command
		// and paired only after a clean turn.
		c.rs.Lost()
		c.guard.RequestGap(ts)
		return
	}
	// The responses of the requests seen before the loss may be in the
	// lost bytes; one that came with the packet revealing it is answered
	// after it.
	for c.head != nil && c.head.ts.Before(ts) {
		c.unanswered(c.pop())
	}
}

func appendNote(notes []string, n string) []string {
	for _, have := range notes {
		if have == n {
			return notes
		}
	}
	return append(notes, n)
}

// Fin needs nothing: Close and Expire publish what waits.
func (c *connection) Fin(protocol.Dir, time.Time) {}

// Expire publishes requests older than transaction_timeout alone.
func (c *connection) Expire(now time.Time) {
	timeout := c.p.cfg.common.TransactionTimeout
	for c.head != nil && now.Sub(c.head.ts) >= timeout {
		c.unanswered(c.pop())
	}
}

// Close publishes what still waits; a response cut mid-way is dropped.
func (c *connection) Close(time.Time) {
	c.flush()
	c.streams[0].reset()
	c.streams[1].reset()
}

// udpKey identifies a UDP transaction: memcached echoes the request id of
// the 8-byte frame header in every datagram of its response.
type udpKey struct {
	client, server netip.AddrPort
	id             uint16
	seg            uint64 // tunnel segment
}

// udpTrans is one UDP transaction in progress, in a list ordered by first
// datagram time for expiry.
type udpTrans struct {
	key        udpKey
	conn       protocol.Conn
	ts         time.Time
	req, resp  *message
	parts      [2]*udpParts
	st         [2]stream // parser state across the datagrams of one message
	rest       [2][]byte // an incomplete line carried to the next datagram
	prev, next *udpTrans
}

// udpParts reassembles a message sent in several datagrams.
type udpParts struct {
	total uint16
	got   uint16
	size  int
	frags [][]byte
}

type udpProtocol struct {
	p          *Protocol
	pending    map[udpKey]*udpTrans
	head, tail *udpTrans
}

func (u *udpProtocol) init(p *Protocol) {
	u.p = p
	u.pending = map[udpKey]*udpTrans{}
}

func (u *udpProtocol) link(t *udpTrans) {
	t.prev = u.tail
	if u.tail == nil {
		u.head = t
	} else {
		u.tail.next = t
	}
	u.tail = t
}

func (u *udpProtocol) remove(t *udpTrans) {
	if t.prev == nil {
		u.head = t.next
	} else {
		t.prev.next = t.next
	}
	if t.next == nil {
		u.tail = t.prev
	} else {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
	delete(u.pending, t.key)
}

// ParseErrors implements protocol.ErrorCounter (shared with TCP).
func (u *udpProtocol) ParseErrors() uint64 { return u.p.ParseErrors() }

// Datagram handles one datagram: frame header, reassembly of multi-datagram
// messages, then the same parser as TCP on the whole payload.
func (u *udpProtocol) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	p := u.p
	if len(payload) < 8 {
		p.stats.ParseErrors.Add(1)
		return
	}
	id := binary.BigEndian.Uint16(payload)
	seq := binary.BigEndian.Uint16(payload[2:])
	total := binary.BigEndian.Uint16(payload[4:])
	body := payload[8:]
	if total == 0 || seq >= total {
		p.stats.ParseErrors.Add(1)
		return
	}
	key := udpKey{c.Client, c.Server, id, c.Segment()}
	t := u.pending[key]
	if t == nil {
		if len(u.pending) >= p.cfg.common.Share(maxUDPPending) {
			u.expireOldest()
		}
		t = &udpTrans{key: key, conn: *c, ts: ts}
		u.pending[key] = t
		u.link(t)
	}
	if (dir == protocol.FromClient && t.req != nil) || (dir == protocol.FromServer && t.resp != nil) {
		p.stats.UDPDrops.Add(1) // a duplicate, or a reused id: keep the first
		return
	}
	if total > 1 {
		body = u.reassemble(t, dir, seq, total, body)
		if body == nil {
			return
		}
	}
	m, err := t.feed(p.cfg, dir, body, ts)
	if err != nil {
		p.stats.ParseErrors.Add(1)
		if t.req == nil && t.resp == nil {
			u.remove(t)
		}
		return
	}
	if m == nil {
		return // the message goes on in the next datagram
	}
	p.stats.Messages.Add(1)
	if m.isRequest {
		t.req = m
		if !m.expectsResponse() {
			u.remove(t)
			p.publish(&t.conn, m, nil, "")
			return
		}
	} else {
		t.resp = m
	}
	if t.req != nil && t.resp != nil {
		u.remove(t)
		p.publish(&t.conn, t.req, t.resp, "")
	}
}

// feed parses the payload of one datagram (or of a reassembled
// multi-datagram message) in dir. memcached sends a multi-get answer as
// several datagrams that each claim to be 1 of 1 (VALUE... in one, END in
// the next), so the parser state carries over between datagrams of the
// same request id, like a stream.
func (t *udpTrans) feed(cfg *settings, dir protocol.Dir, body []byte, ts time.Time) (*message, error) {
	st := &t.st[dir]
	data := body
	if len(t.rest[dir]) > 0 {
		data = append(t.rest[dir], body...)
		t.rest[dir] = nil
	}
	off := 0
	for off < len(data) {
		n, m, err := st.step(cfg, data[off:], ts, dir == protocol.FromClient)
		if err != nil {
			st.reset()
			return nil, err
		}
		off += n
		if m != nil {
			st.reset() // one message per request id and direction
			return m, nil
		}
		if n == 0 {
			break
		}
	}
	if off < len(data) {
		if len(data)-off > maxLineBytes {
			st.reset()
			return nil, errLineTooLong
		}
		t.rest[dir] = append([]byte(nil), data[off:]...)
	}
	return nil, nil
}

// reassemble keeps datagram seq of a multi-datagram message and returns the
// whole payload once every part is in, nil before.
func (u *udpProtocol) reassemble(t *udpTrans, dir protocol.Dir, seq, total uint16, body []byte) []byte {
	pt := t.parts[dir]
	if pt == nil {
		pt = &udpParts{total: total, frags: make([][]byte, total)}
		t.parts[dir] = pt
	}
	if pt.total != total || pt.frags[seq] != nil || pt.size+len(body) > maxUDPMessage {
		u.p.stats.UDPDrops.Add(1)
		return nil
	}
	pt.frags[seq] = append([]byte(nil), body...)
	pt.got++
	pt.size += len(body)
	if pt.got < pt.total {
		return nil
	}
	whole := make([]byte, 0, pt.size)
	for _, f := range pt.frags {
		whole = append(whole, f...)
	}
	t.parts[dir] = nil
	return whole
}

func (u *udpProtocol) publishAlone(t *udpTrans) {
	p := u.p
	switch {
	case t.req != nil:
		note := ""
		if !t.req.quiet() {
			note = noteNoResponse
			p.stats.UnmatchedRequests.Add(1)
		}
		p.publish(&t.conn, t.req, nil, note)
	case t.resp != nil:
		p.stats.UnmatchedResponses.Add(1)
		p.publish(&t.conn, nil, t.resp, noteNoRequest)
	}
}

func (u *udpProtocol) expireOldest() {
	if t := u.head; t != nil {
		u.remove(t)
		u.publishAlone(t)
	}
}

// Expire publishes transactions older than udptransactiontimeout.
func (u *udpProtocol) Expire(now time.Time) {
	for t := u.head; t != nil && now.Sub(t.ts) >= u.p.cfg.udpTimeout; t = u.head {
		u.remove(t)
		u.publishAlone(t)
	}
}

// Flush publishes everything still pending.
func (u *udpProtocol) Flush() {
	for t := u.head; t != nil; t = u.head {
		u.remove(t)
		u.publishAlone(t)
	}
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"bytes_after_parse_error", s.DroppedBytes.Load(),
		"gap", s.GapDrops.Load(),
		"udp_datagram", s.UDPDrops.Load(),
	), s.Resync.Drops()...)
}
