package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/estest"
)

// cutProxy forwards TCP to a backend until Cut, after which connections
// are refused (its port closed, open connections reset) until Restore.
type cutProxy struct {
	backend string
	addr    string
	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]bool
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	p := &cutProxy{backend: backend, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
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

// Cut refuses new connections and resets the open ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	clear(p.conns)
}

// Restore listens on the same port again.
func (p *cutProxy) Restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("restore %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func esCount(t *testing.T, c *estest.Client, index string) int {
	var r struct {
		Count int `json:"count"`
	}
	if err := c.Do("GET", "/"+index+"/_count", nil, &r); err != nil {
		return -1
	}
	return r.Count
}

// outageConfig routes every stream into a namespace of its own, so the
// test counts only its documents.
func outageConfig(t *testing.T, ns string) string {
	p := filepath.Join(t.TempDir(), "c.yml")
	var b strings.Builder
	fmt.Fprintf(&b, "id: outage\ntype: packet\ndata_stream: {namespace: %s}\nstreams:\n", ns)
	for _, st := range defaultInput()["streams"].([]any) {
		m := st.(map[string]any)
		fmt.Fprintf(&b, "  - {id: %s, type: %s}\n", m["id"], m["type"])
	}
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

// The search node is cut off for 60 s in the middle of a replay (a proxy
// the test controls), then restored: every document arrives exactly once
// (the output's _id makes a resent one a 409, not a duplicate), and
// delivery resumes within seconds of the restore, not after a backoff that
// grew to a minute.
func TestOutageOfSearchNode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	es := estest.Available(t)
	u, _ := url.Parse(estest.Addr())
	proxy := newCutProxy(t, u.Host)
	ns := "outage" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	cfg := outageConfig(t, ns)
	const loops = 260 // sample.pcap at its recorded pace: about 80 s, the cut from 5 s to 65 s
	ref, _, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t", "-l", strconv.Itoa(loops))
	if code != 0 || len(ref) == 0 {
		t.Fatalf("reference run: exit %d, %d docs", code, len(ref))
	}
	index := "logs-network_traffic.*-" + ns
	cmd, se := startMain(t, "-c", cfg, "-I", samplePcap, "-l", strconv.Itoa(loops), "-es", "http://"+proxy.addr)
	time.Sleep(5 * time.Second)
	es.Do("POST", "/"+index+"/_refresh", nil, nil)
	before := esCount(t, es, index)
	if before <= 0 {
		t.Fatalf("nothing indexed before the cut (%d); stderr:\n%s", before, se)
	}
	proxy.Cut()
	time.Sleep(60 * time.Second)
	es.Do("POST", "/"+index+"/_refresh", nil, nil)
	during := esCount(t, es, index)
	proxy.Restore(t)
	restored := time.Now()
	var resumed time.Duration
	for time.Since(restored) < 30*time.Second {
		es.Do("POST", "/"+index+"/_refresh", nil, nil)
		if esCount(t, es, index) > during {
			resumed = time.Since(restored)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if resumed == 0 || resumed > 5*time.Second {
		t.Errorf("delivery resumed %s after the node came back (0: not within 30s), want within 5s", resumed)
	}
	code, _ = waitExit(t, cmd, 5*time.Minute)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, se)
	}
	es.Do("POST", "/"+index+"/_refresh", nil, nil)
	if got := esCount(t, es, index); got != len(ref) {
		t.Errorf("%d documents indexed, the replay has %d: lost or duplicated", got, len(ref))
	}
	if !bytes.Contains(se.Bytes(), []byte("bulk request failed, retrying")) {
		t.Errorf("the outage was not logged; stderr:\n%s", se)
	}
	t.Logf("indexed %d before the cut, %d at its end (60s), resumed %s after the restore, %d in all", before, during, resumed, len(ref))
}

// SIGTERM while the node is cut off exits within -shutdown-timeout and
// reports how many documents were not delivered.
func TestSigtermDuringOutage(t *testing.T) {
	es := estest.Available(t)
	_ = es
	u, _ := url.Parse(estest.Addr())
	proxy := newCutProxy(t, u.Host)
	cfg := outageConfig(t, "outagesig")
	cmd, se := startMain(t, "-c", cfg, "-I", samplePcap, "-l", "100", "-es", "http://"+proxy.addr, "-shutdown-timeout", "3s")
	time.Sleep(2 * time.Second)
	proxy.Cut()
	time.Sleep(3 * time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	code, took := waitExit(t, cmd, 15*time.Second)
	if code == 0 || took > 5*time.Second {
		t.Errorf("exit %d after %s (shutdown timeout 3s)", code, took)
	}
	sc := bufio.NewScanner(bytes.NewReader(se.Bytes()))
	var line string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "documents were not delivered") {
			line = sc.Text()
		}
	}
	if m := undeliveredRe.FindStringSubmatch(line); m == nil || m[1] == "0" {
		t.Errorf("no undelivered count reported; stderr:\n%s", se)
	}
}
