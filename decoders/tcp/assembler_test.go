package tcp

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// recorder is a TCPParser that records what the assembler tells it.
type recorder struct {
	conn   protocol.Conn
	data   [2][]byte
	events []string
	// consume decides how much of data to take; nil takes everything.
	consume func(data []byte) int
	expires int
}

func (r *recorder) Parse(d protocol.Dir, data []byte, ts time.Time) int {
	n := len(data)
	if r.consume != nil {
		n = r.consume(data)
	}
	r.data[d] = append(r.data[d], data[:n]...)
	return n
}
func (r *recorder) Gap(d protocol.Dir, n int, ts time.Time) {
	r.events = append(r.events, fmt.Sprintf("gap %s %d", d, n))
}
func (r *recorder) Fin(d protocol.Dir, ts time.Time) { r.events = append(r.events, "fin "+d.String()) }
func (r *recorder) Expire(now time.Time)             { r.expires++ }
func (r *recorder) Close(ts time.Time)               { r.events = append(r.events, "close") }

// consumeLines takes complete lines only, leaving a partial line as tail.
func consumeLines(data []byte) int { return bytes.LastIndexByte(data, '\n') + 1 }

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:6379")
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// harness drives an assembler with hand-made segments of one connection.
type harness struct {
	t      *testing.T
	a      *Assembler
	recs   []*recorder
	ts     time.Time
	cseq   uint32 // client's next sequence number
	sseq   uint32
	accept func(c *protocol.Conn) bool
	lines  bool
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, ts: t0, cseq: 1000, sseq: 5000}
	h.a = NewAssembler(cfg, func(c *protocol.Conn) protocol.TCPParser {
		if h.accept != nil && !h.accept(c) {
			return nil
		}
		r := &recorder{conn: *c}
		if h.lines {
			r.consume = consumeLines
		}
		h.recs = append(h.recs, r)
		return r
	})
	return h
}

func (h *harness) send(from, to netip.AddrPort, seq, ack uint32, flags uint8, payload string) {
	h.ts = h.ts.Add(time.Millisecond)
	p := &link.Packet{
		Timestamp: h.ts, IPVersion: 4, IPProto: 6,
		SrcIP: from.Addr(), DstIP: to.Addr(), SrcPort: from.Port(), DstPort: to.Port(),
		Seq: seq, Ack: ack, Flags: flags, Payload: []byte(payload),
	}
	h.a.Packet(p)
}

// Convenience senders at an explicit sequence offset relative to the ISNs.
func (h *harness) c(off uint32, flags uint8, payload string) {
	h.send(cli, srv, h.cseq+off, h.sseq, flags|link.FlagACK, payload)
}
func (h *harness) s(off uint32, flags uint8, payload string) {
	h.send(srv, cli, h.sseq+off, h.cseq, flags|link.FlagACK, payload)
}

func (h *harness) handshake() {
	h.send(cli, srv, h.cseq-1, 0, link.FlagSYN, "")
	h.send(srv, cli, h.sseq-1, h.cseq, link.FlagSYN|link.FlagACK, "")
	h.send(cli, srv, h.cseq, h.sseq, link.FlagACK, "")
}

func (h *harness) only() *recorder {
	h.t.Helper()
	if len(h.recs) != 1 {
		h.t.Fatalf("%d parsers created, want 1", len(h.recs))
	}
	return h.recs[0]
}

func (h *harness) want(r *recorder, client, server string, events ...string) {
	h.t.Helper()
	if string(r.data[0]) != client || string(r.data[1]) != server {
		h.t.Errorf("delivered client %q server %q, want %q %q", r.data[0], r.data[1], client, server)
	}
	if strings.Join(r.events, ",") != strings.Join(events, ",") {
		h.t.Errorf("events %q, want %q", r.events, events)
	}
}

func TestInOrderHandshakeFinFin(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, link.FlagPSH, "GET ")
	h.c(4, link.FlagPSH, "key\r\n")
	h.s(0, link.FlagPSH, "$3\r\nval\r\n")
	h.c(9, link.FlagFIN, "")
	h.s(9, link.FlagFIN, "")
	r := h.only()
	if r.conn.Client != cli || r.conn.Server != srv || r.conn.IPProtocol != 6 {
		t.Errorf("conn %+v", r.conn)
	}
	h.want(r, "GET key\r\n", "$3\r\nval\r\n", "fin client", "fin server", "close")
	if st := h.a.Stats(); st.Active != 0 || st.Closed != 1 || st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
	// The last ACK must not resurrect the connection.
	h.c(10, 0, "")
	if st := h.a.Stats(); st.Active != 0 || len(h.recs) != 1 {
		t.Errorf("last ACK recreated the connection: %+v", st)
	}
}

func TestRetransmitsAndOverlaps(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, 0, "hello ")
	h.c(0, 0, "hello ")       // exact retransmit
	h.c(3, 0, "lo world")     // overlaps 3 delivered bytes
	h.c(0, 0, "hello world!") // covers everything, one byte new
	h.want(h.only(), "hello world!", "")
	if st := h.a.Stats(); st.Retransmits != 1 {
		t.Errorf("retransmits %d", st.Retransmits)
	}
}

func TestOutOfOrder(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(6, 0, "world")
	h.c(8, 0, "rld!!") // overlaps the buffered segment
	h.c(6, 0, "world") // duplicate of a buffered segment
	r := h.only()
	if len(r.data[0]) != 0 {
		t.Fatalf("delivered %q before the hole filled", r.data[0])
	}
	h.c(0, 0, "hello ")
	h.want(r, "hello world!!", "")
	if st := h.a.Stats(); st.OutOfOrder != 2 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestGapWhenPeerAcksPastHole(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, 0, "aaaa")
	// "bbbb" at 4 was lost by the capture; "cccc" arrives, then the server
	// acknowledges all 12 bytes: the hole cannot fill any more.
	h.c(8, 0, "cccc")
	h.send(srv, cli, h.sseq, h.cseq+12, link.FlagACK, "")
	h.want(h.only(), "aaaacccc", "", "gap client 4")
}

func TestGapWhenBufferBoundReached(t *testing.T) {
	h := newHarness(t, Config{MaxStreamBuffer: 8})
	h.handshake()
	h.c(4, 0, "bbbb")
	h.c(8, 0, "cccc")
	h.c(12, 0, "dddd") // would make 12 buffered bytes: give up the hole at 0
	h.want(h.only(), "bbbbccccdddd", "", "gap client 4")
	if st := h.a.Stats(); st.BufferDrops != 1 || st.GapBytes != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestGlobalBufferBound(t *testing.T) {
	h := newHarness(t, Config{MaxTotalBuffer: 6})
	h.handshake()
	h.c(4, 0, "bbbb")
	h.s(2, 0, "yyyy") // the global bound is full of the client's bytes
	h.want(h.only(), "", "yyyy", "gap server 2")
}

func TestHoleBeforeFinFlushedAtClose(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(4, link.FlagFIN, "tail")
	h.s(0, link.FlagFIN, "")
	h.want(h.only(), "tail", "", "fin server", "gap client 4", "fin client", "close")
}

func TestOneSidedStream(t *testing.T) {
	// Only the client's packets were captured (asymmetric routing).
	h := newHarness(t, Config{})
	h.send(cli, srv, 1, 0, link.FlagSYN, "")
	h.send(cli, srv, 2, 0, link.FlagACK, "one ")
	h.send(cli, srv, 6, 0, link.FlagACK, "two")
	h.a.FlushAll(h.ts)
	h.want(h.only(), "one two", "", "close")
}

func TestMidStreamStart(t *testing.T) {
	h := newHarness(t, Config{})
	var asked []string
	h.accept = func(c *protocol.Conn) bool {
		asked = append(asked, c.Server.String())
		return c.Server.Port() == 6379
	}
	// First packet seen is the server's answer; no handshake.
	h.s(0, 0, "+OK\r\n")
	h.c(0, 0, "PING\r\n")
	r := h.only()
	if r.conn.Client != cli || r.conn.Server != srv {
		t.Errorf("client %v server %v", r.conn.Client, r.conn.Server)
	}
	h.want(r, "PING\r\n", "+OK\r\n")
	if len(asked) != 1 {
		t.Errorf("factory asked %v", asked)
	}

	// A connection between two ports the factory does not know is asked
	// both ways, then ignored without asking again.
	h2 := newHarness(t, Config{})
	n := 0
	h2.accept = func(c *protocol.Conn) bool { n++; return false }
	a, b := netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.2:6000")
	h2.send(a, b, 1, 1, link.FlagACK, "x")
	h2.send(b, a, 1, 2, link.FlagACK, "y")
	if n != 2 || h2.a.Stats().Ignored != 1 {
		t.Errorf("factory asked %d times, stats %+v", n, h2.a.Stats())
	}
}

func TestMidStreamSilentSideFin(t *testing.T) {
	h := newHarness(t, Config{})
	h.c(0, 0, "QUIT\r\n")
	h.s(0, link.FlagFIN, "") // the server never sent data we saw
	h.c(6, link.FlagFIN, "")
	h.want(h.only(), "QUIT\r\n", "", "fin server", "fin client", "close")
}

func TestSequenceWraparound(t *testing.T) {
	h := newHarness(t, Config{})
	h.cseq = 0xfffffffa
	h.handshake()
	h.c(0, 0, "abcd")
	h.c(8, 0, "ijkl") // out of order, past the wrap
	h.c(4, 0, "efgh") // crosses 2^32
	h.c(2, 0, "cdef") // retransmit across the wrap
	h.want(h.only(), "abcdefghijkl", "")
}

func TestTailKeptAndBounded(t *testing.T) {
	h := newHarness(t, Config{MaxMessageSize: 10})
	h.lines = true
	h.handshake()
	h.c(0, 0, "SET a")
	h.c(5, 0, " 1\nGET")
	h.c(11, 0, " a\n")
	r := h.only()
	h.want(r, "SET a 1\nGET a\n", "")
	// A line longer than the bound: the tail is dropped as a gap and the
	// stream goes on with the next bytes.
	h.c(14, 0, "0123456")
	h.c(21, 0, "789abc")
	h.c(27, 0, "\nOK\n")
	h.want(r, "SET a 1\nGET a\n\nOK\n", "", "gap client 13")
	if st := h.a.Stats(); st.TailOverflows != 1 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// limited is a parser that sets its own message bound.
type limited struct{ recorder }

func (*limited) MaxMessageSize() int { return 4 }

func TestParserMessageSizeLimit(t *testing.T) {
	var r *limited
	a := NewAssembler(Config{}, func(c *protocol.Conn) protocol.TCPParser {
		r = &limited{recorder{consume: consumeLines}}
		return r
	})
	a.Packet(&link.Packet{IPProto: 6, SrcIP: cli.Addr(), DstIP: srv.Addr(), SrcPort: cli.Port(),
		DstPort: srv.Port(), Seq: 1, Flags: link.FlagACK, Payload: []byte("abcdef")})
	if strings.Join(r.events, ",") != "gap client 6" {
		t.Errorf("events %q", r.events)
	}
}

func TestResetClosesConnection(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, 0, "data")
	h.s(0, link.FlagRST, "")
	h.want(h.only(), "data", "", "fin server", "close")
	if st := h.a.Stats(); st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestPortReuseStartsNewConnection(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, 0, "first")
	h.send(cli, srv, h.cseq-1, 0, link.FlagSYN, "") // retransmitted SYN: same connection
	if len(h.recs) != 1 {
		t.Fatal("SYN retransmission opened a new connection")
	}
	h.cseq = 90000
	h.handshake()
	h.c(0, 0, "second")
	if len(h.recs) != 2 {
		t.Fatalf("%d parsers", len(h.recs))
	}
	h.want(h.recs[0], "first", "", "close")
	h.want(h.recs[1], "second", "")
}

func TestEvictionAndExpiry(t *testing.T) {
	h := newHarness(t, Config{MaxConnections: 2, IdleTimeout: 10 * time.Second})
	for i := range 3 {
		from := netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
		h.send(from, srv, 1, 1, link.FlagACK, "x")
	}
	if len(h.recs) != 3 || strings.Join(h.recs[0].events, ",") != "close" {
		t.Fatalf("oldest not evicted: %d parsers, events %q", len(h.recs), h.recs[0].events)
	}
	if st := h.a.Stats(); st.Evicted != 1 || st.Active != 2 {
		t.Errorf("stats %+v", st)
	}
	// Touch connection 1 later, then expire: only connection 2 is idle.
	h.ts = h.ts.Add(8 * time.Second)
	h.send(netip.AddrPortFrom(cli.Addr(), 40001), srv, 2, 1, link.FlagACK, "y")
	h.a.Expire(h.ts.Add(5 * time.Second))
	if got := strings.Join(h.recs[2].events, ","); got != "close" {
		t.Errorf("idle connection events %q", got)
	}
	if got := len(h.recs[1].events); got != 0 || h.recs[1].expires != 1 {
		t.Errorf("live connection events %q, expires %d", h.recs[1].events, h.recs[1].expires)
	}
	if st := h.a.Stats(); st.Expired != 1 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSteadyStateAllocs: in-order data on an established connection, with
// and without an unconsumed tail, allocates nothing per packet.
func TestSteadyStateAllocs(t *testing.T) {
	for _, lines := range []bool{false, true} {
		h := newHarness(t, Config{})
		h.lines = lines
		h.handshake()
		p := &link.Packet{IPVersion: 4, IPProto: 6, SrcIP: cli.Addr(), DstIP: srv.Addr(),
			SrcPort: cli.Port(), DstPort: srv.Port(), Flags: link.FlagACK, Ack: h.sseq,
			Payload: []byte("GET /some/path\nHost: x")}
		seq := h.cseq
		r := h.only()
		allocs := testing.AllocsPerRun(1000, func() {
			p.Seq = seq
			seq += uint32(len(p.Payload))
			h.a.Packet(p)
			r.data[0] = r.data[0][:0] // the recorder itself must not allocate either
		})
		if allocs != 0 {
			t.Errorf("lines=%v: %v allocs per packet", lines, allocs)
		}
	}
}

// A segment exactly 2^31 from the expected sequence number is as far
// behind as ahead; it used to negate the int32 minimum and slice with
// -2^31. Both directions of the ambiguity, in order and from the
// out-of-order buffer, must be taken as old data, never crash.
func TestSequenceHalfSpaceAway(t *testing.T) {
	h := newHarness(t, Config{})
	h.handshake()
	h.c(0, 0, "abcd")
	h.c(4+1<<31, 0, "evil") // exactly 2^31 past next
	h.c(4, 0, "efgh")
	h.c(12, 0, "mnop")           // buffered ahead of a hole
	h.c(12+1<<31, 0, "ijklmnop") // 2^31 away from the buffered one
	h.c(8, 0, "ijkl")
	h.s(0, 0, "+OK\r\n")
	h.want(h.only(), "abcdefghijklmnop", "+OK\r\n")
}
