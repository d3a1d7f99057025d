package engine

import (
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Detection by content. A TCP connection whose ports no protocol is
// configured on is handed, when some protocol has detect: true, to a prober:
// a parser that asks the candidates' probes about the first bytes of each
// direction and, once one says yes, creates that protocol's parser and
// forwards everything to it. While undecided it consumes nothing, so the
// reassembler keeps the bytes (at most MaxProbeBytes per direction) and
// hands them to the chosen parser intact.

// maxCandidates bounds the protocols probed (a bit each in a mask).
const maxCandidates = 32

type candidate struct {
	idx   int // index into Engine.insts
	probe protocol.Probe
}

// DetectCounters count what probing did; read from other goroutines.
type DetectCounters struct {
	Probed    atomic.Uint64 // connections probed
	Claimed   atomic.Uint64 // connections a probe claimed
	Unclaimed atomic.Uint64 // connections dropped from probing: no probe matched within the bound, a gap, or the end
}

type prober struct {
	e    *Engine
	conn *protocol.Conn
	// out has bit i set once candidate i said no.
	out    uint32
	chosen protocol.TCPParser
	done   bool // given up: everything is consumed unseen
	// held is a copy of the bytes each direction has shown us so far (the
	// reassembler holds the same bytes as its unconsumed tail). When the
	// other direction decides, the chosen parser gets them at once, and
	// skip[d] of them are then acknowledged when the reassembler hands
	// them over again.
	held [2][]byte
	skip [2]int
}

func (e *Engine) newProber(c *protocol.Conn) protocol.TCPParser {
	e.Detect.Probed.Add(1)
	return &prober{e: e, conn: c}
}

func (p *prober) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	if p.chosen != nil {
		if s := p.skip[dir]; s > 0 {
			n := min(s, len(data))
			p.skip[dir] -= n
			return n
		}
		return p.chosen.Parse(dir, data, ts)
	}
	if p.done {
		return len(data)
	}
	probe := data[:min(len(data), protocol.MaxProbeBytes)]
	full := len(probe) == protocol.MaxProbeBytes
	undecided := false // an earlier candidate still needs more bytes
	for i, c := range p.e.detect {
		if p.out&(1<<i) != 0 {
			continue
		}
		r := c.probe(dir, probe)
		if r == protocol.ProbeNeedMore && full {
			r = protocol.ProbeNo // the probe had its bytes: no answer is no
		}
		switch r {
		case protocol.ProbeNo:
			p.out |= 1 << i
		case protocol.ProbeNeedMore:
			undecided = true
		case protocol.ProbeYes:
			if !undecided {
				return p.choose(c.idx, dir, data, ts)
			}
		}
	}
	if p.out == 1<<len(p.e.detect)-1 {
		p.giveUp()
		return len(data)
	}
	p.held[dir] = append(p.held[dir][:0], probe...)
	return 0
}

// choose hands the connection to instance idx: the other direction's held
// bytes first (they arrived earlier), then data.
func (p *prober) choose(idx int, dir protocol.Dir, data []byte, ts time.Time) int {
	p.conn.DetectedBy, p.conn.DetectedAs = protocol.DetectedByContent, p.e.insts[idx].Name
	parser := p.e.insts[idx].TCP.NewConn(p.conn)
	if parser == nil {
		p.giveUp()
		return len(data)
	}
	p.e.Detect.Claimed.Add(1)
	p.e.counters[idx].Detected.Add(1)
	p.chosen = parser
	o := 1 - dir
	if held := p.held[o]; len(held) > 0 {
		for len(held) > 0 {
			n := parser.Parse(o, held, ts)
			if n <= 0 {
				break
			}
			n = min(n, len(held))
			p.skip[o] += n
			held = held[n:]
		}
	}
	p.held = [2][]byte{}
	return parser.Parse(dir, data, ts)
}

func (p *prober) giveUp() {
	if !p.done {
		p.done = true
		p.held = [2][]byte{}
		p.e.Detect.Unclaimed.Add(1)
	}
}

func (p *prober) Gap(dir protocol.Dir, n int, ts time.Time) {
	if p.chosen != nil {
		// Bytes skipped for dir were held as the reassembler's tail, which
		// a gap drops: they will not come again.
		p.skip[dir] = 0
		p.chosen.Gap(dir, n, ts)
		return
	}
	// Probes read a direction from its start; after a hole they cannot.
	p.giveUp()
}

func (p *prober) Fin(dir protocol.Dir, ts time.Time) {
	if p.chosen != nil {
		p.chosen.Fin(dir, ts)
	}
}

func (p *prober) Expire(now time.Time) {
	if p.chosen != nil {
		p.chosen.Expire(now)
	}
}

func (p *prober) Close(ts time.Time) {
	if p.chosen != nil {
		p.chosen.Close(ts)
		return
	}
	p.giveUp()
}
