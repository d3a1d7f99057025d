package elasticsearch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeNode is one node of a fake cluster: its own listener in front of a
// shared fakeES (the cluster's documents), killable and restartable on the
// same port.
type fakeNode struct {
	es    *fakeES
	addr  string
	bulks atomic.Int64 // _bulk requests this node answered or received
	mu    sync.Mutex
	srv   *http.Server
	// status, when set, is answered to every _bulk instead of indexing.
	status atomic.Int32
}

func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_bulk" {
		n.bulks.Add(1)
		if st := n.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
	}
	n.es.ServeHTTP(w, r)
}

func startNode(t *testing.T, es *fakeES) *fakeNode {
	n := &fakeNode{es: es}
	n.start(t, "127.0.0.1:0")
	t.Cleanup(n.kill)
	return n
}

func (n *fakeNode) start(t *testing.T, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: n}
	n.mu.Lock()
	n.addr, n.srv = ln.Addr().String(), srv
	n.mu.Unlock()
	go srv.Serve(ln)
}

// kill closes the listener and every open connection (in-flight replies are
// lost).
func (n *fakeNode) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		n.srv.Close()
		n.srv = nil
	}
}

func clusterOutput(t *testing.T, nodes []*fakeNode, m map[string]any) *Output {
	t.Helper()
	var hosts []any
	for _, n := range nodes {
		hosts = append(hosts, "http://"+n.addr)
	}
	m["hosts"] = hosts
	o := newTestOutput(t, m)
	o.hostBackoffInit, o.hostBackoffMax = 20*time.Millisecond, 100*time.Millisecond
	return o
}

func TestRoundRobinOverHosts(t *testing.T) {
	es := newFakeES()
	nodes := []*fakeNode{startNode(t, es), startNode(t, es), startNode(t, es)}
	o := clusterOutput(t, nodes, map[string]any{"bulk_max_size": 10})
	for i := 0; i < 300; i += 10 {
		if err := o.Publish(context.Background(), docs(i, 10, "logs-a-default")); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, es.seqs(t), 300)
	for i, n := range nodes {
		if got := n.bulks.Load(); got != 10 {
			t.Errorf("node %d got %d of 30 bulk requests, want 10 (round robin)", i, got)
		}
	}
}

// A node killed mid-stream (with a reply lost as it dies) is skipped, the
// others take its share at once, and once it is back it is used again.
// Every document is stored exactly once by _id.
func TestFailoverNodeKillExactlyOnce(t *testing.T) {
	es := newFakeES()
	nodes := []*fakeNode{startNode(t, es), startNode(t, es), startNode(t, es)}
	o := clusterOutput(t, nodes, map[string]any{"bulk_max_size": 7, "worker": 1})
	// A whole-cluster backoff of 10 s: if failover waited it out, the
	// test would take far longer than its deadline below.
	o.cfg.BackoffInit, o.cfg.BackoffMax = 10*time.Second, 10*time.Second
	const total, per = 1500, 21
	var sent atomic.Int64
	var pubErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += per {
			n := min(per, total-i)
			if err := o.Publish(context.Background(), docs(i, n, "logs-network_traffic.flow-default")); err != nil {
				pubErr = err
				return
			}
			sent.Add(int64(n))
			time.Sleep(time.Millisecond)
		}
	}()
	for es.count() < 300 {
		time.Sleep(time.Millisecond)
	}
	es.mu.Lock()
	es.dropReplies = 1 // the next request is indexed, its reply lost
	es.mu.Unlock()
	victim := nodes[1]
	addr := victim.addr
	victim.kill()
	atKill := victim.bulks.Load()
	a0, a2 := nodes[0].bulks.Load(), nodes[2].bulks.Load()
	killedAt := es.count()
	// While it is down the others carry on.
	for es.count() < killedAt+300 {
		select {
		case <-done:
			t.Fatalf("publishing ended early: %v", pubErr)
		case <-time.After(time.Millisecond):
		}
	}
	if d := victim.bulks.Load() - atKill; d != 0 {
		t.Fatalf("dead node received %d requests", d)
	}
	// Its share is spread over both survivors, not handed to one.
	d0, d2 := nodes[0].bulks.Load()-a0, nodes[2].bulks.Load()-a2
	if d0*3 < d2 || d2*3 < d0 {
		t.Fatalf("while node 1 was down: node 0 got %d requests, node 2 got %d", d0, d2)
	}
	victim.start(t, addr)
	deadline := time.Now().Add(5 * time.Second)
	for victim.bulks.Load() == atKill {
		if time.Now().After(deadline) {
			t.Fatal("restarted node never used again")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing did not finish")
	}
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	checkExactlyOnce(t, es.seqs(t), total)
	if s := o.Stats(); s.Published != total || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
	if o.dupes.Load() == 0 {
		t.Fatal("the lost reply was not resent (no 409 seen)")
	}
	for i, n := range nodes {
		if n.bulks.Load() == 0 {
			t.Errorf("node %d unused", i)
		}
	}
}

// 502/503/504 from one node (a proxy in front of a dead node, a node leaving
// the cluster) fail over at once too; 429 does not (cluster back-pressure).
func TestFailoverOnUnavailableStatus(t *testing.T) {
	es := newFakeES()
	nodes := []*fakeNode{startNode(t, es), startNode(t, es)}
	nodes[0].status.Store(503)
	o := clusterOutput(t, nodes, map[string]any{"bulk_max_size": 5})
	o.cfg.BackoffInit, o.cfg.BackoffMax = 10*time.Second, 10*time.Second
	start := time.Now()
	for i := 0; i < 50; i += 5 {
		if err := o.Publish(context.Background(), docs(i, 5, "logs-a-default")); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v: waited a backoff instead of failing over", el)
	}
	checkExactlyOnce(t, es.seqs(t), 50)
	// The 503 node is asked again only after its host backoff, not on
	// every request.
	if got := nodes[0].bulks.Load(); got == 0 || got > 6 {
		t.Fatalf("503 node got %d requests", got)
	}
}

// With every node down, a probe of any host ends the wait: the first node
// back gets the data long before the 10 s backoff.
func TestAllDownProbeAnyHost(t *testing.T) {
	es := newFakeES()
	nodes := []*fakeNode{startNode(t, es), startNode(t, es), startNode(t, es)}
	o := clusterOutput(t, nodes, map[string]any{})
	o.cfg.BackoffInit, o.cfg.BackoffMax = 10*time.Second, 10*time.Second
	addr := nodes[2].addr
	for _, n := range nodes {
		n.kill()
	}
	done := make(chan error, 1)
	go func() { done <- o.Publish(context.Background(), docs(0, 20, "logs-a-default")) }()
	time.Sleep(300 * time.Millisecond)
	nodes[2].start(t, addr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after a node came back")
	}
	checkExactlyOnce(t, es.seqs(t), 20)
	if nodes[2].bulks.Load() == 0 {
		t.Fatal("the node that came back was not used")
	}
}

func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		preset        string
		bulk, worker  int
		events, minEv int
		flush, idle   time.Duration
	}{
		{"", 1600, 1, 3200, 1600, 10 * time.Second, 3 * time.Second},
		{"balanced", 1600, 1, 3200, 1600, 10 * time.Second, 3 * time.Second},
		{"throughput", 1600, 4, 12800, 1600, 5 * time.Second, 15 * time.Second},
		{"scale", 1600, 1, 3200, 1600, 20 * time.Second, time.Second},
		{"latency", 50, 1, 4100, 2050, time.Second, 60 * time.Second},
	} {
		m := map[string]any{"hosts": "h"}
		if tc.preset != "" {
			m["preset"] = tc.preset
		}
		c, err := ParseConfig(m)
		if err != nil {
			t.Fatalf("%q: %v", tc.preset, err)
		}
		if c.BulkMaxSize != tc.bulk || c.Workers != tc.worker || c.CompressionLevel != 1 ||
			c.Queue != (QueueSettings{tc.events, tc.minEv, tc.flush}) || c.IdleConnTimeout != tc.idle {
			t.Errorf("preset %q: %+v", tc.preset, c)
		}
	}
	// custom: explicit settings, flat or nested.
	c, err := ParseConfig(map[string]any{"hosts": "h", "preset": "custom", "bulk_max_size": 4096, "worker": 8,
		"queue.mem.events": 65536, "queue": map[string]any{"mem": map[string]any{"flush": map[string]any{"timeout": "5s"}}},
		"idle_connection_timeout": "15s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.BulkMaxSize != 4096 || c.Workers != 8 || c.Queue.Events != 65536 || c.Queue.FlushMinEvents != 1600 ||
		c.Queue.FlushTimeout != 5*time.Second || c.IdleConnTimeout != 15*time.Second {
		t.Fatalf("custom: %+v", c)
	}
	for _, tc := range []struct {
		m    map[string]any
		want string
	}{
		{map[string]any{"preset": "throughput", "bulk_max_size": 100}, `bulk_max_size: set by preset "throughput"`},
		{map[string]any{"preset": "latency", "worker": 2}, `worker: set by preset "latency"`},
		{map[string]any{"preset": "balanced", "queue": map[string]any{"mem": map[string]any{"events": 10}}}, `queue.mem.events: set by preset "balanced"`},
		{map[string]any{"preset": "scale", "queue.mem": map[string]any{"flush.timeout": "1s"}}, `queue.mem.flush.timeout: set by preset "scale"`},
		{map[string]any{"preset": "fast"}, "preset: fast"},
		{map[string]any{"service_token": "t", "api_key": "a:b"}, "service_token"},
	} {
		tc.m["hosts"] = "h"
		_, err := ParseConfig(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.m, err, tc.want)
		}
	}
}

// The latency preset sends 50-document bulks, throughput four requests at
// once per host.
func TestPresetApplied(t *testing.T) {
	es := newFakeES()
	n := startNode(t, es)
	o := clusterOutput(t, []*fakeNode{n}, map[string]any{"preset": "latency"})
	if err := o.Publish(context.Background(), docs(0, 500, "logs-a-default")); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, es.seqs(t), 500)
	if got := n.bulks.Load(); got != 10 {
		t.Fatalf("latency preset: %d bulk requests for 500 documents, want 10", got)
	}

	var inFlight, peak atomic.Int32
	gate := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		if cur == 4 {
			close(gate)
		}
		select {
		case <-gate:
		case <-time.After(2 * time.Second):
		}
		inFlight.Add(-1)
		es.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: slow}
	go srv.Serve(ln)
	defer srv.Close()
	o2 := newTestOutput(t, map[string]any{"hosts": "http://" + ln.Addr().String(), "preset": "throughput"})
	if err := o2.Publish(context.Background(), docs(500, 6400, "logs-a-default")); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != 4 {
		t.Fatalf("throughput preset: %d requests at once, want 4", p)
	}
	checkExactlyOnce(t, es.seqs(t), 6900)
}

// Fleet's remote Elasticsearch output authenticates with a service token.
func TestServiceToken(t *testing.T) {
	es := newFakeES()
	n := startNode(t, es)
	o := clusterOutput(t, []*fakeNode{n}, map[string]any{"service_token": "AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2Vu"})
	if err := o.Publish(context.Background(), docs(0, 3, "logs-a-default")); err != nil {
		t.Fatal(err)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if len(es.auth) != 1 || es.auth[0] != "Bearer AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2Vu" {
		t.Fatalf("Authorization %q", es.auth)
	}
}

// QueueSection turns a non-custom preset into its queue.mem section and
// refuses any queue section beside one; custom, no preset and other outputs
// keep the section written.
func TestQueueSection(t *testing.T) {
	got, err := QueueSection(map[string]any{"type": "elasticsearch", "preset": "throughput"}, nil)
	want := map[string]any{"mem": map[string]any{"events": 12800, "flush.min_events": 1600, "flush.timeout": "5s"}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("throughput: %v, %v", got, err)
	}
	own := map[string]any{"disk": map[string]any{"path": "/q"}}
	for _, cfg := range []map[string]any{
		{"type": "elasticsearch", "preset": "custom"},
		{"type": "elasticsearch"},
		{"type": "kafka", "preset": "balanced"},
	} {
		if got, err := QueueSection(cfg, own); err != nil || fmt.Sprint(got) != fmt.Sprint(own) {
			t.Errorf("%v: %v, %v", cfg, got, err)
		}
	}
	_, err = QueueSection(map[string]any{"type": "elasticsearch", "preset": "scale"}, own)
	if err == nil || !strings.Contains(err.Error(), `queue.disk: set beside preset "scale"`) {
		t.Fatalf("queue.disk beside scale: %v", err)
	}
	if _, err := ParseConfig(map[string]any{"hosts": "h", "preset": "balanced", "queue": own}); err == nil || !strings.Contains(err.Error(), "queue.disk") {
		t.Fatalf("ParseConfig with queue.disk beside balanced: %v", err)
	}
}
