package tls

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the decoder saw, for diagnostics and tests.
type Stats struct {
	Events      atomic.Int64 // events published
	Established atomic.Int64 // handshakes both sides completed
	ParseErrors atomic.Int64 // malformed records or handshake messages
	H2ALPN      atomic.Int64 // connections that are HTTP/2 by ALPN (see negotiatesH2)
}

// Protocol is one configured tls instance.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
}

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return uint64(p.stats.ParseErrors.Load()) }

// NewConn implements protocol.TCPProtocol.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	return &Conn{p: p, conn: c}
}

// maxAlerts bounds the alerts kept per connection (a peer may send any
// number of warnings before the handshake ends).
const maxAlerts = 16

type alert struct {
	level, desc uint8
	dir         int
}

// Conn is the state of one TCP connection: both directions' record layer,
// what the handshake revealed, and whether the event is out.
type Conn struct {
	p    *Protocol
	conn *protocol.Conn
	half [2]half

	clientHello, serverHello *hello

	alerts        []alert
	notes         []string
	certRequested bool
	curve         uint16
	hasCurve      bool
	ocsp          uint8
	hasOCSP       bool

	start, last time.Time
	sent        bool
}

// Parse implements protocol.TCPParser.
func (c *Conn) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	d := int(dir) & 1
	if c.sent {
		// The event is out: the rest of the connection is only counted.
		c.half[d].bytes += int64(len(data))
		return len(data)
	}
	return c.records(d, data, ts)
}

func (c *Conn) seen(ts time.Time) {
	if c.start.IsZero() {
		c.start = ts
	}
	c.last = ts
}

// encrypted marks dir as past its ChangeCipherSpec; when both are, the
// handshake is complete and the event goes out.
func (c *Conn) encrypted(dir int, ts time.Time) {
	c.half[dir].encrypted = true
	c.half[dir].hs = nil
	if c.half[0].encrypted && c.half[1].encrypted {
		c.p.stats.Established.Add(1)
		c.publish()
	}
}

func (c *Conn) alert(dir int, body []byte) {
	// A clear-text alert is exactly level + description; anything else is
	// an encrypted alert (only possible before we notice encryption when a
	// peer skips CCS), which says nothing readable.
	if len(body) != 2 || len(c.alerts) >= maxAlerts {
		return
	}
	c.alerts = append(c.alerts, alert{level: body[0], desc: body[1], dir: dir})
}

func (c *Conn) fail(dir int, why string) {
	c.half[dir].failed = true
	c.half[dir].hs = nil
	c.note(dir, why)
}

func (c *Conn) note(dir int, msg string) {
	c.p.stats.ParseErrors.Add(1)
	if len(c.notes) < 8 {
		c.notes = append(c.notes, protocol.Dir(dir).String()+": "+msg)
	}
}

// hasInfo: something worth an event was seen (Packetbeat's rule: a hello,
// an alert or certificates).
func (c *Conn) hasInfo() bool {
	return c.clientHello != nil || c.serverHello != nil || len(c.alerts) > 0 ||
		c.half[0].certs != nil || c.half[1].certs != nil
}

// publish sends the connection's event once, if there is anything to tell.
func (c *Conn) publish() {
	if c.sent {
		return
	}
	c.sent = true
	c.half[0].hs, c.half[1].hs = nil, nil
	if !c.hasInfo() {
		return
	}
	c.p.stats.Events.Add(1)
	if negotiatesH2(c.clientHello, c.serverHello) {
		c.p.stats.H2ALPN.Add(1)
	}
	c.p.pub.Publish(newEvent(c))
	// The event owns the hellos and certificates now; the connection may
	// live on for hours of application data without pinning them.
	c.clientHello, c.serverHello = nil, nil
	c.half[0].certs, c.half[1].certs = nil, nil
	c.alerts, c.notes = nil, nil
}

// Gap implements protocol.TCPParser: lost bytes break the record framing,
// so what is known is published now (as Packetbeat does). TLS declines
// resynchronisation (protocol.Resync): after the handshake every record
// is encrypted application data with nothing left to decode, and a
// handshake cut by a gap cannot be completed from a later record (its
// messages, the certificate chain included, would be missing pieces), so
// searching for the next record header would only find records whose
// content is unusable. One handshake per connection is one event either
// way.
func (c *Conn) Gap(dir protocol.Dir, n int, ts time.Time) { c.publish() }

// Fin implements protocol.TCPParser: a side closing mid-handshake (after a
// fatal alert, typically) ends it.
func (c *Conn) Fin(dir protocol.Dir, ts time.Time) { c.publish() }

// Expire implements protocol.TCPParser: a handshake unfinished after
// transaction_timeout is published as it is.
func (c *Conn) Expire(now time.Time) {
	if !c.sent && !c.start.IsZero() && now.Sub(c.start) > c.p.cfg.common.TransactionTimeout {
		c.publish()
	}
}

// Close implements protocol.TCPParser.
func (c *Conn) Close(ts time.Time) { c.publish() }

func itoa(n int) string { return strconv.Itoa(n) }

// Drops implements protocol.DropCounter. HTTP/2 inside TLS cannot be
// decoded without the session keys: such connections are counted here, by
// their negotiated ALPN, so the summary, -stats-json and diagnostics show
// how much HTTP/2 went unseen.
func (p *Protocol) Drops() []protocol.Drop {
	return protocol.Drops("http2_in_tls_not_decoded", p.stats.H2ALPN.Load())
}
