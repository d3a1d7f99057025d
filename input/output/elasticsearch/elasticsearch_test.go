package elasticsearch

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

func docs(from, n int, index string) []output.Doc {
	out := make([]output.Doc, n)
	for i := range out {
		out[i] = output.Doc{Index: index, Body: []byte(fmt.Sprintf(`{"@timestamp":"2026-01-01T00:00:00Z","seq":%d}`, from+i))}
	}
	return out
}

func newTestOutput(t *testing.T, m map[string]any) *Output {
	t.Helper()
	o, err := FromMap(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.cfg.BackoffInit = 5 * time.Millisecond
	o.cfg.BackoffMax = 50 * time.Millisecond
	t.Cleanup(func() { o.Close() })
	return o
}

func checkExactlyOnce(t *testing.T, got []int, want int) {
	t.Helper()
	sort.Ints(got)
	if len(got) != want {
		t.Fatalf("stored %d documents, want %d", len(got), want)
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("seq %d at position %d: a document is missing or duplicated", s, i)
		}
	}
}

func TestPublishRoutesAndAuth(t *testing.T) {
	es := newFakeES()
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{
		"type": "elasticsearch", "hosts": []any{srv.URL},
		"username": "elastic", "password": "changeme",
		"headers":       map[string]any{"X-Test": "yes"},
		"bulk_max_size": 3, "worker": 2, "compression_level": 1,
	})
	batch := append(docs(0, 5, "logs-network_traffic.dns-default"), docs(5, 5, "logs-network_traffic.http-default")...)
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, es.seqs(t), 10)
	if n := len(es.docs["logs-network_traffic.dns-default"]); n != 5 {
		t.Errorf("dns index has %d docs, want 5", n)
	}
	if es.requests != 4 { // 10 docs / bulk_max_size 3
		t.Errorf("requests = %d, want 4", es.requests)
	}
	if es.gzipped != es.requests {
		t.Errorf("gzipped %d of %d requests with compression_level 1", es.gzipped, es.requests)
	}
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:changeme"))
	if es.auth[0] != wantAuth || es.headers[0].Get("X-Test") != "yes" {
		t.Errorf("auth %q header %q", es.auth[0], es.headers[0].Get("X-Test"))
	}
	if st := o.Stats(); st.Published != 10 || st.Failed != 0 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestAPIKeyEncoded(t *testing.T) {
	es := newFakeES()
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}, "api_key": "myid:mykey", "compression_level": 0})
	if err := o.Publish(context.Background(), docs(0, 1, "x")); err != nil {
		t.Fatal(err)
	}
	if want := "APIKey " + base64.StdEncoding.EncodeToString([]byte("myid:mykey")); es.auth[0] != want {
		t.Fatalf("auth %q want %q", es.auth[0], want)
	}
	if es.gzipped != 0 {
		t.Fatal("compression_level 0 must not gzip")
	}
}

func TestRetryOn429And5xx(t *testing.T) {
	for _, st := range []int{429, 502, 503} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			es := newFakeES()
			es.failRequests, es.failStatus = 3, st
			srv := httptest.NewServer(es)
			defer srv.Close()
			o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}})
			if err := o.Publish(context.Background(), docs(0, 20, "i")); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, es.seqs(t), 20)
			s := o.Stats()
			if s.Retries != 60 || s.Published != 20 || !strings.Contains(s.LastError, fmt.Sprint(st)) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestPerDocumentErrors(t *testing.T) {
	es := newFakeES()
	flaky := map[string]int{}
	es.itemStatus = func(index string, body []byte) (int, string) {
		s := string(body)
		switch {
		case strings.Contains(s, `"seq":3}`), strings.Contains(s, `"seq":7}`):
			return 400, "mapper_parsing_exception: failed to parse field [seq]"
		case strings.Contains(s, `"seq":5}`):
			// rejected twice for load, then accepted
			if flaky[s]++; flaky[s] <= 2 {
				return 429, "es_rejected_execution_exception: queue full"
			}
		}
		return 0, ""
	}
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}})
	if err := o.Publish(context.Background(), docs(0, 10, "i")); err != nil {
		t.Fatal(err)
	}
	got := es.seqs(t)
	sort.Ints(got)
	if fmt.Sprint(got) != "[0 1 2 4 5 6 8 9]" {
		t.Fatalf("stored %v", got)
	}
	s := o.Stats()
	if s.Published != 8 || s.Failed != 2 || s.Retries != 2 {
		t.Fatalf("stats %+v", s)
	}
	// Mapping errors are not retried: 1 request + 2 retries of the one flaky doc.
	if es.requests != 3 {
		t.Fatalf("requests = %d, want 3", es.requests)
	}
}

func TestLostReplyNoDuplicates(t *testing.T) {
	es := newFakeES()
	es.dropReplies = 2
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}, "bulk_max_size": 5})
	if err := o.Publish(context.Background(), docs(0, 25, "i")); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, es.seqs(t), 25)
	if s := o.Stats(); s.Published != 25 || s.Retries == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRequestRejectedIsNotRetried(t *testing.T) {
	es := newFakeES()
	es.failRequests, es.failStatus = 100, 400
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}})
	if err := o.Publish(context.Background(), docs(0, 4, "i")); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Failed != 4 || es.requests != 1 || !strings.Contains(s.LastError, "HTTP 400") {
		t.Fatalf("stats %+v, requests %d", s, es.requests)
	}
}

// A node that refuses everything blocks Publish (backpressure) until the
// caller gives up; nothing is counted as published.
func TestDownNodeBlocksUntilCancelled(t *testing.T) {
	es := newFakeES()
	es.failRequests, es.failStatus = 1<<30, 503
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := o.Publish(ctx, docs(0, 3, "i"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("Publish returned before the deadline")
	}
	if s := o.Stats(); s.Published != 0 || s.Retries == 0 || !strings.Contains(s.LastError, "503") {
		t.Fatalf("stats %+v", s)
	}
}

// Kill the node mid-stream and bring it back on the same address: every
// document sent before, during and after arrives exactly once.
func TestKillRestartExactlyOnce(t *testing.T) {
	es := newFakeES()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: es}
	go srv.Serve(ln)

	o := newTestOutput(t, map[string]any{"hosts": []any{"http://" + addr}, "bulk_max_size": 7, "worker": 2})
	const total, per = 600, 20
	var wg sync.WaitGroup
	wg.Add(1)
	var pubErr error
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += per {
			if err := o.Publish(context.Background(), docs(i, per, "logs-network_traffic.flow-default")); err != nil {
				pubErr = err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for es.count() < 150 {
		time.Sleep(time.Millisecond)
	}
	srv.Close() // kill: listener and open connections
	down := es.count()
	time.Sleep(300 * time.Millisecond)
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	es.mu.Lock()
	es.dropReplies = 1 // and lose one reply right after the restart
	es.mu.Unlock()
	srv2 := &http.Server{Handler: es}
	go srv2.Serve(ln2)
	defer srv2.Close()
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	if down >= total {
		t.Fatalf("node was killed after all documents went in (%d)", down)
	}
	checkExactlyOnce(t, es.seqs(t), total)
	if s := o.Stats(); s.Published != total || s.Retries == 0 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// proxy_url: requests go through the proxy (which here is the fake node
// itself, answering the absolute-URI request).
func TestProxyURL(t *testing.T) {
	es := newFakeES()
	var proxied sync.Mutex
	var sawAbsolute bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Lock()
		sawAbsolute = sawAbsolute || strings.HasPrefix(r.RequestURI, "http://es.invalid:9200/_bulk")
		proxied.Unlock()
		es.ServeHTTP(w, r)
	}))
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"hosts": []any{"http://es.invalid:9200"}, "proxy_url": srv.URL})
	if err := o.Publish(context.Background(), docs(0, 2, "i")); err != nil {
		t.Fatal(err)
	}
	if !sawAbsolute || es.count() != 2 {
		t.Fatalf("proxied %v, stored %d", sawAbsolute, es.count())
	}
}

func TestTLSVerification(t *testing.T) {
	es := newFakeES()
	srv := httptest.NewTLSServer(es)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// Without the CA: fails (and retries until the deadline), so the
	// deadline is short, yet long enough for one handshake on a busy machine.
	o := newTestOutput(t, map[string]any{"hosts": []any{srv.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := o.Publish(ctx, docs(0, 1, "i")); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
	if !strings.Contains(o.Stats().LastError, "certificate") {
		t.Fatalf("last error %q", o.Stats().LastError)
	}
	// httptest's certificate is for 127.0.0.1 and example.com; reach it
	// as localhost so that only `certificate` mode (no host check) passes.
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		url, mode string
		ok        bool
		ca        any
	}{
		{srv.URL, "full", true, caFile},
		{srv.URL, "full", true, string(pemBytes)}, // inline PEM
		{local, "full", false, caFile},
		{local, "certificate", true, caFile},
		{local, "none", true, nil},
	} {
		ssl := map[string]any{"verification_mode": tc.mode}
		if tc.ca != nil {
			ssl["certificate_authorities"] = []any{tc.ca}
		}
		o := newTestOutput(t, map[string]any{"hosts": []any{tc.url}, "ssl": ssl})
		// Cases that must succeed get a generous deadline (a loaded CI
		// machine); failing ones retry until theirs, so it stays short.
		wait := 500 * time.Millisecond
		if tc.ok {
			wait = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := o.Publish(ctx, docs(0, 1, "i"))
		cancel()
		if (err == nil) != tc.ok {
			t.Errorf("%s mode %s: err %v, want ok=%v (last %s)", tc.url, tc.mode, err, tc.ok, o.Stats().LastError)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]any{
		"type": "elasticsearch", "hosts": []any{"es1", "https://es2:9243", "http://es3/"},
		"path": "proxy", "worker": 4.0, "bulk_max_size": 50, "compression_level": 3,
		"timeout": "10s", "backoff": map[string]any{"init": "2s", "max": "1m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[http://es1:9200/proxy https://es2:9243/proxy http://es3:9200/proxy]"
	if fmt.Sprint(c.Hosts) != want || c.Workers != 4 || c.BulkMaxSize != 50 || c.CompressionLevel != 3 ||
		c.Timeout != 10*time.Second || c.BackoffInit != 2*time.Second || c.BackoffMax != time.Minute {
		t.Fatalf("%+v", c)
	}
	d, err := ParseConfig(map[string]any{"hosts": "localhost"})
	if err != nil || d.BulkMaxSize != DefaultBulkMaxSize || d.Workers != 1 || d.CompressionLevel != 1 {
		t.Fatalf("defaults %+v %v", d, err)
	}
	for _, bad := range []map[string]any{
		{},
		{"type": "logstash", "hosts": []any{"x"}},
		{"hosts": []any{"x"}, "compression_level": 12},
		{"hosts": []any{"x"}, "worker": 0},
		{"hosts": []any{"x"}, "ssl": map[string]any{"verification_mode": "sometimes"}},
		{"hosts": []any{"x"}, "ssl": map[string]any{"certificate_authorities": []any{"/nonexistent/ca.pem"}}},
	} {
		if _, err := ParseConfig(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// A node that was unreachable long enough for the backoff to grow is used
// again within about a second of coming back (the probe), not after the
// backoff: here the backoff is 20 s and delivery must resume within 3 s.
func TestResumesSoonAfterUnreachableNodeReturns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	o := newTestOutput(t, map[string]any{"type": "elasticsearch", "hosts": []any{"http://" + addr}})
	o.cfg.BackoffInit, o.cfg.BackoffMax = 20*time.Second, 60*time.Second
	done := make(chan error, 1)
	go func() { done <- o.Publish(context.Background(), docs(0, 7, "logs-x-default")) }()
	time.Sleep(1500 * time.Millisecond) // first attempt refused, now backing off
	es := newFakeES()
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	srv := &http.Server{Handler: es}
	go srv.Serve(ln2)
	defer srv.Close()
	back := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered 10 s after the node came back")
	}
	if d := time.Since(back); d > 3*time.Second {
		t.Errorf("delivery resumed %s after the node came back, want within 3s", d)
	}
	checkExactlyOnce(t, es.seqs(t), 7)
	if o.Stats().Retries == 0 {
		t.Error("retries not counted")
	}
}

// A document with an ID (add_id's @metadata._id) is indexed under it; a
// second one with the same ID is a duplicate (409, counted as delivered).
func TestDocumentIDKept(t *testing.T) {
	es := newFakeES()
	srv := httptest.NewServer(es)
	defer srv.Close()
	o := newTestOutput(t, map[string]any{"type": "elasticsearch", "hosts": []any{srv.URL}})
	idx := "logs-network_traffic.dns-default"
	batch := []output.Doc{
		{Index: idx, Body: []byte(`{"seq":0}`), ID: "my-id-1"},
		{Index: idx, Body: []byte(`{"seq":1}`)},
		{Index: idx, Body: []byte(`{"seq":2}`), ID: "my-id-1"},
	}
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if b, ok := es.docs[idx]["my-id-1"]; !ok || string(b) != `{"seq":0}` {
		t.Errorf("doc my-id-1 = %s (%v)", b, ok)
	}
	if len(es.docs[idx]) != 2 {
		t.Errorf("%d docs stored, want 2", len(es.docs[idx]))
	}
}
