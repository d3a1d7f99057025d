package sip

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats are the instance's counters, safe to read from other goroutines.
type Stats struct {
	// Resync counts the searches for a start line after lost framing.
	Resync      protocol.ResyncStats
	Messages    atomic.Uint64 // messages parsed and published
	ParseErrors atomic.Uint64 // datagrams or stream data that are not SIP
	Truncated   atomic.Uint64 // datagrams shorter than their Content-Length (counted in ParseErrors too)
}

// Protocol is one configured SIP instance. SIP keeps no state between
// messages: every message becomes its own event.
type Protocol struct {
	common protocol.Common
	cfg    Config
	pub    protocol.Publisher
	stats  Stats
	// scratch validates a message before anything is copied, so garbage
	// costs no allocation.
	scratch Message
}

// New builds an instance; newInstance decodes the options and calls it,
// tests may call it directly.
func New(common protocol.Common, cfg Config, pub protocol.Publisher) *Protocol {
	return &Protocol{common: common, cfg: cfg, pub: pub}
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return p.stats.ParseErrors.Load() }

// skipCRLF drops the blank lines peers send as keep-alives (RFC 5626).
func skipCRLF(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// Datagram parses one message and publishes it. The packet's own sender
// becomes source (Packetbeat reports each message from its sender), so a
// response's source is the server.
func (p *Protocol) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	payload = payload[skipCRLF(payload):]
	if len(payload) == 0 {
		return // keep-alive
	}
	n, err := Parse(payload, &p.scratch, false)
	if err != nil {
		if err == ErrNeedMore {
			p.stats.Truncated.Add(1)
		}
		p.stats.ParseErrors.Add(1)
		return
	}
	p.publish(c, dir, payload[:n], false, ts)
}

func (p *Protocol) publish(c *protocol.Conn, dir protocol.Dir, msg []byte, stream bool, ts time.Time) {
	ev := newEvent(msg, stream, &p.cfg, ts)
	if ev == nil {
		p.stats.ParseErrors.Add(1)
		return
	}
	fillConn(ev, c, dir, len(msg))
	p.stats.Messages.Add(1)
	p.pub.Publish(ev)
}

// fillConn sets the connection fields with the sender as source.
func fillConn(e *Event, c *protocol.Conn, dir protocol.Dir, n int) {
	src, dst := c.Client, c.Server
	if dir == protocol.FromServer {
		src, dst = dst, src
	}
	b := &e.Base
	b.Source.IP, b.Source.Port = src.Addr().Unmap(), src.Port()
	b.Source.Bytes = int64(n)
	b.Destination.IP, b.Destination.Port = dst.Addr().Unmap(), dst.Port()
	b.IPProtocol = c.IPProtocol
	b.Transport = c.Transport()
	b.NetworkType = c.NetworkType()
	b.ClientServer = true
	b.IANANumber = ianaNumber(c.IPProtocol)
	b.DetectedBy = c.DetectedBy
	if len(c.VLANs) > 0 {
		k := copy(e.vlans[:], c.VLANs)
		b.VLANs = e.vlans[:k]
	}
	b.Tunnel = c.Tunnel // the engine's per-datagram copy: safe to keep
	b.Iface = c.Iface
}

func ianaNumber(p uint8) string {
	switch p {
	case 17:
		return "17"
	case 6:
		return "6"
	}
	return strconv.Itoa(int(p))
}

// Expire has nothing to do: no message waits for another.
func (p *Protocol) Expire(time.Time) {}

// Flush has nothing to do either.
func (p *Protocol) Flush() {}

// NewConn implements protocol.TCPProtocol.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	return &conn{p: p, c: *c}
}

// conn frames SIP messages on one TCP connection by Content-Length.
type conn struct {
	p *Protocol
	c protocol.Conn
	// lost is set per direction after a gap or garbage: data is skipped
	// up to the next line that starts a SIP message.
	lost [2]bool
	rs   [2]protocol.Resync
}

// Parse consumes every complete message in data and leaves a partial one
// for the next call.
func (t *conn) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	consumed := 0
	for consumed < len(data) {
		rest := data[consumed:]
		if t.lost[dir] {
			i, found := t.rs[dir].ScanLines(dir, rest, resyncProbe, &t.p.stats.Resync)
			consumed += i
			if !found {
				return consumed
			}
			t.lost[dir] = false
			continue
		}
		if k := skipCRLF(rest); k > 0 {
			consumed += k
			continue
		}
		n, err := Parse(rest, &t.p.scratch, true)
		switch err {
		case nil:
			t.p.publish(&t.c, dir, rest[:n], true, ts)
			consumed += n
		case ErrNeedMore:
			return consumed
		default:
			t.p.stats.ParseErrors.Add(1)
			t.lose(dir)
			// Skip the offending line so resync looks past it.
			if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
				consumed += nl + 1
			} else {
				return len(data)
			}
		}
	}
	return consumed
}

// Gap loses the message in progress: resynchronise on the next start line.
func (t *conn) Gap(dir protocol.Dir, n int, ts time.Time) { t.lose(dir) }

// lose starts the search for the next start line in dir.
func (t *conn) lose(dir protocol.Dir) {
	t.lost[dir] = true
	t.rs[dir].Lost()
}

// Drops implements protocol.DropCounter: what resynchronisation skipped.
func (p *Protocol) Drops() []protocol.Drop { return p.stats.Resync.Drops() }

// Fin needs nothing: only whole messages are ever published.
func (t *conn) Fin(dir protocol.Dir, ts time.Time) {}

// Expire has nothing pending.
func (t *conn) Expire(now time.Time) {}

// Close has nothing pending either: a partial message is not SIP we can report.
func (t *conn) Close(ts time.Time) {}
