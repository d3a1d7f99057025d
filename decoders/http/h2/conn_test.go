package h2

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// peer writes one side's frames the way a real endpoint does: x/net's
// Framer and HPACK encoder (the ones Go's net/http uses).
type peer struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newPeer(client bool) *peer {
	p := &peer{}
	if client {
		p.buf.WriteString(Preface)
	}
	p.fr = http2.NewFramer(&p.buf, nil)
	p.fr.AllowIllegalWrites = true // the attacks below are illegal on purpose
	p.enc = hpack.NewEncoder(&p.hb)
	p.fr.WriteSettings()
	return p
}

// block HPACK-encodes fields (name, value pairs).
func (p *peer) block(kv ...string) []byte {
	p.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), p.hb.Bytes()...)
}

func (p *peer) headers(id uint32, end bool, kv ...string) {
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.block(kv...), EndStream: end, EndHeaders: true})
}

func (p *peer) request(id uint32, path string, extra ...string) {
	p.headers(id, true, append([]string{":method", "GET", ":scheme", "http", ":path", path, ":authority", "example.test"}, extra...)...)
}

type harness struct {
	t       *testing.T
	c       *Conn
	stats   Stats
	streams []*Stream
	ts      time.Time
}

func newHarness(t *testing.T, lim Limits) *harness {
	h := &harness{t: t, ts: time.Unix(1700000000, 0)}
	h.c = NewConn(lim, &h.stats, func(s *Stream) { h.streams = append(h.streams, s) })
	return h
}

// feed delivers b as the engine does: it hands back what was not
// consumed, with the next bytes appended. step bounds each delivery.
func (h *harness) feed(dir Dir, b []byte, step int) {
	var pending []byte
	for len(b) > 0 || len(pending) > 0 {
		n := min(step, len(b))
		pending = append(pending, b[:n]...)
		b = b[n:]
		used := h.c.Parse(dir, pending, h.ts)
		pending = pending[used:]
		if n == 0 {
			break // no new bytes: an incomplete frame stays pending
		}
		h.ts = h.ts.Add(time.Millisecond)
	}
}

func summary(ss []*Stream) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s.Method + " " + s.Path + " " + itoa(s.Status) + " " + itoa(int(s.Resp.DataBytes)) + ";")
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// conversation is two requests and their responses, one padded, one with a
// response body over several DATA frames and a trailer.
func conversation() (cl, sv *peer) {
	cl, sv = newPeer(true), newPeer(false)
	cl.request(1, "/a", "user-agent", "test/1")
	cl.request(3, "/b", "user-agent", "test/1")
	sv.fr.WriteSettingsAck()
	sv.headers(1, false, ":status", "200", "content-type", "text/plain")
	sv.fr.WriteDataPadded(1, false, []byte("hello "), make([]byte, 7))
	sv.fr.WriteData(1, true, []byte("world"))
	sv.fr.WriteWindowUpdate(0, 1000)
	sv.headers(3, false, ":status", "404")
	sv.fr.WriteData(3, false, []byte("no"))
	sv.headers(3, true, "x-trailer", "t")
	return cl, sv
}

func TestIncrementalDelivery(t *testing.T) {
	var want string
	for _, step := range []int{1 << 20, 1, 2, 7, 9, 10} {
		cl, sv := conversation()
		h := newHarness(t, Limits{})
		h.feed(0, cl.buf.Bytes(), step)
		h.feed(1, sv.buf.Bytes(), step)
		got := summary(h.streams)
		if want == "" {
			want = got
			if want != "GET /a 200 11;GET /b 404 2;" {
				t.Fatalf("whole delivery: %s", want)
			}
		}
		if got != want || h.c.Dead() {
			t.Errorf("step %d: %s (dead %v), want %s", step, got, h.c.Dead(), want)
		}
	}
}

func TestHeaderListOverflowKeepsHPACKInStep(t *testing.T) {
	cl, sv := newPeer(true), newPeer(false)
	big := strings.Repeat("v", 70<<10)
	// Incremental indexing: the big field enters the client's table.
	cl.request(1, "/big", "x-big", big)
	cl.request(3, "/after", "user-agent", "test/1")
	sv.headers(1, true, ":status", "200")
	sv.headers(3, true, ":status", "200")
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.feed(1, sv.buf.Bytes(), 1<<20)
	if h.stats.HeaderListOverflows.Load() != 1 || h.c.Dead() {
		t.Fatalf("overflows %d, dead %v", h.stats.HeaderListOverflows.Load(), h.c.Dead())
	}
	if len(h.streams) != 2 || h.streams[0].Req.HasHeaders && len(h.streams[0].Req.Fields) != 0 ||
		len(h.streams[0].Notes) != 1 || h.streams[1].Path != "/after" || h.streams[1].Status != 200 {
		t.Fatalf("streams: %s notes %v", summary(h.streams), h.streams[0].Notes)
	}
}

func TestEndlessContinuation(t *testing.T) {
	cl := newPeer(true)
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(":method", "GET"), EndHeaders: false})
	frag := make([]byte, 16<<10)
	for range 100 { // 1.6 MB of CONTINUATION, never END_HEADERS
		cl.fr.WriteContinuation(1, false, frag)
	}
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<16)
	if !h.c.Dead() || h.stats.BoundDrops.Load() != 1 {
		t.Fatalf("dead %v, bound drops %d", h.c.Dead(), h.stats.BoundDrops.Load())
	}
	// The open stream is published with the reason.
	if len(h.streams) != 1 || !strings.Contains(strings.Join(h.streams[0].Notes, ";"), "header block exceeds") {
		t.Fatalf("streams %d notes %v", len(h.streams), h.streams)
	}
}

func TestConcurrentStreamBound(t *testing.T) {
	cl := newPeer(true)
	for id := uint32(1); id < 2*12; id += 2 {
		cl.headers(id, false, ":method", "POST", ":path", "/up")
	}
	h := newHarness(t, Limits{MaxConcurrentStreams: 10})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	if !h.c.Dead() || h.stats.BoundDrops.Load() != 1 || len(h.streams) != 10 {
		t.Fatalf("dead %v, bound drops %d, streams %d", h.c.Dead(), h.stats.BoundDrops.Load(), len(h.streams))
	}
}

func TestHeldHeaderBound(t *testing.T) {
	// Streams that stay open with big (but allowed) header lists: the
	// connection's total is bounded, and closing streams frees it.
	cl := newPeer(true)
	v := strings.Repeat("h", 50<<10)
	for id := uint32(1); id < 2*30; id += 2 {
		cl.headers(id, false, ":method", "POST", ":path", "/up", "x-big", v+itoa(int(id)))
	}
	h := newHarness(t, Limits{MaxHeldHeaders: 1 << 20})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	// 20 lists of 51 kB fit in 1 MiB; the 21st stream passes the bound.
	if !h.c.Dead() || h.stats.BoundDrops.Load() != 1 || len(h.streams) != 21 || h.c.held != 0 {
		t.Fatalf("dead %v, bound drops %d, streams %d, held %d", h.c.Dead(), h.stats.BoundDrops.Load(), len(h.streams), h.c.held)
	}
	cl, sv := newPeer(true), newPeer(false)
	h = newHarness(t, Limits{MaxHeldHeaders: 1 << 20})
	for i := range 30 { // one exchange at a time: never more than one held
		cl.buf.Reset()
		sv.buf.Reset()
		id := uint32(2*i + 1)
		if i == 0 {
			cl.buf.WriteString(Preface)
		}
		cl.request(id+100, "/x", "x-big", v+itoa(i))
		sv.headers(id+100, true, ":status", "200")
		h.feed(0, cl.buf.Bytes(), 1<<20)
		h.feed(1, sv.buf.Bytes(), 1<<20)
	}
	if h.c.Dead() || len(h.streams) != 30 || h.c.held != 0 {
		t.Fatalf("sequential: dead %v (%s), streams %d, held %d", h.c.Dead(), h.c.deadNote, len(h.streams), h.c.held)
	}
}

func TestResetStorm(t *testing.T) {
	cl := newPeer(true)
	for id := uint32(1); id < 2*50; id += 2 {
		cl.request(id, "/x")
		cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	h := newHarness(t, Limits{MaxResets: 20})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	if !h.c.Dead() || h.stats.BoundDrops.Load() != 1 || len(h.streams) != 21 || h.stats.Resets.Load() != 21 {
		t.Fatalf("dead %v, bound drops %d, streams %d, resets %d", h.c.Dead(), h.stats.BoundDrops.Load(), len(h.streams), h.stats.Resets.Load())
	}
	if s := h.streams[0]; !s.Reset || ErrorCodeName(s.ResetCode) != "CANCEL" || s.ResetBy != 0 {
		t.Fatalf("first stream: %+v", s)
	}

	// The same resets among more completed calls, or spread over time,
	// are a busy connection that cancels some calls: not a storm.
	cl, sv := newPeer(true), newPeer(false)
	h = newHarness(t, Limits{MaxResets: 20})
	for id := uint32(1); id < 2*150; id += 2 {
		cl.buf.Reset()
		sv.buf.Reset()
		if id == 1 {
			cl.buf.WriteString(Preface)
		}
		cl.request(id, "/x")
		if id%6 == 1 {
			cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		} else {
			sv.headers(id, true, ":status", "200")
		}
		h.feed(0, cl.buf.Bytes(), 1<<20)
		h.feed(1, sv.buf.Bytes(), 1<<20)
	}
	if h.c.Dead() || len(h.streams) != 150 || h.stats.Resets.Load() != 50 {
		t.Fatalf("mixed: dead %v (%s), streams %d, resets %d", h.c.Dead(), h.c.deadNote, len(h.streams), h.stats.Resets.Load())
	}
	cl = newPeer(true)
	h = newHarness(t, Limits{MaxResets: 20})
	for id := uint32(1); id < 2*50; id += 2 {
		cl.buf.Reset()
		if id == 1 {
			cl.buf.WriteString(Preface)
		}
		cl.request(id, "/x")
		cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		h.feed(0, cl.buf.Bytes(), 1<<20)
		h.ts = h.ts.Add(time.Second) // 10 resets per ResetWindow
	}
	if h.c.Dead() || len(h.streams) != 50 {
		t.Fatalf("spread: dead %v (%s), streams %d", h.c.Dead(), h.c.deadNote, len(h.streams))
	}
}

func TestStreamIDs(t *testing.T) {
	cl := newPeer(true)
	cl.request(5, "/a")
	cl.request(3, "/lower") // a closed/idle lower ID: ignored, not an error
	cl.request(4, "/even")  // clients never open even streams
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	if !h.c.Dead() || h.stats.ProtocolErrors.Load() != 1 || summary(h.streams) != "GET /a 0 0;" {
		t.Fatalf("dead %v, errors %d, streams %s", h.c.Dead(), h.stats.ProtocolErrors.Load(), summary(h.streams))
	}
}

func TestHPACKTableAttacks(t *testing.T) {
	// A table size update beyond what the peer allowed (4096 by default).
	cl := newPeer(true)
	cl.enc.SetMaxDynamicTableSizeLimit(1 << 20)
	cl.enc.SetMaxDynamicTableSize(1 << 20)
	cl.request(1, "/a")
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	if !h.c.Dead() || h.stats.ProtocolErrors.Load() != 1 {
		t.Fatalf("oversized table: dead %v, errors %d", h.c.Dead(), h.stats.ProtocolErrors.Load())
	}

	// A bomb: one 4000-byte entry, then a block of 10000 one-byte
	// references to it (40 MB decoded from 10 kB). The list overflows,
	// is counted, and is not held; the connection goes on.
	cl, sv0 := newPeer(true), newPeer(false)
	cl.request(1, "/seed", "x-bomb", strings.Repeat("b", 4000))
	sv0.headers(1, true, ":status", "200")
	bomb := append([]byte{0x82, 0x86, 0x84}, bytes.Repeat([]byte{0xbe}, 10000)...) // :method GET, :scheme http, :path /, then dynamic index 62
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: bomb, EndStream: true, EndHeaders: true})
	sv0.headers(3, true, ":status", "200")
	h = newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.feed(1, sv0.buf.Bytes(), 1<<20)
	if h.c.Dead() || h.stats.HeaderListOverflows.Load() != 1 || len(h.streams) != 2 || len(h.streams[1].Req.Fields) != 0 || h.streams[1].Status != 200 {
		t.Fatalf("bomb: dead %v (%s), overflows %d, streams %d", h.c.Dead(), h.c.deadNote, h.stats.HeaderListOverflows.Load(), len(h.streams))
	}

	// Churn: every request inserts new fields, evicting older ones. The
	// table stays within its size and every list still decodes right.
	cl, sv := newPeer(true), newPeer(false)
	for i := range 300 {
		id := uint32(2*i + 1)
		cl.request(id, "/churn", "x-churn-"+itoa(i+1), strings.Repeat("c", 200+i))
		sv.headers(id, true, ":status", "204")
	}
	h = newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.feed(1, sv.buf.Bytes(), 1<<20)
	if h.c.Dead() || len(h.streams) != 300 {
		t.Fatalf("churn: dead %v (%s), streams %d", h.c.Dead(), h.c.deadNote, len(h.streams))
	}
	last := h.streams[299]
	if f := last.Req.Fields[len(last.Req.Fields)-1]; f.Name != "x-churn-300" || len(f.Value) != 499 {
		t.Fatalf("last field %s=%d bytes", f.Name, len(f.Value))
	}
	for i := range 2 {
		if s := h.c.dirs[i].dec; s == nil {
			t.Fatal("no decoder")
		}
	}
}

func TestBadPaddingAndFrames(t *testing.T) {
	for name, write := range map[string]func(p *peer){
		"data pad past the end": func(p *peer) {
			p.fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, []byte{200, 'x'})
		},
		"headers pad past the end": func(p *peer) {
			p.fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersEndHeaders, 1, []byte{9, 0x82})
		},
		"ping of 7 bytes":    func(p *peer) { p.fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7)) },
		"stray continuation": func(p *peer) { p.fr.WriteContinuation(1, true, nil) },
		"bad preface":        func(p *peer) { p.buf.Reset(); p.buf.WriteString("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") },
	} {
		cl := newPeer(true)
		cl.request(1, "/a")
		write(cl)
		h := newHarness(t, Limits{})
		h.feed(0, cl.buf.Bytes(), 1<<20)
		if !h.c.Dead() || h.stats.ProtocolErrors.Load() != 1 {
			t.Errorf("%s: dead %v, protocol errors %d", name, h.c.Dead(), h.stats.ProtocolErrors.Load())
		}
	}
	// A non-DATA frame past MaxFrame is not buffered.
	cl := newPeer(true)
	cl.fr.WriteRawFrame(http2.FrameType(0xfa), 0, 0, make([]byte, 70<<10))
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	if !h.c.Dead() || h.stats.BoundDrops.Load() != 1 {
		t.Errorf("big frame: dead %v, bound drops %d", h.c.Dead(), h.stats.BoundDrops.Load())
	}
}

func TestGapAndGoAway(t *testing.T) {
	cl, sv := newPeer(true), newPeer(false)
	cl.request(1, "/done")
	cl.request(3, "/refused")
	sv.headers(1, true, ":status", "200")
	sv.fr.WriteGoAway(1, http2.ErrCodeEnhanceYourCalm, []byte("calm"))
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.feed(1, sv.buf.Bytes(), 1<<20)
	if len(h.streams) != 2 || !h.streams[1].GoAway || ErrorCodeName(h.streams[1].GoAwayCode) != "ENHANCE_YOUR_CALM" ||
		h.streams[1].Path != "/refused" || h.stats.GoAways.Load() != 1 {
		t.Fatalf("goaway: %s %+v", summary(h.streams), h.streams)
	}

	cl = newPeer(true)
	cl.headers(1, false, ":method", "POST", ":path", "/up")
	h = newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.c.Gap(0, 100, h.ts)
	h.c.Parse(1, []byte("anything after the gap is skipped"), h.ts)
	if !h.c.Dead() || h.stats.GapDrops.Load() != 1 || len(h.streams) != 1 || h.streams[0].Notes[0] != "Packet loss: HTTP/2 decoding stopped" {
		t.Fatalf("gap: dead %v, drops %d, streams %+v", h.c.Dead(), h.stats.GapDrops.Load(), h.streams)
	}
}

func TestGRPCFraming(t *testing.T) {
	var g grpcReader
	msg := func(compressed bool, n int) []byte {
		b := []byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		if compressed {
			b[0] = 1
		}
		return append(b, make([]byte, n)...)
	}
	all := append(append(append(msg(false, 3), msg(true, 70000)...), msg(false, 0)...), msg(true, 1)...)
	for i := 0; i < len(all); i += 3 { // prefixes split across DATA frames
		g.feed(all[i:min(i+3, len(all))])
	}
	if g.messages != 4 || g.compressed != 2 || g.partial() {
		t.Fatalf("messages %d compressed %d partial %v", g.messages, g.compressed, g.partial())
	}
	g.feed([]byte{0, 0})
	if !g.partial() {
		t.Fatal("a cut prefix is partial")
	}
}

func TestExpire(t *testing.T) {
	cl, sv := newPeer(true), newPeer(false)
	cl.request(1, "/waits")
	cl.request(3, "/answered")
	sv.headers(3, true, ":status", "200")
	h := newHarness(t, Limits{})
	h.feed(0, cl.buf.Bytes(), 1<<20)
	h.feed(1, sv.buf.Bytes(), 1<<20)
	h.c.Expire(h.ts.Add(5*time.Second), 10*time.Second)
	if len(h.streams) != 1 {
		t.Fatalf("before the timeout: %s", summary(h.streams))
	}
	h.c.Expire(h.ts.Add(11*time.Second), 10*time.Second)
	if summary(h.streams) != "GET /answered 200 0;GET /waits 0 0;" || h.streams[1].Notes[0] != "HTTP/2 stream timed out" || h.c.open != 0 {
		t.Fatalf("after: %s %v", summary(h.streams), h.streams[1].Notes)
	}
}

func TestGRPCTimeout(t *testing.T) {
	for v, want := range map[string]time.Duration{"699984u": 699984 * time.Microsecond, "1H": time.Hour,
		"20S": 20 * time.Second, "5m": 5 * time.Millisecond, "": 0, "123456789S": 0, "5x": 0, "-1S": 0, "S": 0} {
		if got := grpcTimeout(v); got != want {
			t.Errorf("grpcTimeout(%q) = %v, want %v", v, got, want)
		}
	}
}
