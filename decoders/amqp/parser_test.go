package amqp

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

var t0 = time.Date(2026, 11, 26, 1, 30, 0, 0, time.UTC)

// Wire builders for crafted (mostly malformed) input; the well-formed
// cases come from the RabbitMQ captures in pcap_test.go.
func frame(typ byte, ch uint16, payload []byte) []byte {
	b := []byte{typ, byte(ch >> 8), byte(ch)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return append(b, frameEnd)
}

func method(ch uint16, class, id uint16, args ...[]byte) []byte {
	p := binary.BigEndian.AppendUint16(nil, class)
	p = binary.BigEndian.AppendUint16(p, id)
	for _, a := range args {
		p = append(p, a...)
	}
	return frame(frameMethod, ch, p)
}

func sstr(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func lstr(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func header(ch uint16, size uint64, props ...byte) []byte {
	p := append(u16(60), 0, 0)
	p = append(p, u64(size)...)
	if len(props) == 0 {
		props = []byte{0, 0}
	}
	return frame(frameHeader, ch, append(p, props...))
}

// queueDeclare with an arguments table body.
func queueDeclare(ch uint16, q string, args []byte) []byte {
	return method(ch, 50, 10, u16(0), sstr(q), []byte{0}, lstr(args))
}

func declareOk(ch uint16, q string) []byte {
	return method(ch, 50, 11, sstr(q), []byte{0, 0, 0, 3, 0, 0, 0, 1})
}

type harness struct {
	t    *testing.T
	p    *Protocol
	c    protocol.TCPParser
	docs func() []map[string]any
}

func newHarness(t *testing.T, opts map[string]any) *harness {
	inst, col := protocoltest.New(t, "amqp", opts)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:5672"), IPProtocol: 6}
	h := &harness{t: t, p: inst.TCP.(*Protocol), c: inst.TCP.NewConn(&conn)}
	h.docs = func() []map[string]any { return col.Docs }
	return h
}

// send feeds data in one call and keeps nothing: every test input is
// complete, so all of it must be consumed.
func (h *harness) send(dir protocol.Dir, parts ...[]byte) {
	h.t.Helper()
	var data []byte
	for _, p := range parts {
		data = append(data, p...)
	}
	if n := h.c.Parse(dir, data, t0); n != len(data) {
		h.t.Fatalf("consumed %d of %d", n, len(data))
	}
}

func TestGarbageThenFrames(t *testing.T) {
	h := newHarness(t, nil)
	garbage := []byte(strings.Repeat("\x01\x00\x01\xff\xff\xff\xff junk ", 20))
	h.send(protocol.FromClient, garbage, queueDeclare(1, "q1", nil))
	h.send(protocol.FromServer, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), declareOk(1, "q1"))
	docs := h.docs()
	if len(docs) != 1 || docs[0]["method"] != "queue.declare" {
		t.Fatalf("events %v", docs)
	}
	expect(t, docs[0], map[string]any{"amqp.queue": "q1", "amqp.message-count": 3, "amqp.consumer-count": 1, "status": "OK"})
	if h.p.stats.ParseErrors.Load() == 0 || h.p.stats.Resync.SkippedBytes.Load() == 0 {
		t.Errorf("errors %d garbage %d", h.p.stats.ParseErrors.Load(), h.p.stats.Resync.SkippedBytes.Load())
	}
}

func TestBadFrameEndAndSize(t *testing.T) {
	h := newHarness(t, nil)
	bad := queueDeclare(1, "lost", nil)
	bad[len(bad)-1] = 0
	huge := []byte{frameMethod, 0, 1, 0x7f, 0xff, 0xff, 0xff}
	h.send(protocol.FromClient, huge, queueDeclare(1, "q2", nil))
	h.send(protocol.FromServer, declareOk(1, "q2"))
	h.send(protocol.FromClient, bad, queueDeclare(1, "q3", nil))
	h.send(protocol.FromServer, declareOk(1, "q3"))
	docs := h.docs()
	if len(docs) != 2 || protocoltest.Get(docs[0], "amqp.queue") != "q2" || protocoltest.Get(docs[1], "amqp.queue") != "q3" {
		t.Fatalf("events %v", docs)
	}
	if n := h.p.stats.ParseErrors.Load(); n != 2 {
		t.Errorf("parse errors %d, want 2", n)
	}
}

func TestShortArguments(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, method(1, 50, 10, u16(0), []byte{200, 'a'}))
	if len(h.docs()) != 0 || h.p.stats.ParseErrors.Load() != 1 {
		t.Fatalf("events %v errors %d", h.docs(), h.p.stats.ParseErrors.Load())
	}
	h.send(protocol.FromClient, method(1, 77, 1))
	if h.p.stats.UnknownMethods.Load() != 1 {
		t.Error("unknown method not counted")
	}
}

func TestTables(t *testing.T) {
	h := newHarness(t, map[string]any{"keep_null": true})
	nan := binary.BigEndian.AppendUint64([]byte{'d'}, math.Float64bits(math.NaN()))
	tbl := append(sstr("a"), 'I', 0, 0, 0, 7)
	tbl = append(tbl, append(sstr("a"), 'S', 0, 0, 0, 1, 'x')...) // duplicate: first wins
	tbl = append(tbl, append(sstr("nan"), nan...)...)
	tbl = append(tbl, append(sstr("void"), 'V')...)
	tbl = append(tbl, append(sstr("neg"), 'D', 3, 0xff, 0xff, 0xff, 0xfb)...) // -0.005
	tbl = append(tbl, append(sstr("f"), 'f', 0x3f, 0xc0, 0, 0)...)            // 1.5
	tbl = append(tbl, append(sstr("s"), 's', 0xff, 0xfe)...)                  // -2
	h.send(protocol.FromClient, queueDeclare(1, "t", tbl))
	h.send(protocol.FromServer, declareOk(1, "t"))
	bad := append(sstr("x"), '?', 1)
	h.send(protocol.FromClient, queueDeclare(2, "u", bad))
	h.send(protocol.FromServer, declareOk(2, "u"))
	deep := []byte{}
	for range maxTableDepth + 2 {
		deep = append(sstr("n"), append([]byte{'F'}, lstr(deep)...)...)
	}
	h.send(protocol.FromClient, queueDeclare(3, "v", deep))
	h.send(protocol.FromServer, declareOk(3, "v"))
	docs := h.docs()
	if len(docs) != 3 {
		t.Fatalf("%d events", len(docs))
	}
	expect(t, docs[0], map[string]any{"amqp.arguments.a": 7, "amqp.arguments.nan": "NaN", "amqp.arguments.neg": "-0.005",
		"amqp.arguments.f": 1.5, "amqp.arguments.s": -2})
	if a := protocoltest.Get(docs[0], "amqp.arguments").(map[string]any); len(a) != 6 || a["void"] != nil {
		t.Errorf("arguments %v", a)
	} else if _, ok := a["void"]; !ok {
		t.Error("keep_null: void value missing")
	}
	expect(t, docs[1], map[string]any{"amqp.arguments": nil, "error.message": "Failed to parse additional arguments"})
	expect(t, docs[2], map[string]any{"amqp.arguments": nil, "error.message": "Failed to parse additional arguments"})
}

func TestDecimal(t *testing.T) {
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{{1250, 2, "12.50"}, {5, 2, "0.05"}, {-5, 3, "-0.005"}, {42, 0, "42"}, {7, 1, "0.7"}} {
		if got := string(appendDecimal(nil, c.v, c.scale)); got != c.want {
			t.Errorf("%d scale %d = %s, want %s", c.v, c.scale, got, c.want)
		}
	}
}

// publish builds basic.publish + header + body frames (body split in two).
func publish(ch uint16, body string) []byte {
	out := method(ch, 60, 40, u16(0), sstr(""), sstr("rk"), []byte{0})
	ct := append([]byte{0x80, 0}, sstr("text/plain")...)
	out = append(out, header(ch, uint64(len(body)), ct...)...)
	half := len(body) / 2
	out = append(out, frame(frameBody, ch, []byte(body[:half]))...)
	return append(out, frame(frameBody, ch, []byte(body[half:]))...)
}

func TestSplitEverywhere(t *testing.T) {
	data := append(publish(1, "hello world"), queueDeclare(1, "q", append(sstr("k"), 'S', 0, 0, 0, 1, 'v'))...)
	whole := newHarness(t, map[string]any{"send_request": true})
	whole.send(protocol.FromClient, data)
	whole.send(protocol.FromServer, declareOk(1, "q"))

	h := newHarness(t, map[string]any{"send_request": true})
	var pending []byte
	for _, b := range data {
		pending = append(pending, b)
		n := h.c.Parse(protocol.FromClient, pending, t0)
		pending = pending[n:]
	}
	if len(pending) != 0 {
		t.Fatalf("%d bytes left", len(pending))
	}
	h.send(protocol.FromServer, declareOk(1, "q"))
	a, b := whole.docs(), h.docs()
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d events", len(a), len(b))
	}
	for i := range a {
		if str(a[i]) != str(b[i]) {
			t.Errorf("event %d differs:\n%v\n%v", i, a[i], b[i])
		}
	}
	expect(t, b[0], map[string]any{"request": "hello world", "source.bytes": 11})
}

func TestGaps(t *testing.T) {
	h := newHarness(t, map[string]any{"send_request": true})
	p := publish(1, strings.Repeat("z", 1000))
	// Stop 100 bytes into the second body frame, lose 300 bytes of it.
	cut := len(p) - 8 - 500 + 100
	h.send(protocol.FromClient, p[:cut])
	h.c.Gap(protocol.FromClient, 300, t0)
	h.send(protocol.FromClient, p[cut+300:], queueDeclare(1, "after", nil))
	h.send(protocol.FromServer, declareOk(1, "after"))
	docs := h.docs()
	if len(docs) != 2 {
		t.Fatalf("%d events", len(docs))
	}
	expect(t, docs[0], map[string]any{"source.bytes": 1000, "error.message": "Packet loss while capturing the message body"})
	if r := docs[0]["request"].(string); r != strings.Repeat("z", 700)+" [...]" {
		t.Errorf("kept %q, want 700 bytes and the truncation mark", r)
	}
	expect(t, docs[1], map[string]any{"amqp.queue": "after"})

	// A gap outside a body loses framing; the next frame found resumes.
	h.c.Gap(protocol.FromClient, 10, t0)
	h.send(protocol.FromClient, []byte("tail of a lost frame"), queueDeclare(1, "resumed", nil))
	h.send(protocol.FromServer, declareOk(1, "resumed"))
	if docs := h.docs(); len(docs) != 3 || protocoltest.Get(docs[2], "amqp.queue") != "resumed" {
		t.Fatalf("after gap: %v", docs)
	}
}

func TestCloseErrorWithoutCloseOk(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromServer, method(0, 10, 50, u16(541), sstr("INTERNAL_ERROR"), u16(0), u16(0)))
	h.c.Expire(t0.Add(5 * time.Second))
	if len(h.docs()) != 0 {
		t.Fatal("published before the timeout")
	}
	h.c.Expire(t0.Add(11 * time.Second))
	docs := h.docs()
	if len(docs) != 1 {
		t.Fatalf("%d events", len(docs))
	}
	expect(t, docs[0], map[string]any{"method": "connection.close", "status": "Error", "amqp.reply-code": 541,
		"error.message": "Close-ok method not received by sender", "source.port": 5672})
	// A clean close is hidden by default; an unanswered request is dropped.
	h.send(protocol.FromClient, method(1, 20, 40, u16(200), sstr("bye"), u16(0), u16(0)), queueDeclare(2, "x", nil))
	h.c.Close(t0)
	if len(h.docs()) != 1 || h.p.stats.UnmatchedRequests.Load() != 2 {
		t.Errorf("events %d unmatched %d", len(h.docs()), h.p.stats.UnmatchedRequests.Load())
	}
}

func TestChannels(t *testing.T) {
	h := newHarness(t, nil)
	// Two channels interleaved, replies in the opposite order.
	h.send(protocol.FromClient, queueDeclare(1, "one", nil), queueDeclare(2, "two", nil))
	h.send(protocol.FromServer, declareOk(2, "two"), declareOk(1, "one"))
	docs := h.docs()
	if len(docs) != 2 || protocoltest.Get(docs[0], "amqp.queue") != "two" || protocoltest.Get(docs[1], "amqp.queue") != "one" {
		t.Fatalf("events %v", docs)
	}
	// Frames on more channels than the bound are refused, not tracked.
	for i := range maxChannels + 10 {
		h.send(protocol.FromClient, queueDeclare(uint16(i+3), "q", nil))
	}
	if h.p.stats.ChannelOverflows.Load() == 0 {
		t.Error("channel bound not enforced")
	}
}

func TestConfig(t *testing.T) {
	spec, _ := protocol.Lookup("amqp")
	for _, c := range []struct {
		opts map[string]any
		err  string
	}{
		{map[string]any{"max_body_length": -1}, "max_body_length: must not be negative"},
		{map[string]any{"parse_header": true}, `unknown option "parse_header"`},
		{map[string]any{"hide_connection_information": "maybe"}, "`maybe` into bool"},
	} {
		common, opts, err := protocol.SplitCommon(spec, c.opts)
		if err == nil {
			_, err = spec.New(common, opts, protocol.PublisherFunc(nil))
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want %q", c.opts, err, c.err)
		}
	}
	common, opts, _ := protocol.SplitCommon(spec, nil)
	inst, err := spec.New(common, opts, protocol.PublisherFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := inst.TCP.(*Protocol).cfg
	if cfg.maxBodyLength != 1000 || !cfg.parseHeaders || !cfg.parseArguments || !cfg.hideConnInfo ||
		common.Ports[0] != 5672 || common.TransactionTimeout != 10*time.Second {
		t.Errorf("defaults: %+v %+v", cfg, common)
	}
}

func TestHeldBytesBound(t *testing.T) {
	h := newHarness(t, nil)
	// 200 channels each waiting on a queue.declare with a 60 KiB
	// arguments table: 12 MB of copies if nothing bounded them.
	big := append(sstr("k"), 'S')
	big = append(big, lstr(make([]byte, 60<<10))...)
	for i := range 200 {
		h.send(protocol.FromClient, queueDeclare(uint16(i+1), "q", big))
	}
	if got := h.c.(*connection).held(); got > maxHeldBytes {
		t.Errorf("held %d bytes", got)
	}
	if h.p.stats.StateOverflows.Load() == 0 {
		t.Error("no overflow counted")
	}
}
