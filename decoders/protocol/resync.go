package protocol

import (
	"sync/atomic"
	"time"
)

// Resynchronisation after a gap. A TCP parser that lost its framing (bytes
// of a message header went missing, or a length it trusted no longer
// lines up) cannot tell where the next message starts. Instead of giving
// up on the direction, it scans forward with a message-start probe (the
// same contract as a detection Probe, but asked at every offset of the
// bytes that follow the gap) and resumes parsing at the first offset the
// probe accepts. The search is bounded by ResyncBudget bytes per gap; a
// direction that exhausts it is skipped until the connection ends.
//
// Resynchronising the bytes is half of the job: the other half is not
// pairing a response with the wrong request. PairGuard does that for
// protocols that pair in FIFO order (HTTP/1, Redis, memcache text, SQL).

// ResyncBudget is how many bytes one direction may skip looking for a
// message start after one gap. Probes answer within MaxProbeBytes, so the
// cost is bounded by ResyncBudget probe calls over windows of at most
// MaxProbeBytes.
const ResyncBudget = 1 << 20

// Resync is the per-direction scanning state. The zero value is idle.
type Resync struct {
	state   uint8
	skipped int
	// afterNL: the byte before the next one to scan ended a line (or the
	// search just began), for ScanLines.
	afterNL bool
}

const (
	resyncIdle uint8 = iota
	resyncScanning
	resyncGaveUp
)

// ResyncStats counts what resynchronisation did, for one protocol instance
// (shared by its connections; atomics, read from other goroutines).
type ResyncStats struct {
	Resynced      atomic.Int64 // gaps after which a message start was found
	SkippedBytes  atomic.Int64 // bytes skipped while looking for it
	BudgetExceed  atomic.Int64 // gaps after which none was found within ResyncBudget
	UnpairedReqs  atomic.Int64 // requests published alone: their response was lost in a gap, or pairing was unsafe
	UnpairedResps atomic.Int64 // responses not paired: their request was lost in a gap
}

// Drops lists the counters as drop reasons (protocol.DropCounter rows).
func (s *ResyncStats) Drops() []Drop {
	return Drops(
		"resync_skipped_bytes", s.SkippedBytes.Load(),
		"resync_budget_exceeded", s.BudgetExceed.Load(),
		"request_unpaired_after_gap", s.UnpairedReqs.Load(),
		"response_unpaired_after_gap", s.UnpairedResps.Load(),
	)
}

// Lost starts (or restarts, with a fresh budget) a search: call it from
// Gap when the direction's framing is lost.
func (r *Resync) Lost() { r.state, r.skipped, r.afterNL = resyncScanning, 0, true }

// Active tells whether the direction is searching or has given up: while
// it is, Parse hands its bytes to Scan instead of its own parser.
func (r *Resync) Active() bool { return r.state != resyncIdle }

// Reset makes the direction idle again (connection reuse, tests).
func (r *Resync) Reset() { *r = Resync{} }

// Scan looks for the first offset of data at which probe says yes. It
// returns how many leading bytes to consume and whether data[skip:] starts
// a message (the search is then over and the parser resumes there). When
// found is false the parser returns skip: 0 means the probe needs more
// bytes at the start of data (the stream keeps them and calls again),
// len(data) that nothing here can start a message. Each probe call sees at
// most MaxProbeBytes, so a probe that would still need more there is taken
// as a no.
func (r *Resync) Scan(dir Dir, data []byte, probe Probe, st *ResyncStats) (skip int, found bool) {
	return r.scan(dir, data, probe, st, false)
}

// ScanLines is Scan for line-based protocols whose messages start at a
// line start (memcache text commands): only the first byte after the gap
// or of a new segment, and bytes following a '\n', are candidates, so a command word inside a
// value ("... forget it ...") is not taken for a command.
func (r *Resync) ScanLines(dir Dir, data []byte, probe Probe, st *ResyncStats) (skip int, found bool) {
	return r.scan(dir, data, probe, st, true)
}

func (r *Resync) scan(dir Dir, data []byte, probe Probe, st *ResyncStats, lines bool) (skip int, found bool) {
	if r.state == resyncGaveUp {
		return len(data), false
	}
	for i := 0; i < len(data); i++ {
		if r.skipped+i >= ResyncBudget {
			r.state = resyncGaveUp
			r.skip(data, i, st)
			st.BudgetExceed.Add(1)
			return len(data), false
		}
		if lines && !(i == 0 && r.afterNL || i > 0 && data[i-1] == '\n') {
			continue
		}
		w := data[i:]
		full := len(w) >= MaxProbeBytes
		if full {
			w = w[:MaxProbeBytes]
		}
		switch probe(dir, w) {
		case ProbeYes:
			r.state = resyncIdle
			r.skip(data, i, st)
			st.Resynced.Add(1)
			return i, true
		case ProbeNeedMore:
			if !full {
				r.skip(data, i, st)
				return i, false
			}
		}
	}
	r.skip(data, len(data), st)
	// Everything was consumed, so the next call starts where a new
	// segment does: senders write whole messages, which makes a segment
	// start a candidate as good as a line start.
	r.afterNL = true
	return len(data), false
}

// skip accounts for the first n bytes of data being skipped.
func (r *Resync) skip(data []byte, n int, st *ResyncStats) {
	r.skipped += n
	if n > 0 {
		st.SkippedBytes.Add(int64(n))
		r.afterNL = data[n-1] == '\n'
	}
}

// PairGuard keeps FIFO request/response pairing honest across a gap in the
// request direction. Whole requests may have vanished in such a gap, and
// their responses will still come: paired in order, each would be given
// to the request after it. Responses carry nothing that says which
// request they answer, so after a request-side gap the guard holds
// pairing off (requests are published alone, responses unpaired) until the
// connection shows a clean turn: a response that started after the gap,
// every request since answered, and then a new request while the server
// is idle. That is exact for clients that wait for each answer (nearly
// all), and for a pipelining client that lost one request in the gap, or
// whose requests since the gap are still outstanding (pairing stays off
// then). It is not exact in one case: a pipelining client lost two or more
// requests in one gap, the answer to the first of them was seen, and the
// client sends a new request while the server is between the answers to
// the lost ones (idle as far as the capture shows). Pairing resumes with
// that request, the next lost request's answer is given to it, and FIFO
// pairing stays shifted by one for each answer still owed, until a
// response finds no request waiting. Nothing in an HTTP/1 or RESP response
// names its request, and the parsers see neither sequence nor ACK numbers
// (which would only bound, not identify, the request answered), so the
// guard does not try to guess; protocols whose responses carry the
// request's id (DNS by id, MongoDB by responseTo, Cassandra by stream) pair exactly
// without it.
//
// Gaps in the response direction are simpler: the protocol publishes
// alone every request still waiting that was seen before the gap (their
// responses are lost or cannot be told apart), so the next response after
// the resynchronisation pairs with a request sent after the gap.
type PairGuard struct {
	suspect  bool
	sawResp  bool
	owed     int
	lastResp time.Time // start of the last response that found no request
}

// RequestGap reports that the request direction lost its framing at ts.
// A response already seen in the packet that revealed the gap (its ACK
// rides with the response) counts as one after the gap.
func (g *PairGuard) RequestGap(ts time.Time) {
	g.suspect, g.owed = true, 0
	g.sawResp = !g.lastResp.IsZero() && !g.lastResp.Before(ts)
}

// Suspect tells whether pairing is held off.
func (g *PairGuard) Suspect() bool { return g.suspect }

// Request is called for each complete request, before it is queued. It
// returns false when the request must not be queued for pairing (publish
// it alone, count it in UnpairedReqs). serverIdle: no request is waiting
// and no response is in progress.
func (g *PairGuard) Request(serverIdle bool) bool {
	if !g.suspect {
		return true
	}
	if g.sawResp && g.owed == 0 && serverIdle {
		g.suspect = false
		return true
	}
	g.owed++
	return false
}

// Unanswered is called when a response starting at ts finds no request
// waiting (while suspect this is every response after the requests queued
// before the gap). It returns true when that is because of a request-side
// gap (count it in UnpairedResps), false for an ordinary unmatched
// response.
func (g *PairGuard) Unanswered(ts time.Time) bool {
	g.lastResp = ts
	if !g.suspect {
		return false
	}
	g.sawResp = true
	if g.owed > 0 {
		g.owed--
	}
	return true
}
