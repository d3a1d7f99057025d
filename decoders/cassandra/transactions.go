package cassandra

import (
	"sync/atomic"
	"time"

	"github.com/golang/snappy"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what was parsed, skipped or could not be paired; shared by
// the connections of an instance, safe to read any time.
type Stats struct {
	// Resync counts the searches for a frame header after lost framing.
	Resync              protocol.ResyncStats
	Requests, Responses atomic.Int64 // frames parsed
	Events              atomic.Int64 // server-pushed EVENT frames
	Unmatched           atomic.Int64 // requests dropped without a response (timeout, close)
	UnmatchedResponses  atomic.Int64 // responses without a request, dropped
	Ignored             atomic.Int64 // transactions dropped by ignored_ops
	OtherVersion        atomic.Int64 // v1/v2/v5/DSE frames skipped
	V5Conns             atomic.Int64 // connections switched to v5 segment framing, skipped
	Compressed          atomic.Int64 // compressed bodies left undecoded (no compressor)
	ParseErrors         atomic.Int64 // invalid headers or bodies
	Gaps                atomic.Int64
	Evicted             atomic.Int64 // requests dropped by the maxPending bound
}

// Protocol is one configured cassandra instance.
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
	return &connection{p: p, conn: *c, pending: map[int16]*message{}}
}

// connection pairs requests and responses by stream id: clients multiplex
// many requests on one connection and responses come back in any order.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	pending map[int16]*message
	// lost[dir]: framing was lost (gap, garbage); the next bytes must
	// start a valid header or are dropped.
	lost [2]bool
	rs   [2]protocol.Resync // the search for the next header, while lost
	// v5: the server accepted v5 (READY in a v5 frame): from then on both
	// directions use v5 segments, which this decoder does not parse.
	v5 bool
}

// Parse consumes one whole frame per iteration; a partial frame waits for
// more bytes (the stream keeps them, bounded).
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	if c.v5 {
		return len(data)
	}
	off := 0
	for off < len(data) {
		if c.rs[dir].Active() {
			skip, found := c.rs[dir].Scan(dir, data[off:], resyncProbe, &c.p.stats.Resync)
			off += skip
			if !found {
				return off
			}
		}
		h, ok, err := parseHeader(data[off:], uint8(dir))
		if err != nil {
			// Search for the next header from the next byte on.
			c.p.stats.ParseErrors.Add(1)
			c.lose(dir)
			off++
			continue
		}
		if !ok || len(data)-off < h.size+int(h.length) {
			break
		}
		c.lost[dir] = false
		frame := data[off : off+h.size+int(h.length)]
		off += len(frame)
		c.onFrame(dir, h, frame[h.size:], ts)
		if c.v5 {
			return len(data)
		}
	}
	return off
}

func (c *connection) onFrame(dir protocol.Dir, h header, body []byte, ts time.Time) {
	st := &c.p.stats
	if h.version != 3 && h.version != 4 {
		st.OtherVersion.Add(1)
		if h.version == 5 && dir == protocol.FromServer && h.op == opReady {
			c.v5 = true
			st.V5Conns.Add(1)
		}
		return
	}
	cfg := c.p.cfg
	if dir == protocol.FromClient {
		st.Requests.Add(1)
	} else if h.op == opEvent {
		st.Events.Add(1)
	} else {
		st.Responses.Add(1)
	}
	var req *message
	if dir == protocol.FromServer && h.op != opEvent {
		req = c.pending[h.stream]
		if req == nil {
			st.UnmatchedResponses.Add(1)
			return
		}
		delete(c.pending, h.stream)
		if cfg.ignored[req.h.op] || cfg.ignored[h.op] {
			st.Ignored.Add(1)
			return
		}
	}
	if dir == protocol.FromServer && h.op == opEvent && cfg.ignored[opEvent] {
		st.Ignored.Add(1)
		return
	}
	m := &message{h: h, ts: ts, size: int64(h.size) + int64(h.length)}
	if h.flags&flagCompress != 0 && len(body) > 0 {
		if !cfg.snappy {
			st.Compressed.Add(1)
			m.compressed = true
			body = nil
		} else if n, err := snappy.DecodedLen(body); err != nil || n > maxDecoded {
			st.ParseErrors.Add(1)
			m.bodyErr = true
			body = nil
		} else if body, err = snappy.Decode(make([]byte, n), body); err != nil {
			st.ParseErrors.Add(1)
			m.bodyErr = true
			body = nil
		}
	}
	if body != nil {
		m.decodeBody(body)
		if m.bodyErr {
			st.ParseErrors.Add(1)
		}
	}
	if dir == protocol.FromClient {
		if old := c.pending[h.stream]; old != nil {
			st.Unmatched.Add(1) // stream id reused: the old request got no answer
		} else if len(c.pending) >= maxPending {
			st.Evicted.Add(1)
			return
		}
		c.pending[h.stream] = m
		return
	}
	c.p.pub.Publish(newEvent(cfg, &c.conn, req, m))
}

// Gap: the frame in progress is lost; a response may be lost, its request
// then expires.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	c.lose(dir)
}

// lose starts the search for the next frame header in dir.
func (c *connection) lose(dir protocol.Dir) {
	c.lost[dir] = true
	c.rs[dir].Lost()
}

func (c *connection) Fin(dir protocol.Dir, ts time.Time) {}

// Expire drops requests that waited longer than transaction_timeout:
// Packetbeat publishes cassandra transactions only with their response.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for id, m := range c.pending {
		if now.Sub(m.ts) > limit {
			delete(c.pending, id)
			c.p.stats.Unmatched.Add(1)
		}
	}
}

func (c *connection) Close(ts time.Time) {
	c.p.stats.Unmatched.Add(int64(len(c.pending)))
	clear(c.pending)
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"request_without_response", s.Unmatched.Load(),
		"response_without_request", s.UnmatchedResponses.Load(),
		"ignored_ops", s.Ignored.Load(),
		"unsupported_protocol_version", s.OtherVersion.Load(),
		"v5_framing_connection", s.V5Conns.Load(),
		"pending_limit", s.Evicted.Load(),
	), s.Resync.Drops()...)
}
