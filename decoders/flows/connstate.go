package flows

import "github.com/network-traffic/network-traffic/decoders/link"

// Connection state in Zeek's terms (base/protocols/conn/main.zeek): every
// TCP and UDP flow keeps, per endpoint, the state Zeek's TCP analyzer would
// give it, and the connection's history letters; the report turns them into
// conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR,
// OTH) and history. The originator is the first packet's sender (endpoint
// 0, upper-case letters), the responder endpoint 1 (lower case).
//
// Differences from Zeek, all because of what a flow table sees or may keep:
//   - Roles are never flipped (no '^'): source and destination stay the
//     first packet's sender and receiver, as the flow documents say.
//   - Checksums are not verified (no 'c'): capture hosts offload them, and
//     checking would cost a pass over every payload.
//   - A content gap ('g') is an acknowledgement of sequence space the
//     endpoint was never seen to send, not a reassembler's hole.
//   - Port reuse (a new SYN after the close) continues the same flow, as
//     the flow table keys flows by address and port only.
//   - The history is bounded (histMax letters); later letters are dropped.
//   - An endpoint's "size" (REJ when both sides reset) is whether it sent
//     payload, not a count from sequence numbers.

// tcpState is an endpoint's state, named as Zeek's TCP analyzer names them.
type tcpState uint8

const (
	tcpInactive tcpState = iota
	tcpSynSent
	tcpSynAckSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// Once-per-direction history bits (Zeek's hist_seen): a, d, i, q are
// recorded once; s/h (one bit for both), f and r once plus on a changed
// sequence number.
const (
	histSYN uint8 = 1 << iota
	histFIN
	histRST
	histACK
	histData
	histFinRst
	histMulti
)

// histMax bounds the history: a misbehaving endpoint (SYNs or RSTs with
// ever-changing sequence numbers) must not grow per-flow state.
const histMax = 30

// tooLargeSeqDelta: SYN and RST sequence numbers this far from the last one
// are not trusted to advance the sequence space (as Zeek).
const tooLargeSeqDelta = 1 << 20

// scaled counts an event Zeek records logarithmically: the letter is added
// on the 1st, 10th, 100th... occurrence.
type scaled struct {
	count, next uint32
}

func (s *scaled) hit() bool {
	if s.next == 0 {
		s.next = 1
	}
	s.count++
	if s.count != s.next {
		return false
	}
	if n := s.next * 10; n > s.next {
		s.next = n
	} else { // would wrap: keep the threshold, restart the count
		s.count = 0
	}
	return true
}

// connEnd is one side's TCP (or UDP) state.
type connEnd struct {
	state, prev tcpState
	seen        bool  // any packet from this side (UDP: active)
	data        bool  // payload on a non-RST packet (Zeek's size > 0)
	hist        uint8 // histXXX bits already recorded
	// Sequence space: start is the initial sequence number (one before the
	// first byte), last one past the highest segment seen, acked the
	// highest point the peer acknowledged (for gaps).
	start, last, acked uint32
	// Relative sequence numbers of the last SYN, FIN and RST, for
	// repeated s/h, f and r letters.
	lastSYN, lastFIN, lastRST uint32
	rxmit, zeroWin, gap       scaled
}

func (e *connEnd) set(s tcpState) {
	if s != e.state {
		e.prev, e.state = e.state, s
	}
}

// connState is the per-flow part: both endpoints and the history.
type connState struct {
	ep    [2]connEnd
	nhist uint8
	hist  [histMax]byte
}

// add appends a history letter: upper case for the originator.
func (c *connState) add(dir int, code byte) {
	if dir == 1 {
		code += 'a' - 'A'
	}
	if int(c.nhist) < len(c.hist) {
		c.hist[c.nhist] = code
		c.nhist++
	}
}

// check records code the first time bit is seen in dir, and reports
// whether it had been seen before (Zeek's CheckHistory).
func (c *connState) check(dir int, bit uint8, code byte) bool {
	e := &c.ep[dir]
	if e.hist&bit != 0 {
		return true
	}
	e.hist |= bit
	c.add(dir, code)
	return false
}

func (c *connState) scaledHit(dir int, s *scaled, code byte) {
	if s.hit() {
		c.add(dir, code)
	}
}

// udp accounts one UDP datagram: each side becomes active and gets its
// 'D' once.
func (c *connState) udp(dir int) {
	c.ep[dir].seen = true
	c.check(dir, histData, 'D')
}

// tcp accounts one TCP segment from dir, in the order Zeek's TCP analyzer
// processes it: sequence space, history, window, acknowledgement, last
// sequence, then the state machine.
func (c *connState) tcp(dir int, p *link.Packet) {
	e, peer := &c.ep[dir], &c.ep[1-dir]
	fl := p.Flags
	syn, fin, rst, ack := fl&link.FlagSYN != 0, fl&link.FlagFIN != 0, fl&link.FlagRST != 0, fl&link.FlagACK != 0
	n := len(p.Payload)
	seq := p.Seq
	segLen := uint32(n)
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst { // a RST's payload is not part of the stream
		segLen -= uint32(n)
	}
	end := seq + segLen
	e.seen = true

	// Initialise (or re-initialise) the sequence space.
	switch e.state {
	case tcpInactive:
		if syn {
			e.start = seq
			e.last = end
		} else {
			// Mid-stream: number as if a SYN had been seen, and
			// do not take this first segment for a retransmission.
			e.start = seq - 1
			e.last = seq
		}
		e.acked = e.last
	case tcpSynSent, tcpSynAckSent:
		if syn && seq != e.start {
			e.start, e.last, e.acked = seq, end, end
		}
	case tcpEstablished, tcpPartial:
		if syn {
			e.start, e.last, e.acked = seq, end, end
		}
	case tcpReset:
		if syn && e.prev == tcpInactive {
			e.start, e.last, e.acked = seq, end, end
		}
	}
	rel := seq - e.start

	if syn || fin || rst {
		c.history(dir, syn, fin, rst, ack, rel, uint32(n))
	} else if n > 0 { // the common segments, inline
		if e.hist&histData == 0 {
			c.check(dir, histData, 'D')
		}
	} else if ack && e.hist&histACK == 0 {
		c.check(dir, histACK, 'A')
	}

	if p.Window == 0 && !rst && peer.state != tcpClosed && e.state != tcpReset {
		c.scaledHit(dir, &e.zeroWin, 'W')
	}

	// An acknowledgement beyond anything the peer was seen to send means
	// the capture missed the peer's data: a content gap of the peer. A
	// RST's acknowledgement is not trusted.
	if ack && !rst && peer.state != tcpInactive {
		if int32(p.Ack-peer.acked) > 0 { // acked never trails last
			c.scaledHit(1-dir, &peer.gap, 'G')
			peer.acked = p.Ack
		}
	}

	// Advance the sequence space, or count a retransmission.
	delta := int32(end - e.last)
	switch {
	case (syn || rst) && (delta > tooLargeSeqDelta || delta < -tooLargeSeqDelta):
	case fin && e.last == e.start+1:
		e.last = end
	case e.state == tcpReset:
	case delta > 0:
		e.last = end
	case n > 0:
		c.scaledHit(dir, &e.rxmit, 'T')
	}
	if int32(e.last-e.acked) > 0 {
		e.acked = e.last
	}
	if n > 0 && !rst {
		e.data = true
	}

	// Without SYN, FIN or RST only an inactive endpoint changes state.
	if syn || fin || rst || e.state == tcpInactive {
		c.step(dir, syn, fin, rst, ack, n)
	}
}

// history adds the flag letters of one segment (Zeek's update_history).
func (c *connState) history(dir int, syn, fin, rst, ack bool, rel, n uint32) {
	e := &c.ep[dir]
	bits := b2i(syn) + b2i(fin) + b2i(rst)
	switch {
	case bits > 1:
		if fin && rst {
			c.check(dir, histFinRst, 'I')
		} else {
			c.check(dir, histMulti, 'Q')
		}
	case syn:
		code := byte('S')
		if ack {
			code = 'H'
		}
		if c.check(dir, histSYN, code) && rel != e.lastSYN {
			c.add(dir, code)
		}
		e.lastSYN = rel
	case fin:
		// A FIN's sequence number is the one after its data.
		if c.check(dir, histFIN, 'F') && rel+n != e.lastFIN {
			c.add(dir, 'F')
		}
		e.lastFIN = rel + n
	case rst:
		if c.check(dir, histRST, 'R') && rel != e.lastRST {
			c.add(dir, 'R')
		}
		e.lastRST = rel
	case n > 0:
		c.check(dir, histData, 'D')
	case ack:
		c.check(dir, histACK, 'A')
	}
}

// step is the endpoint state machine of Zeek's TCP analyzer.
func (c *connState) step(dir int, syn, fin, rst, ack bool, n int) {
	e, peer := &c.ep[dir], &c.ep[1-dir]
	orig := dir == 0
	switch e.state {
	case tcpInactive:
		if syn {
			if orig {
				if ack {
					e.set(tcpSynAckSent)
				} else {
					e.set(tcpSynSent)
				}
			} else {
				// The responder's SYN(-ACK) establishes both sides
				// when the originator's SYN was seen.
				if peer.state == tcpSynSent {
					peer.set(tcpEstablished)
				}
				e.set(tcpEstablished)
			}
		}
		if fin {
			e.set(tcpClosed)
		}
		if rst {
			e.set(tcpReset)
		}
		if e.state == tcpInactive { // no control flag moved it
			switch {
			case !orig && n == 0 && c.ep[0].state == tcpSynSent:
				// An ACK of the SYN before the SYN-ACK: not yet a
				// partial connection.
			case ack && peer.state == tcpEstablished:
				// The SYN was missed but the SYN-ACK seen.
				e.set(tcpEstablished)
			default:
				e.set(tcpPartial)
			}
		}
	case tcpSynSent, tcpSynAckSent:
		if fin {
			e.set(tcpClosed)
		}
		if rst {
			e.set(tcpReset)
		}
	case tcpEstablished, tcpPartial:
		if syn && e.state == tcpPartial && peer.state == tcpInactive && !ack {
			e.set(tcpSynSent)
		}
		if fin && !rst {
			e.set(tcpClosed)
			if peer.state == tcpReset && peer.prev == tcpClosed {
				// The peer's FIN then RST was a normal close.
				peer.set(tcpClosed)
			}
		}
		if rst {
			e.set(tcpReset)
		}
	case tcpClosed:
		// A RST after both FINs does not undo the normal close.
		if rst && peer.state != tcpClosed {
			e.set(tcpReset)
		}
	case tcpReset:
	}
}

// state returns conn_state for a TCP (proto 6) or UDP flow, following
// Zeek's conn_state function.
func (c *connState) state(proto uint8) string {
	os, rs := c.ep[0].state, c.ep[1].state
	if proto == 17 {
		switch {
		case c.ep[0].seen && c.ep[1].seen:
			return "SF"
		case c.ep[0].seen:
			return "S0"
		case c.ep[1].seen:
			return "SHR"
		}
		return "OTH"
	}
	oInactive := os == tcpInactive || os == tcpPartial
	rInactive := rs == tcpInactive || rs == tcpPartial
	switch {
	case rs == tcpReset:
		if os == tcpSynSent || os == tcpSynAckSent || (os == tcpReset && !c.ep[0].data && !c.ep[1].data) {
			return "REJ"
		}
		if oInactive {
			return "RSTRH"
		}
		return "RSTR"
	case os == tcpReset:
		if rInactive {
			if c.synThenReset() {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case rs == tcpClosed && os == tcpClosed:
		return "SF"
	case os == tcpClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == tcpClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == tcpSynSent && rs == tcpInactive:
		return "S0"
	case os == tcpEstablished && rs == tcpEstablished:
		return "S1"
	}
	return "OTH"
}

// synThenReset matches the history against Zeek's RSTOS0 pattern
// ^?S[^HAFGIQ]*R.*: the originator's SYN first, then its RST with none of
// its SYN-ACK, ACK, FIN, gap or odd-flag letters in between.
func (c *connState) synThenReset() bool {
	h := c.hist[:c.nhist]
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, b := range h[1:] {
		switch b {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
