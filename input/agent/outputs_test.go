package agent

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/proto"
	lumberlog "github.com/elastic/go-lumber/log"
	lumberserver "github.com/elastic/go-lumber/server/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

type quietLumber struct{}

func (quietLumber) Printf(string, ...any) {}
func (quietLumber) Println(...any)        {}
func (quietLumber) Print(...any)          {}

// lumberjack is go-lumber's server acknowledging everything; it keeps the
// "tag" of each event.
type lumberjack struct {
	addr string
	mu   sync.Mutex
	tags []string
}

func startLumberjack(t *testing.T) *lumberjack {
	lumberlog.Logger = quietLumber{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lumberserver.NewWithListener(ln)
	if err != nil {
		t.Fatal(err)
	}
	l := &lumberjack{addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range srv.ReceiveChan() {
			l.mu.Lock()
			for _, e := range b.Events {
				tag, _ := e.(map[string]any)["tag"].(string)
				l.tags = append(l.tags, tag)
			}
			l.mu.Unlock()
			b.ACK()
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return l
}

func (l *lumberjack) count(tag string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, t := range l.tags {
		if t == tag {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogstashAndRedisOutputUnits: the output unit switches between a
// lumberjack server and a real redis-server while the capture keeps running;
// an unknown setting fails the unit naming it, a server that is down
// degrades it with the connection error.
func TestLogstashAndRedisOutputUnits(t *testing.T) {
	ls := startLumberjack(t)
	raddr := outtest.StartRedis(t, 0)
	rc := goredis.NewClient(&goredis.Options{Addr: raddr, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	ctx := context.Background()

	h := startHarness(t, nil)
	a := h.agent
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "logstash", "hosts": []any{ls.addr}}, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	waitUntil(t, "the start event at Logstash", func() bool { return ls.count("start") == 1 })

	// To Redis, keyed by a field of the event (the test worker's
	// documents have "type": the stream type).
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{
		"type": "redis", "hosts": []any{raddr}, "key": "nt-%{[type]}",
	}, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	w := h.factory.get("nt-1")
	w.emit("on-redis")
	waitUntil(t, "the event in Redis", func() bool {
		l, _ := rc.LRange(ctx, "nt-nttest", 0, -1).Result()
		return len(l) == 1 && strings.Contains(l[0], `"tag":"on-redis"`)
	})
	if ls.count("on-redis") != 0 {
		t.Error("event went to the old output")
	}

	// Unknown setting: FAILED, naming it.
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "redis", "hosts": []any{raddr}, "sentinel_master": "x"}, proto.UnitLogLevel_INFO)
	o := a.waitUnit("packet-default", proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "sentinel_master") {
		t.Errorf("message %q", o.Message)
	}

	// A Logstash that is down: DEGRADED with the connection error; events
	// wait in the queue and go out once a working output is set.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := ln.Addr().String()
	ln.Close()
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "logstash", "hosts": []any{down},
		"backoff": map[string]any{"init": "50ms", "max": "100ms"}}, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	w.emit("while-down")
	o = a.waitUnit("packet-default", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "connect to "+down) {
		t.Errorf("message %q", o.Message)
	}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "logstash", "hosts": []any{ls.addr}}, proto.UnitLogLevel_INFO)
	waitUntil(t, "the queued event at Logstash", func() bool { return ls.count("while-down") == 1 })
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	if w.runs.Load() != 1 || h.factory.created.Load() != 1 {
		t.Errorf("capture restarted: runs %d, created %d", w.runs.Load(), h.factory.created.Load())
	}
}
