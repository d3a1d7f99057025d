package pgsql

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

var t0 = time.Date(2024, 11, 26, 1, 0, 0, 0, time.UTC)

// msg builds a typed message.
func msg(t byte, body ...string) []byte {
	b := strings.Join(body, "")
	out := []byte{t, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(b)))
	return append(out, b...)
}

func i16(n int) string { return string([]byte{byte(n >> 8), byte(n)}) }
func i32(n int) string { return string(binary.BigEndian.AppendUint32(nil, uint32(n))) }

func query(q string) []byte { return msg('Q', q, "\x00") }

func rowDesc(names ...string) []byte {
	b := i16(len(names))
	for _, n := range names {
		b += n + "\x00" + i32(0) + i16(0) + i32(25) + i16(-1&0xffff) + i32(-1) + i16(0)
	}
	return msg('T', b)
}

func dataRowMsg(vals ...string) []byte {
	b := i16(len(vals))
	for _, v := range vals {
		b += i32(len(v)) + v
	}
	return msg('D', b)
}

func complete(tag string) []byte { return msg('C', tag, "\x00") }

var ready = msg('Z', "I")

type harness struct {
	t      *testing.T
	p      *Protocol
	c      *connection
	events []*Event
}

func newHarness(t *testing.T, opts map[string]any) *harness {
	h := &harness{t: t}
	spec, _ := protocol.Lookup("pgsql")
	common, rest, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := spec.New(common, rest, protocol.PublisherFunc(func(ev ecsmap.Event) { h.events = append(h.events, ev.(*Event)) }))
	if err != nil {
		t.Fatal(err)
	}
	h.p = inst.TCP.(*Protocol)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:5432"), IPProtocol: 6}
	h.c = h.p.NewConn(&conn).(*connection)
	return h
}

// send feeds data as the engine does: unconsumed bytes come back with the next call.
func (h *harness) send(dir protocol.Dir, chunks ...[]byte) {
	var pending []byte
	for _, c := range chunks {
		pending = append(pending, c...)
		n := h.c.Parse(dir, pending, t0)
		if n < 0 || n > len(pending) {
			h.t.Fatalf("consumed %d of %d", n, len(pending))
		}
		pending = pending[n:]
	}
	if len(pending) > 0 {
		h.t.Fatalf("%d bytes left unconsumed", len(pending))
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func startup() []byte {
	body := i32(196608) + "user\x00u\x00database\x00d\x00\x00"
	return append(binary.BigEndian.AppendUint32(nil, uint32(4+len(body))), body...)
}

func TestSSLAccepted(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	h.send(protocol.FromServer, []byte("S"))
	// What follows is TLS: nothing decoded, nothing counted as an error.
	h.send(protocol.FromClient, []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
	h.send(protocol.FromServer, []byte("\x16\x03\x03\x00\x7a\x02"))
	if h.p.stats.Encrypted.Load() != 1 || h.p.stats.ParseErrors.Load() != 0 || len(h.events) != 0 {
		t.Errorf("stats %+v, %d events", &h.p.stats, len(h.events))
	}
}

func TestSSLRefusedThenQuery(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	h.send(protocol.FromServer, []byte("N"))
	h.send(protocol.FromClient, startup())
	h.send(protocol.FromServer, msg('R', i32(0)), msg('S', "a\x00b\x00"), msg('K', i32(1), i32(2)), ready)
	h.send(protocol.FromClient, query("select 1"))
	h.send(protocol.FromServer, cat(rowDesc("x"), dataRowMsg("1"), complete("SELECT 1"), ready))
	if len(h.events) != 1 || h.events[0].NumRows != 1 || h.events[0].Base.Status != "OK" {
		t.Fatalf("events %+v", h.events)
	}
}

func TestSplitAcrossSegments(t *testing.T) {
	h := newHarness(t, nil)
	h.c.dirs[0].mode = modeMessage // capture began after start-up
	q := query("select a from t")
	h.send(protocol.FromClient, q[:3], q[3:])
	resp := cat(rowDesc("a"), dataRowMsg("x"), dataRowMsg("y"), complete("SELECT 2"), ready)
	var chunks [][]byte
	for i := 0; i < len(resp); i += 7 {
		chunks = append(chunks, resp[i:min(i+7, len(resp))])
	}
	h.send(protocol.FromServer, chunks...)
	if len(h.events) != 1 {
		t.Fatalf("%d events", len(h.events))
	}
	e := h.events[0]
	if e.NumRows != 2 || e.NumFields != 1 || e.Base.Source.Bytes != int64(len(q)) || e.Base.Destination.Bytes != int64(len(resp)-6) {
		t.Errorf("event %+v", e)
	}
}

// A DataRow far larger than maxParsed is counted and skipped as it streams
// in, without being buffered.
func TestHugeRowStreams(t *testing.T) {
	h := newHarness(t, map[string]any{"send_response": true})
	h.c.dirs[0].mode = modeMessage
	h.send(protocol.FromClient, query("select big"))
	big := dataRowMsg(strings.Repeat("z", 3*maxParsed))
	h.c.Parse(protocol.FromServer, rowDesc("big"), t0)
	// Hand it over in 64 KiB pieces; the parser must never ask for all of it.
	pending := []byte(nil)
	maxPending := 0
	for off := 0; off < len(big); off += 64 << 10 {
		pending = append(pending, big[off:min(off+64<<10, len(big))]...)
		n := h.c.Parse(protocol.FromServer, pending, t0)
		pending = pending[n:]
		maxPending = max(maxPending, len(pending))
	}
	h.send(protocol.FromServer, cat(pending, complete("SELECT 1"), ready))
	if maxPending > maxParsed+headerLen {
		t.Errorf("parser kept %d bytes pending", maxPending)
	}
	if len(h.events) != 1 || h.events[0].NumRows != 1 || h.events[0].Base.Destination.Bytes != int64(len(rowDesc("big"))+len(big)+len(complete("SELECT 1"))) {
		t.Fatalf("events %+v", h.events)
	}
	if r := h.events[0].Base.Response; r != "big\n"+strings.Repeat("z", defaultMaxRowLength)+"\n" {
		t.Errorf("response of %d bytes", len(r))
	}
}

func TestGapFlushesAtReady(t *testing.T) {
	h := newHarness(t, nil)
	h.c.dirs[0].mode = modeMessage
	h.send(protocol.FromClient, query("select 1"))
	h.send(protocol.FromServer, cat(rowDesc("x"), dataRowMsg("1")))
	h.c.Gap(protocol.FromServer, 100, t0)
	// Garbage (the tail of a lost DataRow), then the next ReadyForQuery.
	h.send(protocol.FromServer, cat([]byte("\x00\x01\x02garbage"), complete("SELECT 9"), ready))
	if len(h.events) != 1 || h.events[0].Base.Status != "Error" ||
		strings.Join(h.events[0].Base.Notes, "|") != "Packet loss while capturing the response|Unmatched request" {
		t.Fatalf("events %+v", h.events)
	}
	// Pairing works again after the resynchronisation.
	h.send(protocol.FromClient, query("select 2"))
	h.send(protocol.FromServer, cat(rowDesc("x"), dataRowMsg("2"), complete("SELECT 1"), ready))
	if len(h.events) != 2 || h.events[1].Base.Query != "select 2" || h.events[1].NumRows != 1 {
		t.Fatalf("events %+v", h.events[1:])
	}
}

func TestClientGarbageResyncs(t *testing.T) {
	h := newHarness(t, nil)
	h.c.dirs[0].mode = modeMessage
	h.send(protocol.FromClient, []byte("GET / HTTP/1.1\r\n\r\n"))
	if h.p.stats.ParseErrors.Load() != 1 {
		t.Errorf("parse errors %d", h.p.stats.ParseErrors.Load())
	}
	h.send(protocol.FromClient, query("select 3"))
	h.send(protocol.FromServer, cat(complete("SELECT 0"), ready))
	if len(h.events) != 1 || h.events[0].Base.Query != "select 3" {
		t.Fatalf("events %+v", h.events)
	}
}

func TestExpireAndClose(t *testing.T) {
	h := newHarness(t, map[string]any{"transaction_timeout": "1s"})
	h.c.dirs[0].mode = modeMessage
	h.send(protocol.FromClient, query("select pg_sleep(5)"))
	h.c.Expire(t0.Add(500 * time.Millisecond))
	if len(h.events) != 0 {
		t.Fatal("expired too early")
	}
	h.c.Expire(t0.Add(2 * time.Second))
	if len(h.events) != 1 || h.events[0].HasResult || h.events[0].Base.Status != "Error" {
		t.Fatalf("events %+v", h.events)
	}
	// The late result belongs to a batch nobody waits for: the next
	// statement must not take it.
	h.send(protocol.FromClient, query("select 4"))
	h.send(protocol.FromServer, cat(rowDesc("pg_sleep"), dataRowMsg(""), complete("SELECT 1"), ready))
	h.send(protocol.FromServer, cat(complete("SELECT 0"), ready))
	if len(h.events) != 2 || h.events[1].Base.Query != "select 4" || h.events[1].NumRows != 0 {
		t.Fatalf("events %+v", h.events[1:])
	}
	h.send(protocol.FromClient, query("select 5"))
	h.c.Close(t0)
	if len(h.events) != 3 || h.events[2].Base.Notes[0] != "Unmatched request" {
		t.Fatalf("events %+v", h.events[2:])
	}
}

func TestPendingBounded(t *testing.T) {
	h := newHarness(t, nil)
	h.c.dirs[0].mode = modeMessage
	q := query(strings.Repeat("select 1;", maxStmts+10))
	h.send(protocol.FromClient, q)
	if h.c.pending != maxStmts || len(h.events) != 10 || h.p.stats.Overflows.Load() != 10 {
		t.Errorf("pending %d, events %d", h.c.pending, len(h.events))
	}
}

func TestBadOptions(t *testing.T) {
	spec, _ := protocol.Lookup("pgsql")
	for _, opts := range []map[string]any{{"max_rows": -1}, {"max_row_length": -5}, {"max_rowz": 3}} {
		common, rest, _ := protocol.SplitCommon(spec, opts)
		if _, err := spec.New(common, rest, protocol.PublisherFunc(func(ecsmap.Event) {})); err == nil {
			t.Errorf("%v accepted", opts)
		}
	}
}

// Result rows that are not kept must not allocate: the hot path inside a
// large SELECT is one DataRow after another.
func TestDataRowsDoNotAllocate(t *testing.T) {
	h := newHarness(t, nil)
	h.c.dirs[0].mode = modeMessage
	h.send(protocol.FromClient, query("select * from big"))
	h.send(protocol.FromServer, rowDesc("a", "b"))
	rows := cat(dataRowMsg("1", "hello"), dataRowMsg("2", "world"), dataRowMsg("3", "again"))
	allocs := testing.AllocsPerRun(100, func() { h.c.Parse(protocol.FromServer, rows, t0) })
	if allocs != 0 {
		t.Errorf("%v allocations per segment of rows", allocs)
	}
}
