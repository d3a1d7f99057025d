package mongodb

import (
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// maxPending bounds the requests one connection keeps waiting for replies.
const maxPending = 256

// Stats counts what the parser skipped or could not pair. Counters are
// shared by every connection of an instance.
type Stats struct {
	// Resync counts the searches for a message header after lost framing.
	Resync             protocol.ResyncStats
	Messages           atomic.Int64
	Published          atomic.Int64
	Compressed         atomic.Int64 // OP_COMPRESSED messages: counted, skipped
	TooLarge           atomic.Int64 // messages over maxParsed: header only
	UnmatchedRequests  atomic.Int64 // published without a reply
	UnmatchedResponses atomic.Int64 // replies no request waited for: dropped
	ParseErrors        atomic.Int64
	ChecksumErrors     atomic.Int64
	Gaps               atomic.Int64
	Overflows          atomic.Int64
}

// Protocol is one configured mongodb instance.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return uint64(p.stats.ParseErrors.Load()) }

// NewConn starts parsing one connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	return &connection{p: p, conn: *c, dec: decoder{cfg: p.cfg}}
}

// direction is the framing state of one direction.
type direction struct {
	skip   int  // bytes of an oversized message still to skip
	resync bool // lost framing: rs searches for the next header
	rs     protocol.Resync
}

// connection pairs requests with replies by requestID/responseTo: drivers
// multiplex nothing on one socket today, but the ids make pairing exact
// even when they do, so no FIFO assumption is needed.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	dec     decoder
	dirs    [2]direction
	pending map[int32]*message
	order   []int32 // request ids in arrival order, for expiry and eviction
}

// Parse consumes whole messages of dir.
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	off := 0
	for off < len(data) {
		n := c.step(dir, data[off:], ts)
		if n == 0 {
			break
		}
		off += n
	}
	return off
}

func (c *connection) step(dir protocol.Dir, data []byte, ts time.Time) int {
	d := &c.dirs[dir]
	if d.skip > 0 {
		n := min(d.skip, len(data))
		d.skip -= n
		return n
	}
	if d.resync {
		skip, found := d.rs.Scan(dir, data, resyncProbe, &c.p.stats.Resync)
		if !found || skip > 0 {
			d.resync = !found
			return skip
		}
		d.resync = false
	}
	if len(data) < headerLen {
		return 0
	}
	h, err := parseHeader(data)
	if err != nil {
		// Not a message boundary: search for the next header from the
		// next byte on.
		c.p.stats.ParseErrors.Add(1)
		d.resync = true
		d.rs.Lost()
		return 1
	}
	if h.length > maxParsed {
		c.p.stats.Messages.Add(1)
		c.p.stats.TooLarge.Add(1)
		m := &message{header: h, ts: ts, isResponse: dir == protocol.FromServer,
			notes: []string{"Message too large to decode"}}
		m.method = "unknown"
		c.handle(m, dir)
		n := min(h.length, len(data))
		d.skip = h.length - n
		return n
	}
	if len(data) < h.length {
		return 0
	}
	msg := data[:h.length]
	c.p.stats.Messages.Add(1)
	if h.opCode == opCompressed {
		c.p.stats.Compressed.Add(1)
		return h.length
	}
	m, err := c.dec.decode(h, msg, ts)
	if err != nil {
		c.p.stats.ParseErrors.Add(1)
		m.notes = append(m.notes, err.Error())
	}
	if h.opCode == opMsg && !checksumOK(msg) {
		c.p.stats.ChecksumErrors.Add(1)
		m.notes = append(m.notes, errChecksum.Error())
	}
	if dir == protocol.FromServer && !m.isResponse && h.opCode != opReply {
		// A server message with responseTo 0 is not a reply we can pair.
		m.isResponse = true
	}
	c.handle(m, dir)
	return h.length
}

// handle routes a decoded message: requests wait for their reply (or are
// published at once when none comes), replies complete their request.
func (c *connection) handle(m *message, dir protocol.Dir) {
	if dir == protocol.FromServer {
		req, ok := c.pending[m.responseTo]
		if !ok {
			c.p.stats.UnmatchedResponses.Add(1)
			return
		}
		delete(c.pending, m.responseTo)
		c.publish(req, m)
		return
	}
	if m.isResponse {
		// A reply from the client side: the capture has the roles mixed up.
		c.p.stats.UnmatchedResponses.Add(1)
		return
	}
	if !m.expectsReply {
		c.publish(m, nil)
		return
	}
	if c.pending == nil {
		c.pending = make(map[int32]*message)
	}
	if old, ok := c.pending[m.requestID]; ok {
		c.publishUnmatched(old, "Request id reused before a reply")
	}
	if len(c.pending) >= maxPending {
		c.p.stats.Overflows.Add(1)
		c.evictOldest("Too many requests waiting for replies")
	}
	c.pending[m.requestID] = m
	c.order = append(c.order, m.requestID)
	if len(c.order) > 4*maxPending {
		c.compact()
	}
}

// compact drops ids of requests that were answered from c.order.
func (c *connection) compact() {
	kept := c.order[:0]
	for _, id := range c.order {
		if _, ok := c.pending[id]; ok {
			kept = append(kept, id)
		}
	}
	c.order = kept
}

func (c *connection) evictOldest(note string) {
	for len(c.order) > 0 {
		id := c.order[0]
		c.order = c.order[1:]
		if m, ok := c.pending[id]; ok {
			delete(c.pending, id)
			c.publishUnmatched(m, note)
			return
		}
	}
}

// Gap: framing in dir is lost. Requests keep waiting (their replies carry
// ids, so pairing stays exact after resync); dir drops data until a
// plausible header.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	c.dirs[dir] = direction{resync: true}
	c.dirs[dir].rs.Lost()
	if dir == protocol.FromClient {
		return
	}
	for _, m := range c.pending {
		m.notes = append(m.notes, "Packet loss while capturing the response")
	}
}

// Fin needs nothing: waiting requests are published at Close.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {}

// Expire publishes requests that waited longer than transaction_timeout.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for len(c.order) > 0 {
		id := c.order[0]
		m, ok := c.pending[id]
		if ok && now.Sub(m.ts) <= limit {
			return
		}
		c.order = c.order[1:]
		if ok {
			delete(c.pending, id)
			c.publishUnmatched(m, "")
		}
	}
}

// Close publishes every request still waiting, alone, oldest first.
func (c *connection) Close(ts time.Time) {
	for len(c.pending) > 0 && len(c.order) > 0 {
		c.evictOldest("")
	}
	c.pending, c.order = nil, nil
}

func (c *connection) publishUnmatched(m *message, note string) {
	c.p.stats.UnmatchedRequests.Add(1)
	if note != "" {
		m.notes = append(m.notes, note)
	}
	m.notes = append(m.notes, "Unmatched request")
	c.publish(m, nil)
}

func (c *connection) publish(req, resp *message) {
	c.p.stats.Published.Add(1)
	c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, req, resp))
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"op_compressed", s.Compressed.Load(),
		"reply_without_request", s.UnmatchedResponses.Load(),
		"checksum_error", s.ChecksumErrors.Load(),
		"pending_limit", s.Overflows.Load(),
	), s.Resync.Drops()...)
}
