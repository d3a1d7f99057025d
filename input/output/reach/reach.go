// Package reach lets an output that backed off after failing to connect
// to a host notice as soon as the host accepts connections again, instead
// of waiting out its backoff: after a long outage the backoff has grown to
// backoff.max (60s by default), which would add up to a minute of delay
// after the host is back. A host that accepts connections but fails
// requests keeps its full backoff: probing only stands in for the wait
// when connecting itself failed.
package reach

import (
	"errors"
	"net"
	"time"
)

// ProbeEvery is how often a host that refused connections is probed.
const ProbeEvery = time.Second

// probeTimeout bounds one probe (a host that drops SYNs).
const probeTimeout = 500 * time.Millisecond

// Unreachable reports whether err is a failure to connect to the host
// (refused, unreachable, a dial timeout).
func Unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Prober is the per-host state; the zero value is a host not known down.
// It is used by one goroutine at a time (the output's Publish).
type Prober struct {
	down bool
	last time.Time
	// dial is net.DialTimeout; tests may replace it.
	dial func(network, addr string, timeout time.Duration) (net.Conn, error)
}

// Failed records a failure of the host: down when connecting failed.
func (p *Prober) Failed(err error) {
	p.down = Unreachable(err)
	if p.down {
		p.last = time.Now() // the failed connect was a probe
	}
}

// Succeeded records a working connection.
func (p *Prober) Succeeded() { p.down = false }

// Check is called for a host still backing off. For a host down (connect
// failed) it connects to addr at most every ProbeEvery: up reports that it
// accepted the connection (use it now). next is how long until the next
// probe is due (0 when the host is not being probed).
func (p *Prober) Check(addr string, now time.Time) (up bool, next time.Duration) {
	if !p.down {
		return false, 0
	}
	if d := p.last.Add(ProbeEvery).Sub(now); d > 0 {
		return false, d
	}
	p.last = now
	dial := p.dial
	if dial == nil {
		dial = net.DialTimeout
	}
	c, err := dial("tcp", addr, probeTimeout)
	if err != nil {
		return false, ProbeEvery
	}
	c.Close()
	p.down = false
	return true, 0
}
