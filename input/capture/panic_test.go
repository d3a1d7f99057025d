package capture

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/internal/pcapcraft"
)

// panicky is a protocol registered for these tests only: its parsers
// publish one event per "ok" and panic on "BOOM", as a buggy parser would
// on hostile input.
type panicky struct{ pub protocol.Publisher }

type panickyConn struct {
	p    *panicky
	conn protocol.Conn
}

func (p *panicky) NewConn(c *protocol.Conn) protocol.TCPParser { return &panickyConn{p: p, conn: *c} }

func (c *panickyConn) Parse(_ protocol.Dir, data []byte, ts time.Time) int {
	c.p.handle(&c.conn, data, ts)
	return len(data)
}
func (c *panickyConn) Gap(protocol.Dir, int, time.Time) {}
func (c *panickyConn) Fin(protocol.Dir, time.Time)      {}
func (c *panickyConn) Expire(time.Time)                 {}
func (c *panickyConn) Close(time.Time)                  {}

func (p *panicky) Datagram(c *protocol.Conn, _ protocol.Dir, payload []byte, ts time.Time) {
	p.handle(c, payload, ts)
}
func (p *panicky) Expire(time.Time) {}
func (p *panicky) Flush()           {}

func (p *panicky) handle(c *protocol.Conn, data []byte, ts time.Time) {
	if bytes.Contains(data, []byte("BOOM")) {
		var m map[string]int
		m["boom"]++ // a nil map write: the kind of bug fuzzing finds
	}
	if bytes.Contains(data, []byte("ok")) {
		ev := &panickyEvent{}
		c.FillBase(&ev.Base)
		ev.Type, ev.Start, ev.Status = "panicky", ts, "OK"
		p.pub.Publish(ev)
	}
}

type panickyEvent struct{ ecsmap.Base }

func (e *panickyEvent) EventBase() *ecsmap.Base    { return &e.Base }
func (e *panickyEvent) WriteFields(*ecsmap.Writer) {}

func init() {
	protocol.Register(&protocol.Spec{Name: "panicky", TCP: true, UDP: true, DefaultPorts: []uint16{7777},
		New: func(common protocol.Common, _ protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
			p := &panicky{pub: pub}
			return &protocol.Instance{Name: "panicky", Common: common, TCP: p, UDP: p}, nil
		}})
}

type panicSink struct {
	mu   sync.Mutex
	docs []string
}

func (s *panicSink) Send(d output.Doc) {
	s.mu.Lock()
	s.docs = append(s.docs, string(d.Body))
	s.mu.Unlock()
}

// A parser that panics loses the one connection (or datagram) it was
// decoding: every other connection still yields its events, the panic is
// counted, and the stream turns DEGRADED with a message.
func TestParserPanicTakesOutOnlyItsConnection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "boom.pcap")
	w, err := pcapcraft.Create(p, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	srv := netip.MustParseAddrPort("10.0.0.2:7777")
	var conns []*pcapcraft.Conn
	for i := range 3 {
		c, err := w.Open(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i)), srv, 100, 900)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	conns[0].Send(true, []byte("ok 1"))
	conns[1].Send(true, []byte("BOOM")) // this connection is lost
	conns[2].Send(true, []byte("ok 2"))
	conns[1].Send(true, []byte("ok never")) // quarantined: ignored
	w.UDP(netip.MustParseAddrPort("10.0.0.1:5000"), srv, []byte("BOOM"))
	w.UDP(netip.MustParseAddrPort("10.0.0.1:5001"), srv, []byte("ok udp"))
	conns[0].Send(true, []byte("ok 3"))
	for _, c := range conns {
		c.Close()
	}
	w.Close()

	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "p", "type": "panicky", "interface": map[string]any{"file": p, "top_speed": true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &panicSink{}
	wk, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wk.Run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(sink.docs) != 4 {
		t.Errorf("%d events, want 4 (ok 1, ok 2, ok udp, ok 3):\n%s", len(sink.docs), strings.Join(sink.docs, "\n"))
	}
	st := wk.Stats()
	if st.ParserPanics != 2 || DropsOf(st.Dropped, "decode", "parser_panic") != 2 || st.TCP.Quarantined != 1 {
		t.Errorf("panics %d, tcp quarantined %d, table %+v", st.ParserPanics, st.TCP.Quarantined, st.Dropped)
	}
	if s := wk.StreamStates()["p"]; s.Status != "DEGRADED" || !strings.Contains(s.Error, "panicky parser panicked 2 time(s)") {
		t.Errorf("stream state %+v", s)
	}
}

// A panic outside the parsers ends the capture with a PanicError (the
// process reports it and fails) instead of silently carrying on.
func TestPanicOutsideParsersEndsCapture(t *testing.T) {
	r := &captureRun{cfg: &config.Capture{Interface: config.Interface{File: "x.pcap"}}}
	r.asm = newTCPAssembler(nil, 1)
	r.cur = engine.New(nil)
	done := r.guard(slog.New(slog.DiscardHandler), func() { panic("link decoder bug") })
	if !done || r.fatal.Load() == nil {
		t.Fatal("a panic outside the parsers was not kept as fatal")
	}
	var pe *PanicError
	if err := error(r.fatal.Load()); !errors.As(err, &pe) || !strings.Contains(err.Error(), "link decoder bug") {
		t.Errorf("error %v", err)
	}
}
