package logstash

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-lumber/lj"
	lumberlog "github.com/elastic/go-lumber/log"
	lumberserver "github.com/elastic/go-lumber/server/v2"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/internal/outtest"
)

type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}
func (quiet) Print(...any)          {}

func init() { lumberlog.Logger = quiet{} }

// server is go-lumber's own lumberjack v2 server, with a hook that decides
// per window whether to acknowledge it, after how long, or never.
type server struct {
	srv  *lumberserver.Server
	addr string

	mu      sync.Mutex
	events  []map[string]any
	windows []int
	remotes map[string]int // windows per client connection
	n       int

	// decide is called per window (0-based); nil: acknowledge at once.
	decide func(i int) (ack bool, delay time.Duration)
	done   chan struct{}
	once   sync.Once
}

func newServer(t *testing.T, tc *tls.Config, opts ...lumberserver.Option) *server {
	t.Helper()
	return newServerOn(t, "127.0.0.1:0", tc, opts...)
}

func newServerOn(t *testing.T, listen string, tc *tls.Config, opts ...lumberserver.Option) *server {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if tc != nil {
		// go-lumber applies its TLS option only when it listens itself.
		ln = tls.NewListener(ln, tc)
	}
	srv, err := lumberserver.NewWithListener(ln, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{srv: srv, addr: addr, remotes: map[string]int{}, done: make(chan struct{})}
	go s.run()
	t.Cleanup(s.close)
	return s
}

func (s *server) run() {
	defer close(s.done)
	for b := range s.srv.ReceiveChan() {
		s.mu.Lock()
		i := s.n
		s.n++
		for _, e := range b.Events {
			s.events = append(s.events, e.(map[string]any))
		}
		s.windows = append(s.windows, len(b.Events))
		s.remotes[b.RemoteAddr]++
		decide := s.decide
		s.mu.Unlock()
		ack, delay := true, time.Duration(0)
		if decide != nil {
			ack, delay = decide(i)
		}
		if !ack {
			continue
		}
		if delay > 0 {
			go func(b *lj.Batch) { time.Sleep(delay); b.ACK() }(b)
			continue
		}
		b.ACK()
	}
}

func (s *server) close() {
	s.once.Do(func() { s.srv.Close() })
	<-s.done
}

func (s *server) snapshot() ([]map[string]any, []int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := map[string]int{}
	for k, v := range s.remotes {
		r[k] = v
	}
	return append([]map[string]any(nil), s.events...), append([]int(nil), s.windows...), r
}

func newOutput(t *testing.T, m map[string]any) *Output {
	t.Helper()
	o, err := FromMap(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func samples(t *testing.T) []outtest.Sample {
	t.Helper()
	s, err := outtest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqOf(e map[string]any) int {
	f, _ := e["seq"].(float64)
	return int(f)
}

// checkAll checks that seqs 0..n-1 all arrived, and returns how many extra
// copies there were; a copy must carry the same @metadata._id.
func checkAll(t *testing.T, events []map[string]any, n int) int {
	t.Helper()
	ids := map[int]string{}
	dupes := 0
	for _, e := range events {
		seq := seqOf(e)
		meta, _ := e["@metadata"].(map[string]any)
		id, _ := meta["_id"].(string)
		if id == "" {
			t.Fatalf("seq %d: no @metadata._id", seq)
		}
		if prev, ok := ids[seq]; ok {
			dupes++
			if prev != id {
				t.Fatalf("seq %d resent with another _id (%s, %s)", seq, prev, id)
			}
			continue
		}
		ids[seq] = id
	}
	for i := range n {
		if _, ok := ids[i]; !ok {
			t.Fatalf("seq %d missing (%d distinct of %d)", i, len(ids), n)
		}
	}
	if len(ids) != n {
		t.Fatalf("%d distinct seqs, want %d", len(ids), n)
	}
	return dupes
}

func TestWindowsSlowStartAndFields(t *testing.T) {
	srv := newServer(t, nil)
	o := newOutput(t, map[string]any{
		"hosts": []any{srv.addr}, "bulk_max_size": 7, "slow_start": true, "pipelining": 0,
	})
	ss := samples(t)
	batch := outtest.Docs(ss, 0, 60)
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	events, windows, _ := srv.snapshot()
	// Slow start: 1, 2, 4, then bulk_max_size.
	want := []int{1, 2, 4, 7, 7, 7, 7, 7, 7, 7, 4}
	if fmt.Sprint(windows) != fmt.Sprint(want) {
		t.Errorf("windows %v, want %v", windows, want)
	}
	if d := checkAll(t, events, 60); d != 0 {
		t.Errorf("%d duplicates without any failure", d)
	}
	// In order, and every field as the document had it.
	for i, e := range events {
		if seqOf(e) != i {
			t.Fatalf("event %d has seq %d", i, seqOf(e))
		}
		s := ss[i%len(ss)]
		meta := e["@metadata"].(map[string]any)
		if meta["beat"] != "network-traffic" || meta["raw_index"] != s.Index || meta["type"] != "_doc" {
			t.Errorf("seq %d: @metadata %v", i, meta)
		}
		delete(e, "@metadata")
		delete(e, "seq")
		got, _ := json.Marshal(e)
		exp, _ := json.Marshal(s.Doc)
		if !bytes.Equal(got, exp) {
			t.Fatalf("seq %d (%s): got\n%s\nwant\n%s", i, s.Stream, got, exp)
		}
	}
	st := o.Stats()
	if st.Published != 60 || st.Retries != 0 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
}

func TestFixedWindowAndPipelining(t *testing.T) {
	ss := samples(t)
	for _, pipelining := range []int{0, 2} {
		srv := newServer(t, nil)
		// The first window's acknowledgement comes late; meanwhile the
		// client may have sent pipelining more windows.
		srv.decide = func(i int) (bool, time.Duration) {
			if i == 0 {
				return true, 1500 * time.Millisecond
			}
			return true, 0
		}
		px, err := outtest.NewProxy(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		o := newOutput(t, map[string]any{"hosts": []any{px.Addr}, "bulk_max_size": 10, "pipelining": pipelining, "compression_level": 0})
		done := make(chan error, 1)
		go func() { done <- o.Publish(context.Background(), outtest.Docs(ss, 0, 100)) }()
		// Window frames: "2W" and the count, 10. Wait until the client has
		// sent all it may (or the first acknowledgement is near).
		var early int
		for start := time.Now(); time.Since(start) < 1200*time.Millisecond; time.Sleep(20 * time.Millisecond) {
			early = bytes.Count(px.Head(), []byte("2W\x00\x00\x00\x0a"))
			if early > pipelining && time.Since(start) > 300*time.Millisecond {
				break
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		px.Cut()
		events, windows, _ := srv.snapshot()
		checkAll(t, events, 100)
		if fmt.Sprint(windows) != "[10 10 10 10 10 10 10 10 10 10]" {
			t.Errorf("windows %v", windows)
		}
		if early != pipelining+1 {
			t.Errorf("pipelining %d: %d windows sent before the first acknowledgement, want %d", pipelining, early, pipelining+1)
		}
	}
}

func TestCompressionOnTheWire(t *testing.T) {
	ss := samples(t)
	sizes := map[int]int64{}
	for _, level := range []int{0, 6} {
		srv := newServer(t, nil)
		px, err := outtest.NewProxy(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		o := newOutput(t, map[string]any{"hosts": []any{px.Addr}, "compression_level": level})
		if err := o.Publish(context.Background(), outtest.Docs(ss, 0, 200)); err != nil {
			t.Fatal(err)
		}
		events, _, _ := srv.snapshot()
		checkAll(t, events, 200)
		head := px.Head()
		// Window frame "2W" + count, then "2C" (compressed) or "2J".
		if len(head) < 8 || string(head[:2]) != "2W" {
			t.Fatalf("level %d: wire starts %q", level, head[:min(8, len(head))])
		}
		frame := string(head[6:8])
		if (level > 0) != (frame == "2C") {
			t.Errorf("level %d: first frame %q", level, frame)
		}
		sizes[level] = px.Bytes.Load()
		px.Cut()
	}
	if sizes[6]*3 > sizes[0] {
		t.Errorf("compressed %d bytes vs %d plain: expected at least 3x smaller", sizes[6], sizes[0])
	}
	t.Logf("200 sample events: %d bytes plain, %d at level 6", sizes[0], sizes[6])
}

func TestDelayedAckKeepsConnection(t *testing.T) {
	// Acknowledgements 3 times the client timeout late; the server's
	// keepalives (every 100ms) keep the client waiting, not resending.
	srv := newServer(t, nil, lumberserver.Keepalive(100*time.Millisecond))
	srv.decide = func(int) (bool, time.Duration) { return true, 3 * time.Second }
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "timeout": "1s", "bulk_max_size": 50})
	if err := o.Publish(context.Background(), outtest.Docs(samples(t), 0, 100)); err != nil {
		t.Fatal(err)
	}
	events, _, remotes := srv.snapshot()
	if d := checkAll(t, events, 100); d != 0 {
		t.Errorf("%d resent", d)
	}
	if st := o.Stats(); st.Retries != 0 || len(remotes) != 1 {
		t.Errorf("stats %+v, connections %v", st, remotes)
	}
}

func TestDroppedAckResent(t *testing.T) {
	// No keepalives, and the second window is never acknowledged: the
	// client times out, reconnects and sends that window again.
	srv := newServer(t, nil, lumberserver.Keepalive(0))
	srv.decide = func(i int) (bool, time.Duration) { return i != 1, 0 }
	o := newOutput(t, map[string]any{
		"hosts": []any{srv.addr}, "timeout": "1s", "bulk_max_size": 20, "pipelining": 0,
		"backoff": map[string]any{"init": "10ms", "max": "50ms"},
	})
	if err := o.Publish(context.Background(), outtest.Docs(samples(t), 0, 100)); err != nil {
		t.Fatal(err)
	}
	events, windows, remotes := srv.snapshot()
	if d := checkAll(t, events, 100); d != 20 {
		t.Errorf("%d duplicates, want the 20 of the dropped window (windows %v)", d, windows)
	}
	st := o.Stats()
	if st.Published != 100 || st.Retries != 20 || !strings.Contains(st.LastError, "no acknowledgement") || len(remotes) != 2 {
		t.Errorf("stats %+v, connections %v", st, remotes)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stc, err := certs.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, stc)
	ssl := map[string]any{
		"certificate_authorities": []any{certs.CA},
		"certificate":             certs.ClientCert,
		"key":                     certs.ClientKey,
	}
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "ssl": ssl})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Publish(ctx, outtest.Docs(samples(t), 0, 30)); err != nil {
		t.Fatal(err, o.Stats().LastError)
	}
	events, _, _ := srv.snapshot()
	checkAll(t, events, 30)

	fails := map[string]struct {
		ssl  map[string]any
		want string
	}{
		"no client certificate": {map[string]any{"certificate_authorities": []any{certs.CA}}, "certificate"},
		"unknown CA":            {map[string]any{"certificate": certs.ClientCert, "key": certs.ClientKey}, "certificate signed by unknown authority"},
	}
	for name, tc := range fails {
		// Default backoff (1s): a few attempts, not a flood of handshakes.
		// Publish keeps retrying; wait until the error it reports is the
		// expected one (a loaded machine can add a dial timeout first).
		o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "ssl": tc.ssl, "timeout": "2s"})
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		done := make(chan error, 1)
		go func() { done <- o.Publish(ctx, outtest.Docs(samples(t), 0, 1)) }()
		for !strings.Contains(o.Stats().LastError, tc.want) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		err := <-done
		st := o.Stats()
		if err == nil || st.Published != 0 || !strings.Contains(st.LastError, tc.want) {
			t.Errorf("%s: err %v, stats %+v", name, err, st)
		}
	}
	if n := len(srv.events); n != 30 {
		t.Errorf("server has %d events", n)
	}
}

// TestTLSVerificationModes: the server's certificate names 127.0.0.1 and
// localhost; reached as 127.0.0.2 only `certificate` (chain, no name) and
// `none` accept it.
func TestTLSVerificationModes(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stc, err := certs.ServerTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := newServerOn(t, "127.0.0.2:0", stc)
	for mode, ok := range map[string]bool{"full": false, "strict": false, "certificate": true, "none": true} {
		ssl := map[string]any{"certificate_authorities": []any{certs.CA}, "certificate": certs.ClientCert, "key": certs.ClientKey, "verification_mode": mode}
		o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "ssl": ssl, "timeout": "2s"})
		wait := 1500 * time.Millisecond
		if ok {
			wait = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := o.Publish(ctx, outtest.Docs(samples(t), 0, 1))
		cancel()
		if (err == nil) != ok {
			t.Errorf("mode %s: err %v, want ok=%v (%s)", mode, err, ok, o.Stats().LastError)
		}
		if !ok && !strings.Contains(o.Stats().LastError, "127.0.0.2") {
			t.Errorf("mode %s: last error %q", mode, o.Stats().LastError)
		}
	}
	// certificate mode still checks the chain.
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "timeout": "2s",
		"ssl": map[string]any{"certificate": certs.ClientCert, "key": certs.ClientKey, "verification_mode": "certificate"}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	done := make(chan error, 1)
	go func() { done <- o.Publish(ctx, outtest.Docs(samples(t), 0, 1)) }()
	for !strings.Contains(o.Stats().LastError, "unknown authority") && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil || !strings.Contains(o.Stats().LastError, "unknown authority") {
		t.Errorf("certificate mode with an unknown CA: %v %q", err, o.Stats().LastError)
	}
}

func TestLoadBalanceTwoServers(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	o := newOutput(t, map[string]any{
		"hosts": []any{a.addr, b.addr}, "loadbalance": true, "bulk_max_size": 10,
		"backoff": map[string]any{"init": "20ms", "max": "100ms"},
	})
	ss := samples(t)
	// The servers acknowledge with a small delay so both get work.
	slow := func(int) (bool, time.Duration) { return true, 20 * time.Millisecond }
	a.decide, b.decide = slow, slow
	if err := o.Publish(context.Background(), outtest.Docs(ss, 0, 400)); err != nil {
		t.Fatal(err)
	}
	ea, _, _ := a.snapshot()
	eb, _, _ := b.snapshot()
	if len(ea) < 40 || len(eb) < 40 {
		t.Errorf("unbalanced: %d and %d events", len(ea), len(eb))
	}
	checkAll(t, append(ea, eb...), 400)
	// One server goes away: everything goes to the other.
	b.close()
	if err := o.Publish(context.Background(), outtest.Docs(ss, 400, 200)); err != nil {
		t.Fatal(err)
	}
	ea2, _, _ := a.snapshot()
	eb2, _, _ := b.snapshot()
	checkAll(t, append(ea2, eb2...), 600)
	if len(eb2) != len(eb) {
		t.Errorf("closed server got events")
	}
	t.Logf("balanced %d/%d; after one server closed: %+v", len(ea), len(eb), o.Stats())
}

// TestSmallBatchSpread: a batch below bulk_max_size is cut over both
// hosts' connections rather than sent whole to one.
func TestSmallBatchSpread(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	o := newOutput(t, map[string]any{"hosts": []any{a.addr, b.addr}, "loadbalance": true, "pipelining": 1})
	if err := o.Publish(context.Background(), outtest.Docs(samples(t), 0, 128)); err != nil {
		t.Fatal(err)
	}
	ea, wa, _ := a.snapshot()
	eb, wb, _ := b.snapshot()
	checkAll(t, append(ea, eb...), 128)
	// Half each, one window each.
	if fmt.Sprint(wa, wb) != "[64] [64]" {
		t.Errorf("windows %v and %v", wa, wb)
	}
}

func TestFailoverWithoutLoadBalance(t *testing.T) {
	a, b := newServer(t, nil), newServer(t, nil)
	o := newOutput(t, map[string]any{
		"hosts": []any{a.addr, b.addr}, "bulk_max_size": 10,
		"backoff": map[string]any{"init": "20ms", "max": "100ms"},
	})
	ss := samples(t)
	if err := o.Publish(context.Background(), outtest.Docs(ss, 0, 100)); err != nil {
		t.Fatal(err)
	}
	ea, _, _ := a.snapshot()
	eb, _, _ := b.snapshot()
	if len(ea) != 0 && len(eb) != 0 {
		t.Fatalf("without loadbalance one host gets everything: %d and %d", len(ea), len(eb))
	}
	first, second := a, b
	if len(eb) > 0 {
		first, second = b, a
	}
	first.close()
	if err := o.Publish(context.Background(), outtest.Docs(ss, 100, 100)); err != nil {
		t.Fatal(err)
	}
	e2, _, _ := second.snapshot()
	if len(e2) != 100 {
		t.Errorf("failover host got %d events", len(e2))
	}
}

func TestTTLReconnects(t *testing.T) {
	srv := newServer(t, nil)
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "ttl": "100ms", "bulk_max_size": 5, "pipelining": 0})
	ss := samples(t)
	for i := range 4 {
		if err := o.Publish(context.Background(), outtest.Docs(ss, i*10, 10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
	}
	events, _, remotes := srv.snapshot()
	checkAll(t, events, 40)
	// At least one per batch; more if a batch itself took longer than ttl
	// on a loaded machine.
	if len(remotes) < 4 {
		t.Errorf("%d connections with ttl 100ms over 4 spaced batches, want 4 or more: %v", len(remotes), remotes)
	}
}

// TestIdleConnectionReplaced: a connection unused for longer than the idle
// limit (45s; 200ms here) is replaced before the next window instead of
// being written into after Logstash closed it.
func TestIdleConnectionReplaced(t *testing.T) {
	srv := newServer(t, nil)
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}})
	o.idle = 200 * time.Millisecond
	ss := samples(t)
	for i, pause := range []time.Duration{0, 50 * time.Millisecond, 400 * time.Millisecond} {
		time.Sleep(pause)
		if err := o.Publish(context.Background(), outtest.Docs(ss, i*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	events, _, remotes := srv.snapshot()
	checkAll(t, events, 30)
	if len(remotes) != 2 {
		t.Errorf("%d connections, want 2 (one replaced after 400ms idle): %v", len(remotes), remotes)
	}
	if st := o.Stats(); st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWorkersPerHost(t *testing.T) {
	srv := newServer(t, nil)
	srv.decide = func(int) (bool, time.Duration) { return true, 30 * time.Millisecond }
	o := newOutput(t, map[string]any{"hosts": []any{srv.addr}, "worker": 3, "bulk_max_size": 10, "pipelining": 0})
	if err := o.Publish(context.Background(), outtest.Docs(samples(t), 0, 300)); err != nil {
		t.Fatal(err)
	}
	events, _, remotes := srv.snapshot()
	checkAll(t, events, 300)
	if len(remotes) != 3 {
		t.Errorf("worker 3: %d connections %v", len(remotes), remotes)
	}
}

// TestNoLossThroughCut: the connection to Logstash is cut for 2s in the
// middle of a stream of batches, then restored. Every event arrives; an
// event is seen twice only when its window was on the wire at the cut
// (received, acknowledgement lost), always with the same @metadata._id.
func TestNoLossThroughCut(t *testing.T) {
	srv := newServer(t, nil)
	px, err := outtest.NewProxy(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Cut()
	const bulk, pipelining = 50, 2
	o := newOutput(t, map[string]any{
		"hosts": []any{px.Addr}, "bulk_max_size": bulk, "pipelining": pipelining, "timeout": "1s",
		"backoff": map[string]any{"init": "50ms", "max": "500ms"},
	})
	ss := samples(t)
	const total, per = 5000, 250
	var sent atomic.Int64
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += per {
			if err := o.Publish(context.Background(), outtest.Docs(ss, i, per)); err != nil {
				errc <- err
				return
			}
			sent.Store(int64(i + per))
		}
		errc <- nil
	}()
	for sent.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	px.Cut()
	atCut := sent.Load()
	time.Sleep(2 * time.Second)
	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if atCut >= total {
		t.Fatal("cut after everything was sent")
	}
	events, _, _ := srv.snapshot()
	dupes := checkAll(t, events, total)
	if dupes > bulk*(pipelining+1) {
		t.Errorf("%d duplicates: more than the %d events that can be in flight", dupes, bulk*(pipelining+1))
	}
	st := o.Stats()
	if st.Published != total || st.Retries == 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("cut after %d events for 2s: all %d arrived, %d resent events seen twice (same _id); stats %+v", atCut, total, dupes, st)
}

func TestCancelWhileDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "backoff": map[string]any{"init": "10ms", "max": "20ms"}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := o.Publish(ctx, outtest.Docs(samples(t), 0, 5))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	st := o.Stats()
	// Usually "connection refused"; on a loaded machine a dial timeout.
	if st.Retries == 0 || st.Published != 0 || !strings.Contains(st.LastError, "connect to "+addr) {
		t.Errorf("stats %+v", st)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]any{"hosts": []any{"ls1", "ls2:5045", "[::1]"}, "type": "logstash", "queue": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Hosts, ","); got != "ls1:5044,ls2:5045,[::1]:5044" {
		t.Errorf("hosts %s", got)
	}
	if c.BulkMaxSize != 2048 || c.Pipelining != 2 || c.CompressionLevel != 3 || c.Timeout != 30*time.Second || c.Workers != 1 || c.LoadBalance || c.SlowStart {
		t.Errorf("defaults %+v", c)
	}
	for cfg, want := range map[string]map[string]any{
		"hosts: at least one":                   {},
		"unknown logstash output setting bogus": {"hosts": "a", "bogus": 1},
		"proxy_url: not supported":              {"hosts": "a", "proxy_url": "socks5://x"},
		"compression_level: 12":                 {"hosts": "a", "compression_level": 12},
		"ssl.verification_mode":                 {"hosts": "a", "ssl": map[string]any{"verification_mode": "sometimes"}},
		"ssl.cipher_suites: unknown setting":    {"hosts": "a", "ssl": map[string]any{"cipher_suites": []any{"X"}}},
		"backoff.init":                          {"hosts": "a", "backoff": map[string]any{"init": "soon"}},
		"want host:port":                        {"hosts": "tcp://a:1"},
		"ssl.certificate and key":               {"hosts": "a", "ssl": map[string]any{"certificate": "/x"}},
		"ttl":                                   {"hosts": "a", "ttl": "-1s"},
	} {
		_, err := ParseConfig(want)
		if err == nil || !strings.Contains(err.Error(), cfg) {
			t.Errorf("%v: got %v, want %q", want, err, cfg)
		}
	}
}

var _ output.StatsReporter = (*Output)(nil)
