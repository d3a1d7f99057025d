package elasticsearch

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
)

// Per-host backoff: short, because a refused connection costs nothing and a
// node that is back should take its share again soon; capped so a node that
// stays down is still tried twice a minute.
const (
	hostBackoffInit = time.Second
	hostBackoffMax  = 30 * time.Second
)

// host is one configured node and its health.
type host struct {
	url string // redacted, for logs
	tp  *elastictransport.Client

	// answered counts bulk requests this host answered (tests, and which
	// hosts carry the load).
	answered atomic.Uint64

	mu        sync.Mutex
	fails     int
	downUntil time.Time
}

// markDown takes the host out of rotation for init, doubling per
// consecutive failure up to max.
func (h *host) markDown(now time.Time, init, maxD time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fails++
	d := init
	for i := 1; i < h.fails && d < maxD; i++ {
		d *= 2
	}
	h.downUntil = now.Add(min(d, maxD))
}

func (h *host) markUp() {
	h.mu.Lock()
	h.fails, h.downUntil = 0, time.Time{}
	h.mu.Unlock()
}

func (h *host) until() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.downUntil
}

// pick returns the next healthy host in round-robin order over the healthy
// ones (so a down host's share is spread over all the others, not given to
// its neighbour). When every host is down it returns the one whose backoff
// ends first: the chunk's own backoff (and the probe) then decide when to
// try, so a cluster that is all down is still retried.
func (o *Output) pick() *host {
	now := time.Now()
	healthy := 0
	var soonest *host
	var soonestAt time.Time
	for _, h := range o.hosts {
		u := h.until()
		if !now.Before(u) {
			healthy++
		} else if soonest == nil || u.Before(soonestAt) {
			soonest, soonestAt = h, u
		}
	}
	if healthy == 0 {
		return soonest
	}
	k := int(o.rr.Add(1) % uint64(healthy))
	for _, h := range o.hosts {
		if !now.Before(h.until()) {
			if k == 0 {
				return h
			}
			k--
		}
	}
	return o.hosts[0] // a host went down between the two loops
}

func (o *Output) anyHealthy(now time.Time) bool {
	for _, h := range o.hosts {
		if !now.Before(h.until()) {
			return true
		}
	}
	return false
}

// hostFault says a failed request is the node's fault, not the cluster's or
// the data's: no answer at all, or a gateway/unavailable status that a
// proxy or a node leaving the cluster gives. 429 is cluster back-pressure
// and is waited out, not failed over.
func hostFault(status int) bool {
	return status == 0 || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}
