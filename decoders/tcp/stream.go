package tcp

import (
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// stream is one direction of a connection. Sequence numbers are compared
// through seqDiff so they survive wraparound at 2^32.
type stream struct {
	started bool   // next is known (SYN seen or first data seen)
	next    uint32 // next sequence number to deliver
	ackTo   uint32 // highest sequence number the peer acknowledged (capture-loss estimate)

	fin     bool   // FIN seen
	finSeq  uint32 // sequence number of the FIN
	finDone bool   // parser.Fin called

	// buf[off:] is the tail the parser has not consumed yet.
	buf []byte
	off int

	// ooo holds segments that arrived ahead of a hole, sorted by seq.
	ooo      []segment
	oooBytes int
}

type segment struct {
	seq  uint32
	data []byte // from the assembler's pool
}

// Tail buffers up to this capacity stay with the stream when emptied, so
// steady in-order traffic reuses them; larger ones go back to the GC.
const keepTailCap = 64 << 10

// start begins the stream at seq: the first byte to deliver, and the point
// from which the peer's acknowledgements count for the capture-loss figures.
func (s *stream) start(seq uint32) {
	s.started, s.next, s.ackTo = true, seq, seq
}

func (s *stream) tailLen() int { return len(s.buf) - s.off }

// seqDiff is a-b in sequence space: positive when a is ahead of b, in
// [-2^31, 2^31). It is widened to int before anyone negates it: negating
// the int32 minimum overflows back to itself, and a segment exactly 2^31
// away from the expected one (any host can send it) would then index a
// slice with -2^31.
func seqDiff(a, b uint32) int { return int(int32(a - b)) }

// segment handles payload bytes starting at seq.
func (a *Assembler) segment(c *conn, d protocol.Dir, seq uint32, data []byte, ts time.Time) {
	s := &c.dirs[d]
	for {
		rel := seqDiff(seq, s.next)
		if rel <= 0 {
			// In order, possibly overlapping bytes already delivered.
			if -rel >= len(data) {
				a.stats.Retransmits++
				return
			}
			data = data[-rel:]
			a.deliver(c, d, data, ts)
			s.next += uint32(len(data))
			a.drain(c, d, ts)
			return
		}
		// Ahead of a hole: buffer it if the bounds allow.
		if s.oooBytes+len(data) <= a.cfg.MaxStreamBuffer && int(a.stats.Buffered)+len(data) <= a.cfg.MaxTotalBuffer {
			a.insert(s, seq, data)
			return
		}
		// The hole will not fill within our bounds: give up the first hole
		// (the one before our oldest buffered segment, or before this one)
		// and retry; each round moves next forward.
		a.stats.BufferDrops++
		if len(s.ooo) == 0 {
			a.gapTo(c, d, seq, ts)
		} else {
			a.gapTo(c, d, s.ooo[0].seq, ts)
			a.drain(c, d, ts)
		}
	}
}

// insert copies an out-of-order segment into the sorted buffer list.
func (a *Assembler) insert(s *stream, seq uint32, data []byte) {
	i := len(s.ooo)
	for i > 0 && seqDiff(s.ooo[i-1].seq, seq) > 0 {
		i--
	}
	// Same start and no longer than what we hold: a retransmission.
	if i > 0 && s.ooo[i-1].seq == seq && len(s.ooo[i-1].data) >= len(data) {
		a.stats.Retransmits++
		return
	}
	a.stats.OutOfOrder++
	b := a.pool.get(len(data))
	copy(b, data)
	s.ooo = append(s.ooo, segment{})
	copy(s.ooo[i+1:], s.ooo[i:])
	s.ooo[i] = segment{seq: seq, data: b}
	s.oooBytes += len(b)
	a.stats.Buffered += uint64(len(b))
}

// drain delivers buffered segments that the stream has reached, trimming
// whatever part of them was already delivered.
func (a *Assembler) drain(c *conn, d protocol.Dir, ts time.Time) {
	s := &c.dirs[d]
	for len(s.ooo) > 0 {
		seg := s.ooo[0]
		rel := seqDiff(seg.seq, s.next)
		if rel > 0 {
			return
		}
		if -rel < len(seg.data) {
			rest := seg.data[-rel:]
			a.deliver(c, d, rest, ts)
			s.next += uint32(len(rest))
		} else {
			a.stats.Retransmits++
		}
		copy(s.ooo, s.ooo[1:])
		s.ooo[len(s.ooo)-1] = segment{}
		s.ooo = s.ooo[:len(s.ooo)-1]
		s.oooBytes -= len(seg.data)
		a.stats.Buffered -= uint64(len(seg.data))
		a.pool.put(seg.data)
	}
}

// ackedPast reacts to the peer acknowledging direction d up to ack: bytes
// before ack that we have not delivered were received by the peer but lost
// by the capture, so they will never arrive. Report them and move on.
func (a *Assembler) ackedPast(c *conn, d protocol.Dir, ack uint32, ts time.Time) {
	s := &c.dirs[d]
	if !s.started {
		return
	}
	if s.fin && seqDiff(ack, s.finSeq) > 0 {
		ack = s.finSeq // the FIN takes the last sequence number, not a byte
	}
	// Capture-loss estimate (as Zeek's AckReceived): an ACK that moves past
	// the previous one acknowledges the bytes in between; the part of them
	// never seen (not delivered, not buffered) is the loss. next never falls
	// behind ackTo (this loop moves it to ack), so the unseen bytes are a
	// part of the newly acknowledged ones.
	newly := seqDiff(ack, s.ackTo)
	if newly > 0 {
		s.ackTo = ack
		a.stats.AckEvents++
		a.stats.AckedBytes += uint64(newly)
	}
	unseen := 0
	for seqDiff(ack, s.next) > 0 {
		target := ack
		if len(s.ooo) > 0 && seqDiff(s.ooo[0].seq, target) < 0 {
			target = s.ooo[0].seq
		}
		unseen += max(seqDiff(target, s.next), 0)
		a.gapTo(c, d, target, ts)
		a.drain(c, d, ts)
	}
	if unseen > 0 && newly > 0 {
		a.stats.AckedGapEvents++
		a.stats.AckedUnseenBytes += uint64(unseen)
	}
	a.checkFin(c, d, ts)
}

// flushHoles gives up on every hole in d (connection ending): each is
// reported as a gap and the buffered data after it delivered.
func (a *Assembler) flushHoles(c *conn, d protocol.Dir, ts time.Time) {
	s := &c.dirs[d]
	for len(s.ooo) > 0 {
		a.gapTo(c, d, s.ooo[0].seq, ts)
		a.drain(c, d, ts)
	}
}

// gapTo reports the bytes between next and target as lost and continues at
// target. The unconsumed tail cannot be completed across a hole, so it is
// dropped and counted in the same gap: from the parser's point of view
// those bytes are lost too.
func (a *Assembler) gapTo(c *conn, d protocol.Dir, target uint32, ts time.Time) {
	s := &c.dirs[d]
	n := seqDiff(target, s.next)
	if n <= 0 {
		return
	}
	n += s.tailLen()
	a.dropTail(s)
	s.next = target
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	c.parser.Gap(d, n, ts)
}

// deliver hands in-order bytes to the parser, prefixed with the unconsumed
// tail of earlier calls, and keeps what the parser leaves.
func (a *Assembler) deliver(c *conn, d protocol.Dir, data []byte, ts time.Time) {
	s := &c.dirs[d]
	if s.tailLen() == 0 {
		// Fast path: parse straight from the packet, copy only the rest.
		n := a.parse(c, d, data, ts)
		if n == len(data) {
			return
		}
		data = data[n:]
		if len(data) > c.maxMsg || int(a.stats.Buffered)+len(data) > a.cfg.MaxTotalBuffer {
			a.overflow(c, d, len(data), ts)
			return
		}
		s.buf = append(s.buf[:0], data...)
		s.off = 0
		a.stats.Buffered += uint64(len(data))
		return
	}

	if int(a.stats.Buffered)+len(data) > a.cfg.MaxTotalBuffer {
		n := s.tailLen() + len(data)
		a.dropTail(s)
		a.overflow(c, d, n, ts)
		return
	}
	// Compact before growing so a long-lived tail does not creep forward.
	if s.off > 0 && s.off >= len(s.buf)/2 {
		m := copy(s.buf, s.buf[s.off:])
		s.buf, s.off = s.buf[:m], 0
	}
	s.buf = append(s.buf, data...)
	a.stats.Buffered += uint64(len(data))

	n := a.parse(c, d, s.buf[s.off:], ts)
	s.off += n
	a.stats.Buffered -= uint64(n)
	if s.tailLen() == 0 {
		a.dropTail(s)
	} else if s.tailLen() > c.maxMsg {
		n := s.tailLen()
		a.dropTail(s)
		a.overflow(c, d, n, ts)
	}
}

// overflow reports n bytes dropped because a message outgrew its bound.
func (a *Assembler) overflow(c *conn, d protocol.Dir, n int, ts time.Time) {
	a.stats.TailOverflows++
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	c.parser.Gap(d, n, ts)
}

// parse calls the parser until it consumes everything or asks for more.
func (a *Assembler) parse(c *conn, d protocol.Dir, data []byte, ts time.Time) int {
	total := 0
	for len(data) > 0 {
		n := c.parser.Parse(d, data, ts)
		if n <= 0 {
			break
		}
		n = min(n, len(data))
		total += n
		data = data[n:]
	}
	return total
}

func (a *Assembler) dropTail(s *stream) {
	a.stats.Buffered -= uint64(s.tailLen())
	if cap(s.buf) > keepTailCap {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	s.off = 0
}

func (a *Assembler) resetStream(s *stream) {
	a.dropTail(s)
	for _, seg := range s.ooo {
		a.stats.Buffered -= uint64(len(seg.data))
		a.pool.put(seg.data)
	}
	clear(s.ooo)
	*s = stream{buf: s.buf[:0], ooo: s.ooo[:0]}
}
