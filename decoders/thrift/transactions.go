package thrift

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what was parsed, skipped or could not be paired. Counters
// are shared by every connection of an instance.
type Stats struct {
	// Resync counts the searches for a message header after lost framing.
	Resync             protocol.ResyncStats
	Calls, Replies     atomic.Int64 // complete messages parsed
	Oneways            atomic.Int64 // ONEWAY calls, published alone
	UnmatchedRequests  atomic.Int64 // calls published without a reply (timeout, close, queue bound)
	UnmatchedResponses atomic.Int64 // replies no call waited for, dropped
	ParseErrors        atomic.Int64 // bytes that are not Thrift: the rest of the segment is dropped
	Gaps               atomic.Int64 // lost bytes reported by the stream
}

// Protocol is one configured thrift instance.
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
	return &connection{p: p, conn: *c, r: renderer{cfg: p.cfg}}
}

// call is a request waiting for its reply.
type call struct {
	ts     time.Time
	size   int64
	seqid  int32
	method string
	params string
	// service is the method's service from IDL, "" without.
	service string
}

// connection pairs the calls and replies of one TCP connection. Clients
// may multiplex (asynchronous clients send several calls before the first
// reply), so a reply pairs with the oldest waiting call of the same
// sequence id and method; many clients (Python's) always send seqid 0, and
// the oldest-first rule keeps those in order.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	r       renderer
	pending []*call
	// resync is set per direction after a gap or garbage: bytes are
	// skipped until something that looks like a message header.
	resync [2]bool
	rs     [2]protocol.Resync
}

// Parse consumes one complete message (or frame) per call.
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	cfg := c.p.cfg
	skipped := 0
	if c.resync[dir] {
		probe := resyncSocket
		if cfg.framed {
			probe = resyncFramed
		}
		i, found := c.rs[dir].Scan(dir, data, probe, &c.p.stats.Resync)
		if !found {
			return i
		}
		c.resync[dir] = false
		data, skipped = data[i:], i
	}
	msg := data
	size, wire := 0, 0
	if cfg.framed {
		if len(data) < 4 {
			return skipped
		}
		n := int64(int32(binary.BigEndian.Uint32(data)))
		if n <= 0 || n > maxMessage {
			return skipped + c.invalid(dir, len(data))
		}
		if int64(len(data)) < 4+n {
			return skipped
		}
		msg, size, wire = data[4:4+n], int(n), 4+int(n)
	}
	h, n, st := scanMessage(msg, cfg.structMax)
	switch {
	case st == more && !cfg.framed:
		return skipped
	case st != ok:
		// Garbage, or a frame that ends inside its message.
		return skipped + c.invalid(dir, len(data))
	}
	if !cfg.framed {
		size, wire = n, n
	}
	c.onMessage(&h, msg[:n], int64(size), ts)
	return skipped + wire
}

// invalid drops what is buffered in dir and looks for the next header.
func (c *connection) invalid(dir protocol.Dir, n int) int {
	c.p.stats.ParseErrors.Add(1)
	c.resync[dir] = true
	c.rs[dir].Lost()
	return n
}

func (c *connection) onMessage(h *header, msg []byte, size int64, ts time.Time) {
	switch h.mtype {
	case mCall, mOneway:
		c.p.stats.Calls.Add(1)
		cl := &call{ts: ts, size: size, seqid: h.seqid, method: string(h.name)}
		var names map[int16]string
		if m := c.p.cfg.idl[cl.method]; m != nil {
			cl.service, names = m.service, m.params
		}
		c.r.buf = c.r.buf[:0]
		c.r.structure(msg[h.body:], nil, names)
		cl.params = string(c.r.buf)
		if h.mtype == mOneway {
			c.p.stats.Oneways.Add(1)
			c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, cl, nil, ""))
			return
		}
		if len(c.pending) >= maxPending {
			c.unmatched(0, "Unmatched request (too many calls waiting)")
		}
		c.pending = append(c.pending, cl)
	default:
		c.p.stats.Replies.Add(1)
		i := c.find(h)
		if i < 0 {
			c.p.stats.UnmatchedResponses.Add(1)
			return
		}
		cl := c.pending[i]
		c.pending = append(c.pending[:i], c.pending[i+1:]...)
		rp := &reply{ts: ts, size: size}
		if c.p.cfg.captureReply {
			first := -1
			var names map[int16]string
			if m := c.p.cfg.idl[cl.method]; m != nil && h.mtype == mReply {
				names = m.exceptions
			}
			c.r.buf = c.r.buf[:0]
			c.r.structure(msg[h.body:], &first, names)
			switch {
			case first < 0:
				// void, or nothing set
			case first == 0 && h.mtype == mReply:
				// The result struct's field 0 is the return value:
				// strip "(0: " and ")".
				txt := c.r.buf[1 : len(c.r.buf)-1]
				if len(txt) >= 3 && txt[0] == '0' && txt[1] == ':' {
					txt = txt[3:]
				}
				rp.returnValue = string(txt)
			default:
				// A declared exception (field 1..n of the result) or a
				// TApplicationException (message type EXCEPTION).
				rp.exceptions = string(c.r.buf)
			}
		}
		c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, cl, rp, ""))
	}
}

// find returns the index of the oldest call h answers, or -1.
func (c *connection) find(h *header) int {
	for i, cl := range c.pending {
		if cl.seqid == h.seqid && cl.method == string(h.name) {
			return i
		}
	}
	return -1
}

func (c *connection) unmatched(i int, note string) {
	cl := c.pending[i]
	c.pending = append(c.pending[:i], c.pending[i+1:]...)
	c.p.stats.UnmatchedRequests.Add(1)
	c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, cl, nil, note))
}

// Gap: the engine drops the unfinished message with the lost bytes; the
// parser looks for the next header. Calls stay queued: their replies may
// still come.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	c.resync[dir] = true
	c.rs[dir].Lost()
}

// Fin needs nothing: a message cut by the close is dropped with the stream.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {}

// Expire publishes calls that waited longer than transaction_timeout.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for len(c.pending) > 0 && now.Sub(c.pending[0].ts) > limit {
		c.unmatched(0, "Unmatched request")
	}
}

// Close publishes every call still waiting, alone.
func (c *connection) Close(ts time.Time) {
	for len(c.pending) > 0 {
		c.unmatched(0, "Unmatched request")
	}
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"reply_without_call", s.UnmatchedResponses.Load(),
	), s.Resync.Drops()...)
}
