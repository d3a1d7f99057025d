package tcp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// patternByte is the content of stream d at offset i: the fuzzer sends
// slices of these streams, so every delivered byte can be checked against
// the offset the parser believes it is at.
func patternByte(d protocol.Dir, i uint32) byte { return byte(i*7+i>>8) ^ byte(d)*0x55 }

// checker verifies that Parse sees the stream's bytes at the right offsets
// and that nothing arrives after Close.
type checker struct {
	t      *testing.T
	pos    [2]uint32 // stream offset of the next byte to parse
	closed bool
	split  bool // consume only up to the last byte divisible by 16, leaving tails
}

func (c *checker) Parse(d protocol.Dir, data []byte, _ time.Time) int {
	if c.closed {
		c.t.Fatal("Parse after Close")
	}
	for i, b := range data {
		if b != patternByte(d, c.pos[d]+uint32(i)) {
			c.t.Fatalf("dir %d offset %d: got %#x want %#x", d, c.pos[d]+uint32(i), b, patternByte(d, c.pos[d]+uint32(i)))
		}
	}
	n := len(data)
	if c.split {
		n = 0
		for i, b := range data {
			if b%16 == 0 {
				n = i + 1
			}
		}
	}
	c.pos[d] += uint32(n)
	return n
}
func (c *checker) Gap(d protocol.Dir, n int, _ time.Time) {
	if c.closed || n <= 0 {
		c.t.Fatalf("Gap(%d) closed=%v", n, c.closed)
	}
	c.pos[d] += uint32(n)
}
func (c *checker) Fin(protocol.Dir, time.Time) {}
func (c *checker) Expire(time.Time)            {}
func (c *checker) Close(time.Time) {
	if c.closed {
		c.t.Fatal("Close twice")
	}
	c.closed = true
}

// FuzzAssembler plays a random sequence of segments (offsets, lengths,
// FIN/RST/ACK, idle time) of one connection's two pattern streams, starting
// with a handshake at a fuzzed ISN, under small bounds so every overflow
// path runs. Delivered bytes must sit at their true offsets, and all
// buffers must be released at the end.
func FuzzAssembler(f *testing.F) {
	f.Add(uint32(0xfffffff0), uint32(7), false, []byte{0, 0, 20, 0, 1, 40, 20, 30, 0, 10, 5})
	f.Add(uint32(1), uint32(0x7fffffff), true, []byte{0x10, 0, 100, 0x10, 200, 100, 0, 0, 100, 0x81, 1, 3})
	f.Add(uint32(123), uint32(456), true, []byte{0, 0, 255, 0, 255, 255, 0, 100, 255, 0x41, 0, 0, 0x21, 0, 0})
	f.Fuzz(func(t *testing.T, isnC, isnS uint32, split bool, ops []byte) {
		var first *checker
		a := NewAssembler(Config{MaxStreamBuffer: 300, MaxTotalBuffer: 500, MaxMessageSize: 64, IdleTimeout: time.Second},
			func(c *protocol.Conn) protocol.TCPParser {
				if first != nil {
					t.Fatal("second connection") // the loop stops once the first one closes
				}
				first = &checker{t: t, split: split}
				return first
			})
		ts := t0
		isn := [2]uint32{isnC, isnS}
		ep := [2]struct {
			ip   [4]byte
			port uint16
		}{{[4]byte{10, 0, 0, 1}, 40000}, {[4]byte{10, 0, 0, 2}, 80}}
		buf := make([]byte, 1024)
		send := func(d int, off uint32, n int, flags uint8, ackOff uint32) {
			for i := range n {
				buf[i] = patternByte(protocol.Dir(d), off+uint32(i))
			}
			p := link.Packet{Timestamp: ts, IPVersion: 4, IPProto: 6,
				SrcIP: netip.AddrFrom4(ep[d].ip), DstIP: netip.AddrFrom4(ep[1-d].ip), SrcPort: ep[d].port, DstPort: ep[1-d].port,
				Seq: isn[d] + 1 + off, Ack: isn[1-d] + 1 + ackOff, Flags: flags, Payload: buf[:n]}
			if flags&link.FlagSYN != 0 {
				p.Seq--
			}
			a.Packet(&p)
		}
		send(0, 0, 0, link.FlagSYN, 0)
		send(1, 0, 0, link.FlagSYN|link.FlagACK, 0)
		// Each op is 3 bytes: control (dir, flags, time step), offset/4,
		// length.
		// After RST, FIN+FIN or an idle timeout the connection is gone and
		// more data would start a mid-stream one at an offset the checker
		// cannot know: stop there.
		for len(ops) >= 3 && !first.closed {
			ctl, off, n := ops[0], uint32(ops[1])*4, int(ops[2])
			ops = ops[3:]
			d := int(ctl & 1)
			var flags uint8
			if ctl&0x10 != 0 {
				flags |= link.FlagACK
			}
			if ctl&0x20 != 0 {
				flags |= link.FlagFIN
			}
			if ctl&0x40 != 0 && ctl&0x20 == 0 {
				flags |= link.FlagRST
			}
			if ctl&0x80 != 0 {
				ts = ts.Add(700 * time.Millisecond)
				a.Expire(ts)
			}
			send(d, off, n, flags, uint32(ctl>>1&7)*100)
		}
		a.FlushAll(ts)
		if st := a.Stats(); st.Buffered != 0 || st.Active != 0 {
			t.Fatalf("after FlushAll: %+v", st)
		}
	})
}
