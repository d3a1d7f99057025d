package redis

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

type harness struct {
	t   *testing.T
	c   protocol.TCPParser
	p   *Protocol
	col *protocoltest.Collector
}

func newHarness(t *testing.T, opts map[string]any) *harness {
	inst, col := protocoltest.New(t, "redis", opts)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:6379"), IPProtocol: 6}
	p := inst.TCP.(*Protocol)
	return &harness{t: t, c: p.NewConn(&conn), p: p, col: col}
}

func (h *harness) send(dir protocol.Dir, s string, ts time.Time) {
	h.t.Helper()
	if n := h.c.Parse(dir, []byte(s), ts); n != len(s) {
		h.t.Fatalf("consumed %d of %d", n, len(s))
	}
}

// summary lists "query=value" per event (value: return_value, !error, or
// "-" for an unmatched command).
func (h *harness) summary() string {
	var out []string
	for _, d := range h.col.Docs {
		v := "-"
		if r := protocoltest.Get(d, "redis.return_value"); r != nil {
			v = fmt.Sprint(r)
		}
		if e := protocoltest.Get(d, "redis.error"); e != nil {
			v = "!" + fmt.Sprint(e)
		}
		out = append(out, fmt.Sprintf("%v=%s", protocoltest.Get(d, "query"), v))
	}
	return strings.Join(out, " ")
}

func cmd(args ...string) string {
	s := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		s += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	return s
}

func TestQueueBounds(t *testing.T) {
	h := newHarness(t, map[string]any{"queue_max_messages": 2})
	h.send(protocol.FromClient, cmd("GET", "a")+cmd("GET", "b")+cmd("GET", "c")+cmd("GET", "d"), t0)
	h.send(protocol.FromServer, "$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nD\r\n", t0)
	// a and b were evicted; their replies must not pair with c and d.
	if got := h.summary(); got != "GET c=C GET d=D" {
		t.Errorf("got %s", got)
	}
	if h.p.stats.Evicted.Load() != 2 || h.p.stats.SkippedResponses.Load() != 2 {
		t.Errorf("evicted %d skipped %d", h.p.stats.Evicted.Load(), h.p.stats.SkippedResponses.Load())
	}

	h = newHarness(t, map[string]any{"queue_max_bytes": 16})
	h.send(protocol.FromClient, cmd("GET", "aaaa")+cmd("GET", "bbbb")+cmd("GET", "cc"), t0) // 8, 8, 6 bytes of text
	h.send(protocol.FromServer, ":1\r\n:2\r\n:3\r\n", t0)
	if got := h.summary(); got != "GET bbbb=2 GET cc=3" {
		t.Errorf("bytes bound: got %s", got)
	}
}

func TestExpireAndLateReply(t *testing.T) {
	h := newHarness(t, map[string]any{"transaction_timeout": "1s"})
	h.send(protocol.FromClient, cmd("BLPOP", "q", "0"), t0)
	h.c.Expire(t0.Add(2 * time.Second))
	h.send(protocol.FromServer, "*2\r\n$1\r\nq\r\n$1\r\nx\r\n", t0.Add(3*time.Second)) // the late reply
	h.send(protocol.FromClient, cmd("PING"), t0.Add(4*time.Second))
	h.send(protocol.FromServer, "+PONG\r\n", t0.Add(4*time.Second))
	if got := h.summary(); got != "BLPOP q 0=- PING=PONG" {
		t.Errorf("got %s", got)
	}
	expect(t, h.col.Docs[0], map[string]any{"status": "Error", "error.message": "Unmatched request", "event.end": nil, "destination.bytes": nil})
}

func TestClientReply(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, cmd("CLIENT", "REPLY", "OFF")+cmd("SET", "a", "1")+cmd("CLIENT", "REPLY", "ON")+
		cmd("CLIENT", "REPLY", "SKIP")+cmd("SET", "b", "2")+cmd("GET", "a"), t0)
	h.send(protocol.FromServer, "+OK\r\n$1\r\n1\r\n", t0)
	if got := h.summary(); got != "CLIENT REPLY ON=OK GET a=1" {
		t.Errorf("got %s", got)
	}
	if n := h.p.stats.NoReplyRequests.Load(); n != 4 {
		t.Errorf("no-reply commands %d, want 4", n)
	}
}

func TestUnmatchedResponseDropped(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromServer, "+1700000000.1 [0 127.0.0.1:1] \"get\" \"a\"\r\n", t0) // MONITOR output
	h.send(protocol.FromClient, cmd("GET", "a"), t0)
	h.send(protocol.FromServer, "$-1\r\n", t0)
	if got := h.summary(); got != "GET a=nil" || h.p.stats.UnmatchedResponses.Load() != 1 {
		t.Errorf("got %s, unmatched %d", got, h.p.stats.UnmatchedResponses.Load())
	}
}

func TestGaps(t *testing.T) {
	// A gap inside a bulk value of known length: the reply survives.
	h := newHarness(t, map[string]any{"send_response": true})
	h.send(protocol.FromClient, cmd("GET", "big"), t0)
	h.send(protocol.FromServer, "$10000\r\n"+strings.Repeat("x", 1000), t0)
	h.c.Gap(protocol.FromServer, 5000, t0)
	h.send(protocol.FromServer, strings.Repeat("x", 4000)+"\r\n", t0)
	if len(h.col.Docs) != 1 {
		t.Fatalf("%d events", len(h.col.Docs))
	}
	expect(t, h.col.Docs[0], map[string]any{"destination.bytes": 10010, "status": "OK"})
	if v := protocoltest.Get(h.col.Docs[0], "response").(string); len(v) != 5000 {
		t.Errorf("value %d bytes, want the 5000 captured", len(v))
	}

	// A gap in the replies elsewhere: what waits can no longer be paired.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, cmd("GET", "a")+cmd("GET", "b"), t0)
	t1 := t0.Add(time.Millisecond)
	h.c.Gap(protocol.FromServer, 100, t1)
	h.send(protocol.FromClient, cmd("GET", "c"), t1)
	h.send(protocol.FromServer, ":3\r\n", t1.Add(time.Millisecond))
	if got := h.summary(); got != "GET a=- GET b=- GET c=3" {
		t.Errorf("server gap: %s", got)
	}

	// A client-side gap in pipelined commands: how many were lost is
	// unknown, so the replies after those waiting from before the gap
	// pair with nothing, and the command after the gap is published alone.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, cmd("GET", "a")+"*2\r\n$3\r\nGET\r\n", t0)
	h.c.Gap(protocol.FromClient, 7, t0)
	h.send(protocol.FromClient, "lost\r\n"+cmd("GET", "c"), t0) // the command is found after the tail of the cut one
	h.send(protocol.FromServer, ":1\r\n:2\r\n:3\r\n", t0)
	if got := h.summary(); got != "GET c=- GET a=1" {
		t.Errorf("client gap: %s", got)
	}
	if rs := &h.p.stats.Resync; rs.Resynced.Load() != 1 || rs.SkippedBytes.Load() != 6 || rs.UnpairedResps.Load() != 2 {
		t.Errorf("resynced %d skipped %d unpaired replies %d", rs.Resynced.Load(), rs.SkippedBytes.Load(), rs.UnpairedResps.Load())
	}

	// The same without pipelining: the server answers the cut command,
	// then the client sends the next one, which pairs again.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, cmd("GET", "a"), t0)
	h.send(protocol.FromServer, ":1\r\n", t0)
	h.send(protocol.FromClient, "*2\r\n$3\r\nGET\r\n", t0)
	h.c.Gap(protocol.FromClient, 7, t0)
	h.send(protocol.FromServer, ":2\r\n", t0)
	h.send(protocol.FromClient, cmd("GET", "c"), t0)
	h.send(protocol.FromServer, ":3\r\n", t0)
	if got := h.summary(); got != "GET a=1 GET c=3" {
		t.Errorf("client gap, no pipelining: %s", got)
	}
}

func TestGarbageResyncs(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, cmd("GET", "a"), t0)
	h.send(protocol.FromServer, "\x00\x01garbage\r\n", t0) // the whole segment is dropped
	h.send(protocol.FromClient, cmd("GET", "b"), t0)
	h.send(protocol.FromServer, "$1\r\nB\r\n", t0)
	if got := h.summary(); got != "GET a=- GET b=B" || h.p.ParseErrors() != 1 {
		t.Errorf("got %s, parse errors %d", got, h.p.ParseErrors())
	}
	expect(t, h.col.Docs[0], map[string]any{"error.message": "Response lost (gap or unparsable data)"})
}

func TestOptions(t *testing.T) {
	h := newHarness(t, map[string]any{"send_request": true, "send_response": true, "keep_null": true})
	h.send(protocol.FromClient, cmd("SET", "k", "v")+cmd("GET", "k"), t0)
	h.send(protocol.FromServer, "+OK\r\n", t0.Add(time.Millisecond))
	h.c.Close(t0.Add(time.Second))
	expect(t, h.col.Docs[0], map[string]any{"request": "SET k v", "response": "OK", "event.duration": 1000000})
	raw := string(h.col.Raw[1])
	if !strings.Contains(raw, `"return_value":null`) {
		t.Errorf("keep_null: unmatched command lacks a null return_value: %s", raw)
	}
	for _, bad := range []map[string]any{{"queue_max_bytes": 0}, {"queue_max_messages": -1}, {"queue_max_bytes": "x"}, {"queue_max": 1}} {
		spec, _ := protocol.Lookup("redis")
		c, o, err := protocol.SplitCommon(spec, bad)
		if err == nil {
			_, err = spec.New(c, o, protocol.PublisherFunc(nil))
		}
		if err == nil {
			t.Errorf("%v accepted", bad)
		} else {
			t.Logf("%v: %v", bad, err)
		}
	}
	spec, _ := protocol.Lookup("redis")
	if fmt.Sprint(spec.DefaultPorts) != "[6379]" || spec.DefaultTimeout != 10*time.Second {
		t.Errorf("defaults %v %v", spec.DefaultPorts, spec.DefaultTimeout)
	}
}
