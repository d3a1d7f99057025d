package capture

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
)

// A live reconfiguration that changes the dns stream's options and adds a
// redis stream keeps the HTTP reassembly: a keep-alive connection opened
// before it carries on after it, and both of its transactions (the first
// in flight during the swap) are published paired (request and response),
// not flushed one-sided by a rebuild.
// Changing the interface afterwards still rebuilds the capture.
//
// It runs with one worker and with two: every shard gets its own plan (its
// own new instances) and keeps its own connections.
func TestLiveReconfigureKeepsUnchangedProtocols(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", n), func(t *testing.T) { testLiveReconfigure(t, n) })
	}
}

func testLiveReconfigure(t *testing.T, workers int) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	var mu sync.Mutex
	var remotes []string
	// The first response waits until the reconfiguration is done, so its
	// transaction is in flight (request seen, response not) across it.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			<-release
		}
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		io.WriteString(rw, "hello "+r.URL.Path)
	}))
	defer srv.Close()
	httpPort := srv.Listener.Addr().(*net.TCPAddr).Port

	unit := func(device string, dnsOpts map[string]any, redis bool) *config.Input {
		iface := map[string]any{"device": device, "workers": workers}
		dns := map[string]any{"id": "dns-1", "type": "dns", "ports": []any{53}, "interface": iface}
		for k, v := range dnsOpts {
			dns[k] = v
		}
		streams := []any{
			map[string]any{"id": "http-1", "type": "http", "ports": []any{httpPort}, "interface": iface},
			dns,
		}
		if redis {
			streams = append(streams, map[string]any{"id": "redis-1", "type": "redis", "ports": []any{6379}, "interface": iface})
		}
		in, err := config.Parse(map[string]any{"type": "packet", "streams": streams})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}

	sink := &docsink.Sink{}
	w, err := New(unit("lo", nil, false), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // capture active before traffic

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello "+path {
			t.Fatalf("body %q", body)
		}
	}
	first := make(chan struct{})
	go func() {
		defer close(first)
		get("/first")
	}()
	time.Sleep(300 * time.Millisecond) // the capture sees the request before the swap

	if err := w.Reconfigure(unit("lo", map[string]any{"include_authorities": true}, true)); err != nil {
		t.Fatal(err)
	}
	states := w.StreamStates()
	for _, id := range []string{"http-1", "dns-1", "redis-1"} {
		if states[id].Status != "HEALTHY" {
			t.Errorf("stream %s: %+v", id, states[id])
		}
	}
	close(release)
	<-first
	if f := w.Filters()[0]; !strings.Contains(f, "tcp port 6379") || !strings.Contains(f, fmt.Sprintf("tcp port %d", httpPort)) {
		t.Errorf("filter after reconfigure: %q", f)
	}

	get("/second")
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	if len(remotes) != 2 || remotes[0] != remotes[1] {
		t.Fatalf("the two requests did not share a keep-alive connection: %v", remotes)
	}
	_, clientPortStr, _ := net.SplitHostPort(remotes[0])
	mu.Unlock()
	clientPort, _ := strconv.Atoi(clientPortStr)

	// Both transactions are out before anything is flushed: the second
	// one was paired by the parser that survived the reconfiguration.
	var httpDocs []map[string]any
	for _, d := range sink.All() {
		if d["_index"] == "logs-network_traffic.http-default" {
			httpDocs = append(httpDocs, d)
		}
	}
	if len(httpDocs) != 2 {
		t.Fatalf("want 2 http transactions before stop, got %d: %v", len(httpDocs), httpDocs)
	}
	for i, d := range httpDocs {
		if d["status"] != "OK" {
			t.Errorf("transaction %d status %v", i, d["status"])
		}
		if p := int(d["source"].(map[string]any)["port"].(float64)); p != clientPort {
			t.Errorf("transaction %d source.port %d, want %d", i, p, clientPort)
		}
		if dp := int(d["destination"].(map[string]any)["port"].(float64)); dp != httpPort {
			t.Errorf("transaction %d destination.port %d", i, dp)
		}
		resp, _ := d["http"].(map[string]any)["response"].(map[string]any)
		if resp == nil || int(resp["status_code"].(float64)) != 200 {
			t.Errorf("transaction %d response %v", i, resp)
		}
	}
	url0, _ := httpDocs[0]["url"].(map[string]any)
	url1, _ := httpDocs[1]["url"].(map[string]any)
	if url0["path"] != "/first" || url1["path"] != "/second" {
		t.Errorf("paths %v %v", url0["path"], url1["path"])
	}

	// A new interface rebuilds the capture, and it captures.
	if err := w.Reconfigure(unit("any", map[string]any{"include_authorities": true}, true)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	client.CloseIdleConnections()
	get("/third")
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var third int
	for _, d := range sink.All() {
		if u, _ := d["url"].(map[string]any); u != nil && u["path"] == "/third" && d["status"] == "OK" {
			third++
		}
	}
	if third != 1 {
		t.Errorf("after the interface change: %d /third transactions", third)
	}
}
