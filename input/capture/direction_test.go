package capture

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
)

// Live, on the veth pair of inNetns, with real servers on both sides: a
// python http.server in ns A (this host) that curl in ns B asks, and a
// redis-server in ns B that this host asks. Capturing on va, the HTTP
// transaction is ingress and the Redis one egress, with no
// internal_networks: the host's own addresses decide. With ignore_outgoing
// the Redis transaction and its flow are gone and the HTTP one is still
// whole (request and response), because every packet is still decoded.
func TestLiveDirectionAndIgnoreOutgoing(t *testing.T) {
	if !inNetns(t) {
		return
	}
	for _, bin := range []string{"python3", "redis-server", "curl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
	const hostIP, peerIP, httpPort, redisPort = "10.231.0.1", "10.231.0.2", 18081, 16390
	web := exec.Command("python3", "-m", "http.server", fmt.Sprint(httpPort), "--bind", hostIP, "--directory", t.TempDir())
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Process.Kill(); web.Wait() })
	rds := exec.Command("ip", "netns", "exec", nsB(), "redis-server", "--port", fmt.Sprint(redisPort), "--bind", peerIP,
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := rds.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rds.Process.Kill(); rds.Wait() })
	waitListening(t, net.JoinHostPort(hostIP, fmt.Sprint(httpPort)))
	waitListening(t, net.JoinHostPort(peerIP, fmt.Sprint(redisPort)))

	run := func(t *testing.T, ignoreOut bool) ([]map[string]any, Stats) {
		iface := map[string]any{"device": "va"}
		in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
			map[string]any{"id": "http-1", "type": "http", "ports": []any{httpPort}, "ignore_outgoing": ignoreOut, "interface": iface},
			map[string]any{"id": "redis-1", "type": "redis", "ports": []any{redisPort}, "ignore_outgoing": ignoreOut, "interface": iface},
			map[string]any{"id": "flow-1", "type": "flow", "period": "-1s", "ignore_outgoing": ignoreOut, "interface": iface},
		}})
		if err != nil {
			t.Fatal(err)
		}
		sink := &docsink.Sink{}
		w, err := New(in, sink, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(300 * time.Millisecond)

		// Into the host: curl in ns B fetches from the server here.
		out, err := exec.Command("ip", "netns", "exec", nsB(), "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
			fmt.Sprintf("http://%s:%d/", hostIP, httpPort)).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl: %v %s", err, out)
		}
		// Out of the host: this process asks the Redis server in ns B.
		c, err := net.Dial("tcp", net.JoinHostPort(peerIP, fmt.Sprint(redisPort)))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "*1\r\n$4\r\nPING\r\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("redis: %q %v", line, err)
		}
		c.Close()
		time.Sleep(500 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return sink.All(), w.Stats()
	}
	byType := func(docs []map[string]any, typ string) []map[string]any {
		var out []map[string]any
		for _, d := range docs {
			if d["type"] == typ {
				out = append(out, d)
			}
		}
		return out
	}
	checkHTTP := func(t *testing.T, docs []map[string]any) {
		h := byType(docs, "http")
		if len(h) != 1 {
			t.Fatalf("want 1 http transaction, got %d: %v", len(h), docs)
		}
		if dig(h[0], "network.direction") != "ingress" || dig(h[0], "client.ip") != peerIP || dig(h[0], "server.ip") != hostIP {
			t.Errorf("http: direction %v client %v server %v", dig(h[0], "network.direction"), dig(h[0], "client.ip"), dig(h[0], "server.ip"))
		}
		// Both halves: the request (sent to us) and the response (sent by us).
		if dig(h[0], "http.request.method") != "get" || fmt.Sprint(dig(h[0], "http.response.status_code")) != "200" || dig(h[0], "status") != "OK" {
			t.Errorf("http transaction not whole: method %v status_code %v status %v",
				dig(h[0], "http.request.method"), dig(h[0], "http.response.status_code"), dig(h[0], "status"))
		}
	}
	flowsFrom := func(docs []map[string]any, src string, port int) []map[string]any {
		var out []map[string]any
		for _, d := range byType(docs, "flow") {
			if dig(d, "source.ip") == src && fmt.Sprint(dig(d, "destination.port")) == fmt.Sprint(port) {
				out = append(out, d)
			}
		}
		return out
	}

	t.Run("direction", func(t *testing.T) {
		docs, _ := run(t, false)
		checkHTTP(t, docs)
		r := byType(docs, "redis")
		if len(r) != 1 {
			t.Fatalf("want 1 redis transaction, got %d: %v", len(r), docs)
		}
		if dig(r[0], "network.direction") != "egress" || dig(r[0], "client.ip") != hostIP || dig(r[0], "method") != "PING" {
			t.Errorf("redis: direction %v client %v method %v", dig(r[0], "network.direction"), dig(r[0], "client.ip"), dig(r[0], "method"))
		}
		in, out := flowsFrom(docs, peerIP, httpPort), flowsFrom(docs, hostIP, redisPort)
		if len(in) != 1 || len(out) != 1 || dig(in[0], "network.direction") != "ingress" || dig(out[0], "network.direction") != "egress" {
			t.Errorf("flows: in %v out %v", in, out)
		}
		// Who captured: agent.* and host.* of this host (this namespace).
		hn, _ := os.Hostname()
		for _, d := range docs {
			ips, _ := dig(d, "host.ip").([]any)
			if dig(d, "agent.type") != "packetbeat" || dig(d, "agent.name") != hn || dig(d, "host.name") != hn ||
				dig(d, "agent.ephemeral_id") == nil || dig(d, "agent.id") == nil || dig(d, "host.os.type") != "linux" ||
				!slices.Contains(ips, any(hostIP)) {
				t.Errorf("agent %v host %v", d["agent"], d["host"])
				break
			}
		}
	})
	t.Run("ignore_outgoing", func(t *testing.T) {
		docs, st := run(t, true)
		checkHTTP(t, docs)
		if r := byType(docs, "redis"); len(r) != 0 {
			t.Errorf("redis transactions initiated by this host published: %v", r)
		}
		if in, out := flowsFrom(docs, peerIP, httpPort), flowsFrom(docs, hostIP, redisPort); len(in) != 1 || len(out) != 0 {
			t.Errorf("flows: %d inbound (want 1), %d outbound (want 0)", len(in), len(out))
		}
		// The Redis transaction and its flow (at least).
		if st.IgnoredOutgoing < 2 {
			t.Errorf("ignored_outgoing %d, want at least 2", st.IgnoredOutgoing)
		}
	})
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// dig reads a dotted path of nested objects.
func dig(d map[string]any, path string) any {
	var cur any = d
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}
