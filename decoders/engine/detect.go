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
//
// Probes read a direction from its start. A connection that loses bytes
// before a protocol is chosen (early capture loss), or that was joined
// mid-stream (no SYN seen), is probed again instead of given up: each
// direction is scanned for a message start, asking at each of the first
// scanWindow offsets every candidate's resynchronisation probe
// (Spec.Resync; the connection-start probe at the first offset too). The
// protocol found gets a Gap for what it did not see, so it resynchronises
// (and keeps its pairing safe) as if it had been decoding by port. A
// direction with no message start in its window is consumed unseen until
// its next gap; after maxProbeGaps gaps, or once both directions are
// spent, the connection is given up.

// maxCandidates bounds the protocols probed (a bit each in a mask).
const maxCandidates = 32

type candidate struct {
	idx   int // index into Engine.insts
	probe protocol.Probe
	// resync is the message-start probe asked at any offset after a gap
	// (Spec.Resync, else probe).
	resync protocol.Probe
}

const (
	// scanWindow is how many offsets of a direction are tried after a gap
	// (or of a connection joined mid-stream): the probing byte budget, so
	// a direction holds at most scanWindow+MaxProbeBytes bytes.
	scanWindow = protocol.MaxProbeBytes
	// maxProbeGaps is how many gaps a connection may have before a
	// protocol is chosen; after more, it is given up.
	maxProbeGaps = 4
)

// DetectCounters count what probing did; read from other goroutines.
type DetectCounters struct {
	Probed    atomic.Uint64 // connections probed
	Claimed   atomic.Uint64 // connections a probe claimed
	Unclaimed atomic.Uint64 // connections dropped from probing: no probe matched within the bound, too many gaps, or the end
	// Resumed counts connections probed again after a gap before a
	// protocol was chosen, or joined mid-stream; ClaimedAfterGap those of
	// them a probe then claimed (also counted in Claimed).
	Resumed, ClaimedAfterGap atomic.Uint64
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
	held   [2][]byte
	heldTs [2]time.Time // when the first of held[d] arrived
	skip   [2]int

	// resume: a gap came before a protocol was chosen, or the connection
	// was joined mid-stream; directions are scanned (rescan).
	resume bool
	gaps   int
	// lost[d] bytes of d (gaps, and bytes consumed while d was spent) never reach
	// the chosen parser: it is told with one Gap, at lostTs[d].
	lost   [2]int
	lostTs [2]time.Time
	from   [2]int  // offsets of held[d] already known to start nothing
	spent  [2]bool // nothing found in d's window: consumed until its next gap
}

func (e *Engine) newProber(c *protocol.Conn, midStream bool) protocol.TCPParser {
	e.Detect.Probed.Add(1)
	p := &prober{e: e, conn: c}
	if midStream {
		p.startResume()
	}
	return p
}

func (p *prober) startResume() {
	if !p.resume {
		p.resume = true
		p.e.Detect.Resumed.Add(1)
	}
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
	if len(p.held[dir]) == 0 {
		p.heldTs[dir] = ts
	}
	if p.resume {
		return p.rescan(dir, data, ts)
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

// choose hands the connection to instance idx: the other direction first
// (its bytes arrived earlier), its lost bytes as a gap, then its held
// bytes; then dir's lost bytes and data. The parser sees what it would
// have seen on a configured port, less what probing consumed (reported as
// lost): from a direction's start, or from its gap, not from where the
// probe said yes, so the parser's own framing and resynchronisation decide
// where messages start, as they would by port.
func (p *prober) choose(idx int, dir protocol.Dir, data []byte, ts time.Time) int {
	p.conn.DetectedBy, p.conn.DetectedAs = protocol.DetectedByContent, p.e.insts[idx].Name
	parser := p.e.insts[idx].TCP.NewConn(p.conn)
	if parser == nil {
		p.giveUp()
		return len(data)
	}
	p.e.Detect.Claimed.Add(1)
	if p.resume {
		p.e.Detect.ClaimedAfterGap.Add(1)
	}
	p.e.counters[idx].Detected.Add(1)
	p.chosen = parser
	o := 1 - dir
	if p.lost[o] > 0 {
		parser.Gap(o, p.lost[o], p.lostTs[o])
	}
	if held := p.held[o]; len(held) > 0 {
		for len(held) > 0 {
			n := parser.Parse(o, held, p.heldTs[o])
			if n <= 0 {
				break
			}
			n = min(n, len(held))
			p.skip[o] += n
			held = held[n:]
		}
	}
	p.held = [2][]byte{}
	if p.lost[dir] > 0 {
		parser.Gap(dir, p.lost[dir], p.lostTs[dir])
	}
	return parser.Parse(dir, data, ts)
}

// rescan probes dir after a gap or a mid-stream join (see the package
// comment): it returns what Parse returns.
func (p *prober) rescan(dir protocol.Dir, data []byte, ts time.Time) int {
	if p.spent[dir] {
		p.lose(dir, len(data), ts)
		return len(data)
	}
	k, wait := p.scan(dir, data)
	switch {
	case k >= 0:
		return p.choose(p.e.detect[k].idx, dir, data, ts)
	case wait:
		// Bounded: scan waits only within scanWindow+MaxProbeBytes bytes.
		p.held[dir] = append(p.held[dir][:0], data...)
		return 0
	}
	p.spent[dir] = true
	p.held[dir] = nil
	p.lose(dir, len(data), ts)
	if p.spent[1-dir] {
		p.giveUp()
	}
	return len(data)
}

func (p *prober) lose(dir protocol.Dir, n int, ts time.Time) {
	p.lost[dir] += n
	p.lostTs[dir] = ts
}

// scan looks for the first offset of data (the bytes of dir since its
// start, gap or join) within scanWindow at which a candidate says yes, an
// earlier one not needing more: it returns the candidate's index into
// e.detect, or k < 0 and whether more bytes are needed to tell.
func (p *prober) scan(dir protocol.Dir, data []byte) (k int, wait bool) {
	for i := p.from[dir]; i < len(data) && i < scanWindow; i++ {
		w := data[i:]
		full := len(w) >= protocol.MaxProbeBytes
		if full {
			w = w[:protocol.MaxProbeBytes]
		}
		undecided := false
		for j, c := range p.e.detect {
			r := c.resync(dir, w)
			if i == 0 && r != protocol.ProbeYes {
				// The first bytes after a gap may be a connection's own
				// start (a gap in a handshake's first segment is rare,
				// one before the first byte is a mid-stream join).
				if r2 := c.probe(dir, w); r2 == protocol.ProbeYes || r == protocol.ProbeNo {
					r = r2
				}
			}
			if r == protocol.ProbeNeedMore && full {
				r = protocol.ProbeNo
			}
			switch r {
			case protocol.ProbeNeedMore:
				undecided = true
			case protocol.ProbeYes:
				if !undecided {
					return j, false
				}
			}
		}
		if undecided {
			p.from[dir] = i
			return -1, true
		}
	}
	if len(data) < scanWindow {
		p.from[dir] = len(data)
		return -1, true
	}
	return -1, false
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
	if p.done {
		return
	}
	// The reassembler dropped dir's held bytes with the hole (n counts
	// them): probe again from the bytes after it.
	p.gaps++
	if p.gaps > maxProbeGaps {
		p.giveUp()
		return
	}
	p.startResume()
	p.held[dir] = nil
	p.lose(dir, n, ts)
	p.from[dir], p.spent[dir] = 0, false
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
