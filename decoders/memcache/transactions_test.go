package memcache

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

// harness drives one TCP connection the way the engine does: unconsumed
// bytes are kept and handed back with the next segment.
type harness struct {
	t       *testing.T
	inst    *protocol.Instance
	col     *protocoltest.Collector
	c       protocol.TCPParser
	pending [2][]byte
}

func newHarness(t *testing.T, opts map[string]any) *harness {
	inst, col := protocoltest.New(t, "memcache", opts)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:11211"), IPProtocol: 6}
	return &harness{t: t, inst: inst, col: col, c: inst.TCP.NewConn(&conn)}
}

func (h *harness) send(dir protocol.Dir, s string) {
	h.sendAt(dir, s, t0)
}

func (h *harness) sendAt(dir protocol.Dir, s string, ts time.Time) {
	buf := append(h.pending[dir], s...)
	n := h.c.Parse(dir, buf, ts)
	if n < 0 || n > len(buf) {
		h.t.Fatalf("consumed %d of %d", n, len(buf))
	}
	h.pending[dir] = append([]byte(nil), buf[n:]...)
}

func (h *harness) gap(dir protocol.Dir, n int) {
	h.pending[dir] = nil
	// Revealed a little after the messages sent at t0: those were seen
	// before the loss.
	h.c.Gap(dir, n, t0.Add(time.Millisecond))
}

func (h *harness) stats() *Stats { return h.inst.TCP.(*Protocol).Stats() }

const textExchangeReq = "set k 5 0 10\r\n0123456789\r\nget k other\r\nincr n 2\r\ndelete k noreply\r\nstats items\r\n"
const textExchangeResp = "STORED\r\nVALUE k 5 10\r\n0123456789\r\nEND\r\n3\r\nSTAT items:1:number 1\r\nSTAT items:1:age 7\r\nEND\r\n"

func binMsg(magic, opcode byte, key, extras, value string, opaque uint32, status uint16) string {
	h := make([]byte, 24)
	h[0], h[1] = magic, opcode
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint16(h[6:], status)
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	return string(h) + extras + key + value
}

// Feeding a conversation one byte at a time must give the same events as
// feeding it whole: every parse state resumes on partial input.
func TestSplitAnywhere(t *testing.T) {
	binReq := binMsg(0x80, 0x01, "bk", "\x00\x00\x00\x01\x00\x00\x00\x00", "vvv", 9, 0) +
		binMsg(0x80, 0x10, "", "", "", 10, 0)
	binResp := binMsg(0x81, 0x01, "", "", "", 9, 0) +
		binMsg(0x81, 0x10, "pid", "", "42", 10, 0) + binMsg(0x81, 0x10, "uptime", "", "7", 10, 0) +
		binMsg(0x81, 0x10, "", "", "", 10, 0)
	for _, tc := range []struct{ name, req, resp string }{
		{"text", textExchangeReq, textExchangeResp},
		{"binary", binReq, binResp},
	} {
		whole := newHarness(t, map[string]any{"maxvalues": -1})
		whole.send(protocol.FromClient, tc.req)
		whole.send(protocol.FromServer, tc.resp)
		whole.c.Close(t0)
		split := newHarness(t, map[string]any{"maxvalues": -1})
		for i := range len(tc.req) {
			split.send(protocol.FromClient, tc.req[i:i+1])
		}
		for i := range len(tc.resp) {
			split.send(protocol.FromServer, tc.resp[i:i+1])
		}
		split.c.Close(t0)
		if len(whole.col.Raw) == 0 || len(whole.col.Raw) != len(split.col.Raw) {
			t.Fatalf("%s: %d events whole, %d split", tc.name, len(whole.col.Raw), len(split.col.Raw))
		}
		for i := range whole.col.Raw {
			if string(whole.col.Raw[i]) != string(split.col.Raw[i]) {
				t.Errorf("%s event %d:\nwhole %s\nsplit %s", tc.name, i, whole.col.Raw[i], split.col.Raw[i])
			}
		}
		if n := whole.stats().ParseErrors.Load(); n != 0 {
			t.Errorf("%s: parse errors %d", tc.name, n)
		}
	}
	h := newHarness(t, map[string]any{"maxvalues": -1})
	h.send(protocol.FromClient, textExchangeReq)
	h.send(protocol.FromServer, textExchangeResp)
	got := summary(h.col.Docs)
	// The noreply delete needs no answer: it is published when parsed.
	want := []string{"delete k -> <nil> OK", "set k -> STORED OK", "get k,other -> VALUE OK",
		"incr n -> <counter_op_res> OK", "stats <nil> -> STAT OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
	expect(t, h.col.Docs[4], map[string]string{"memcache.request.raw_args": "items",
		"memcache.response.stats": "map[name:items:1:number value:1],map[name:items:1:age value:7]"})
}

// A gap inside a value keeps the stream in sync: the value is counted, not
// published, and the transaction carries a note.
func TestGapInsideValue(t *testing.T) {
	h := newHarness(t, map[string]any{"maxvalues": -1})
	h.send(protocol.FromClient, "set k 0 0 10\r\n0123")
	h.gap(protocol.FromClient, 3)
	h.send(protocol.FromClient, "789\r\nget k\r\n")
	h.send(protocol.FromServer, "STORED\r\nEND\r\n")
	if len(h.col.Docs) != 2 {
		t.Fatalf("%d events", len(h.col.Docs))
	}
	expect(t, h.col.Docs[0], map[string]string{
		"memcache.request.count_values": "1", "memcache.request.bytes": "10", "memcache.request.values": "<nil>",
		"error.message": noteGap, "status": "OK", "source.bytes": "23", // 26 sent, 3 lost
	})
	expect(t, h.col.Docs[1], map[string]string{"memcache.request.command": "get", "memcache.response.command": "END"})
	if h.stats().GapRecovered.Load() != 1 {
		t.Error("gap not counted")
	}
}

// A gap elsewhere loses the pairing: waiting requests are published alone
// and parsing restarts cleanly.
func TestGapOutsideValue(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "get a\r\nget b\r\n")
	h.send(protocol.FromServer, "VALUE a 0 1\r\n")
	h.gap(protocol.FromServer, 100)
	h.send(protocol.FromClient, "version\r\n")
	h.send(protocol.FromServer, "VERSION 1.6.18\r\n")
	got := summary(h.col.Docs)
	want := []string{"get a -> <nil> Server Error", "get b -> <nil> Server Error", "version <nil> -> VERSION OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
	expect(t, h.col.Docs[0], map[string]string{"error.message": noteNoResponse, "event.action": "memcache.load", "event.outcome": "<nil>"})
	if h.stats().GapDrops.Load() != 1 || h.stats().UnmatchedRequests.Load() != 2 {
		t.Errorf("stats %+v", h.stats())
	}
}

// Garbage is a counted parse error; the search for the next command line
// skips what no probe accepts. memcached answers each bad line with an
// error; those answers pair with nothing, and the command after them
// pairs with its own response.
func TestGarbageResync(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "\x00\x01\x02 binary junk\r\n")
	h.send(protocol.FromServer, "ERROR\r\n")
	h.send(protocol.FromClient, "GET upper\r\n") // a response keyword from the client: not a command
	h.send(protocol.FromServer, "ERROR\r\n")
	h.send(protocol.FromClient, "set k 0 0 notanumber\r\n") // bad arguments
	h.send(protocol.FromServer, "CLIENT_ERROR bad command line format\r\n")
	h.send(protocol.FromClient, "\x81\x00\x00\x00"+strings.Repeat("x", 20)) // response magic from the client
	h.send(protocol.FromClient, "get k\r\n")
	h.send(protocol.FromServer, "END\r\n")
	if n := h.stats().ParseErrors.Load(); n != 2 {
		t.Errorf("parse errors = %d, want 2", n)
	}
	if n := h.stats().Resync.SkippedBytes.Load(); n != int64(len("GET upper\r\n")+24) {
		t.Errorf("skipped %d", n)
	}
	if got := summary(h.col.Docs); len(got) != 4 || got[0] != "<nil> <nil> -> ERROR Client Error" || got[3] != "get k -> END OK" {
		t.Errorf("got %q", got)
	}
}

// A line that never ends is refused at the bound instead of buffered.
func TestLineBound(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "get "+strings.Repeat("k", maxLineBytes))
	if h.stats().ParseErrors.Load() != 1 || len(h.pending[0]) != 0 {
		t.Errorf("errors %d, pending %d", h.stats().ParseErrors.Load(), len(h.pending[0]))
	}
	// A binary body length smaller than its key is refused too.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, "\x80\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x01"+strings.Repeat("\x00", 12))
	if h.stats().ParseErrors.Load() != 1 {
		t.Error("bad binary length accepted")
	}
}

// Requests without answers cannot pile up beyond maxPending.
func TestPendingBound(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, strings.Repeat("get k\r\n", maxPending+10))
	if len(h.col.Docs) != 10 {
		t.Fatalf("%d published early, want 10", len(h.col.Docs))
	}
	h.c.Close(t0)
	if len(h.col.Docs) != maxPending+10 {
		t.Fatalf("%d after close", len(h.col.Docs))
	}
}

func TestExpire(t *testing.T) {
	h := newHarness(t, map[string]any{"transaction_timeout": "2s"})
	h.send(protocol.FromClient, "get k\r\n")
	h.c.Expire(t0.Add(time.Second))
	if len(h.col.Docs) != 0 {
		t.Fatal("expired early")
	}
	h.c.Expire(t0.Add(2 * time.Second))
	if len(h.col.Docs) != 1 {
		t.Fatal("not expired")
	}
	expect(t, h.col.Docs[0], map[string]string{"status": "Server Error", "error.message": noteNoResponse})
}

// Binary responses pair by opaque: quiet requests the server skipped are
// published alone without complaint, a skipped non-quiet one with a note.
func TestBinaryPairing(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, binMsg(0x80, 0x09, "a", "", "", 1, 0)+ // GetQ miss: no answer
		binMsg(0x80, 0x00, "b", "", "", 2, 0)+ // Get: answer lost
		binMsg(0x80, 0x0a, "", "", "", 3, 0)) // NoOp
	h.send(protocol.FromServer, binMsg(0x81, 0x0a, "", "", "", 3, 0))
	got := summary(h.col.Docs)
	want := []string{"get a -> <nil> OK", "get b -> <nil> Server Error", "noop <nil> -> noop OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
	expect(t, h.col.Docs[0], map[string]string{"error.message": "<nil>"})
	expect(t, h.col.Docs[1], map[string]string{"error.message": noteNoResponse})
	// Server errors (status > 0x80) and the error text.
	h.send(protocol.FromClient, binMsg(0x80, 0x42, "", "", "", 4, 0))
	h.send(protocol.FromServer, binMsg(0x81, 0x42, "", "", "Unknown command", 4, 0x81))
	expect(t, h.col.Docs[3], map[string]string{"status": "Server Error", "memcache.request.command": "UNKNOWN",
		"memcache.response.status": "Unknown command", "memcache.response.error_msg": "Unknown command",
		"event.outcome": "failure", "memcache.request.opcode": "<nil>", "memcache.request.opcode_value": "66"})
}

func TestSlabsAndLRUCrawler(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, "slabs reassign 1 2\r\nslabs automove 1\r\nlru_crawler sleep 100\r\nlru_crawler crawl 1,2\r\nflush_all 30 noreply\r\n")
	h.send(protocol.FromServer, "OK\r\nOK\r\nOK\r\nOK\r\n")
	expect(t, h.col.Docs[0], map[string]string{"memcache.request.command": "flush_all", "memcache.request.exptime": "30"})
	expect(t, h.col.Docs[1], map[string]string{"memcache.request.command": "slabs reassign", "memcache.request.source_class": "1",
		"memcache.request.dest_class": "2", "event.action": "memcache.slabctrl"})
	expect(t, h.col.Docs[2], map[string]string{"memcache.request.automove": "slow"})
	expect(t, h.col.Docs[3], map[string]string{"memcache.request.sleep_us": "100", "event.action": "memcache.lrucrawler"})
	expect(t, h.col.Docs[4], map[string]string{"memcache.request.raw_args": "1,2"})
}

func udpDatagram(id, seq, total uint16, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint16(b[4:], total)
	return append(b, payload...)
}

func TestUDPReassemblyAndExpiry(t *testing.T) {
	inst, col := protocoltest.New(t, "memcache", map[string]any{"udptransactiontimeout": 2, "maxvalues": -1})
	u := inst.UDP
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("10.0.0.2:11211"), IPProtocol: 17}
	u.Datagram(&conn, protocol.FromClient, udpDatagram(7, 0, 1, "get k\r\n"), t0)
	resp := "VALUE k 0 6\r\nabcdef\r\nEND\r\n"
	// Out of order, with a duplicate.
	u.Datagram(&conn, protocol.FromServer, udpDatagram(7, 1, 2, resp[10:]), t0)
	u.Datagram(&conn, protocol.FromServer, udpDatagram(7, 1, 2, resp[10:]), t0)
	u.Datagram(&conn, protocol.FromServer, udpDatagram(7, 0, 2, resp[:10]), t0)
	if len(col.Docs) != 1 {
		t.Fatalf("%d events", len(col.Docs))
	}
	expect(t, col.Docs[0], map[string]string{"memcache.response.values": "YWJjZGVm", "network.transport": "udp", "destination.bytes": "26"})
	p := inst.TCP.(*Protocol)
	if p.Stats().UDPDrops.Load() != 1 {
		t.Errorf("duplicate not counted: %+v", p.Stats())
	}
	// Bad frame headers are counted.
	u.Datagram(&conn, protocol.FromClient, []byte{1, 2, 3}, t0)
	u.Datagram(&conn, protocol.FromClient, udpDatagram(8, 3, 2, "x"), t0)
	if p.Stats().ParseErrors.Load() != 2 {
		t.Errorf("parse errors %d", p.Stats().ParseErrors.Load())
	}
	// An unanswered request waits udptransactiontimeout (2 s), then goes alone.
	u.Datagram(&conn, protocol.FromClient, udpDatagram(9, 0, 1, "get z\r\n"), t0)
	u.Expire(t0.Add(1999 * time.Millisecond))
	if len(col.Docs) != 1 {
		t.Fatal("expired early")
	}
	u.Expire(t0.Add(2 * time.Second))
	if len(col.Docs) != 2 {
		t.Fatal("not expired")
	}
	expect(t, col.Docs[1], map[string]string{"status": "Server Error", "error.message": noteNoResponse})
	// A response whose request was not seen is flushed alone.
	u.Datagram(&conn, protocol.FromServer, udpDatagram(10, 0, 1, "STORED\r\n"), t0)
	u.Flush()
	expect(t, col.Docs[2], map[string]string{"status": "Client Error", "memcache.response.command": "STORED"})
}

func TestConfig(t *testing.T) {
	spec, _ := protocol.Lookup("memcache")
	for _, tc := range []struct {
		opts map[string]any
		err  string
	}{
		{map[string]any{"maxvalue": 1}, `unknown option "maxvalue"`},
		{map[string]any{"udptransactiontimeout": "soon"}, "udptransactiontimeout"},
		{map[string]any{"udptransactiontimeout": 0}, "must be positive"},
		{map[string]any{"parseunknown": "yes please"}, "into bool"},
	} {
		common, opts, err := protocol.SplitCommon(spec, tc.opts)
		if err == nil {
			_, err = spec.New(common, opts, nil)
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: err %v, want %q", tc.opts, err, tc.err)
		}
	}
	common, opts, _ := protocol.SplitCommon(spec, map[string]any{"udptransactiontimeout": 5, "maxbytespervalue": 0})
	inst, err := spec.New(common, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := inst.TCP.(*Protocol).cfg
	if cfg.udpTimeout != 5*time.Second || cfg.maxValues != 0 || cfg.maxBytesPerValue <= 0 {
		t.Errorf("settings %+v", cfg)
	}
	if fmt := inst.Common.Ports; len(fmt) != 1 || fmt[0] != 11211 {
		t.Errorf("ports %v", fmt)
	}
}
