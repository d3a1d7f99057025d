package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

// realNode returns the URL of the test node (_dev/es), or skips when it is
// absent and NT_REQUIRE_ES is unset.
func realNode(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NT_ES_URL")
	if u == "" {
		u = "http://127.0.0.1:9200"
	}
	c := http.Client{Timeout: 3 * time.Second}
	res, err := c.Get(u)
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			return u
		}
		err = fmt.Errorf("HTTP %d", res.StatusCode)
	}
	if os.Getenv("NT_REQUIRE_ES") != "" {
		t.Fatalf("Elasticsearch at %s: %v (NT_REQUIRE_ES is set)", u, err)
	}
	t.Skipf("no Elasticsearch-compatible node at %s (%v); start one with _dev/es/start.sh", u, err)
	return ""
}

func esDo(t *testing.T, method, u string, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &m)
	return m
}

// storedSeqs fetches every document's seq from the index.
func storedSeqs(t *testing.T, base, index string) []int {
	t.Helper()
	esDo(t, "POST", base+"/"+index+"/_refresh", "")
	m := esDo(t, "POST", base+"/"+index+"/_search", `{"size":10000,"_source":["seq"],"query":{"match_all":{}}}`)
	hits, _ := m["hits"].(map[string]any)
	list, _ := hits["hits"].([]any)
	var out []int
	for _, h := range list {
		src, _ := h.(map[string]any)["_source"].(map[string]any)
		f, _ := src["seq"].(float64)
		out = append(out, int(f))
	}
	sort.Ints(out)
	return out
}

// proxy forwards TCP to the node and can be killed (listener and every
// connection cut) and restarted on the same port.
type proxy struct {
	backend string
	addr    string
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
}

func newProxy(t *testing.T, backend string) *proxy {
	p := &proxy{backend: backend, conns: map[net.Conn]bool{}}
	p.start(t, "127.0.0.1:0")
	return p
}

func (p *proxy) start(t *testing.T, addr string) {
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
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[b] = true, true
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func TestRealNodeKillRestartExactlyOnce(t *testing.T) {
	base := realNode(t)
	index := fmt.Sprintf("nt-output-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { esDo(t, "DELETE", base+"/"+index, "") })
	bu, _ := url.Parse(base)
	px := newProxy(t, bu.Host)
	o := newTestOutput(t, map[string]any{"hosts": []any{"http://" + px.addr}, "bulk_max_size": 25, "worker": 2})

	const total, per = 1500, 50
	var wg sync.WaitGroup
	var pubErr error
	var sent int
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += per {
			if err := o.Publish(context.Background(), docs(i, per, index)); err != nil {
				pubErr = err
				return
			}
			mu.Lock()
			sent = i + per
			mu.Unlock()
		}
	}()
	for {
		mu.Lock()
		s := sent
		mu.Unlock()
		if s >= 300 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	px.kill() // mid-stream: in-flight bulk requests lose their connection
	mu.Lock()
	atKill := sent
	mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	px.start(t, px.addr)
	defer px.kill()
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	if atKill >= total {
		t.Fatal("the proxy was cut after everything was sent")
	}
	got := storedSeqs(t, base, index)
	if len(got) != total {
		t.Fatalf("index has %d documents, want %d", len(got), total)
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("seq %d at position %d: missing or duplicated", s, i)
		}
	}
	st := o.Stats()
	if st.Retries == 0 || st.Published != total || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("cut after %d documents; retries %d; last error %q", atKill, st.Retries, st.LastError)
}

func TestRealNodeMappingErrorNotRetried(t *testing.T) {
	base := realNode(t)
	index := fmt.Sprintf("nt-output-map-%d", time.Now().UnixNano())
	t.Cleanup(func() { esDo(t, "DELETE", base+"/"+index, "") })
	esDo(t, "PUT", base+"/"+index, `{"mappings":{"properties":{"seq":{"type":"integer"}}}}`)
	o := newTestOutput(t, map[string]any{"hosts": []any{base}})
	batch := docs(0, 3, index)
	batch = append(batch, output.Doc{Index: index, Body: []byte(`{"seq":"not a number"}`)})
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if st.Published != 3 || st.Failed != 1 || st.Retries != 0 || !strings.Contains(st.LastError, "HTTP 400") {
		t.Fatalf("stats %+v", st)
	}
	if got := storedSeqs(t, base, index); len(got) != 3 {
		t.Fatalf("stored %v", got)
	}
}
