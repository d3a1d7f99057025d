package capture

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
)

// Live capture on loopback of a real TCP exchange with monitor_processes:
// the flow record names this test process as the owner of both ends.
func TestLiveLoopbackFlowWithProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo until the client closes
		c.Close()
	}()

	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "flow-1", "type": "flow", "period": "-1s", "procs": map[string]any{"enabled": true},
			"interface": map[string]any{"device": "lo", "bpf_filter": fmt.Sprintf("tcp port %d", port)}},
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
	time.Sleep(300 * time.Millisecond) // capture active before traffic

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello over loopback")
	c.Write(msg)
	buf := make([]byte, len(msg))
	io.ReadFull(c, buf)
	// Let the capture see the packets while both sockets still exist: the
	// process lookup happens when the flow is reported, at cancel.
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()

	docs := sink.All()
	if len(docs) != 1 {
		t.Fatalf("want 1 flow, got %d: %v", len(docs), docs)
	}
	d := docs[0]
	if d["_index"] != "logs-network_traffic.flow-default" {
		t.Errorf("index %v", d["_index"])
	}
	dst := d["destination"].(map[string]any)
	if int(dst["port"].(float64)) != port {
		t.Errorf("destination port %v, want %d", dst["port"], port)
	}
	if src := d["source"].(map[string]any); src["packets"].(float64) < 3 {
		t.Errorf("source packets %v: SYN, ACK and data at least", src["packets"])
	}
	for _, side := range []string{"source", "destination"} {
		p, ok := d[side].(map[string]any)["process"].(map[string]any)
		if !ok {
			t.Errorf("%s.process missing: %v", side, d[side])
			continue
		}
		if int(p["pid"].(float64)) != os.Getpid() {
			t.Errorf("%s.process.pid %v, want %d", side, p["pid"], os.Getpid())
		}
	}
	if st := w.Stats(); st.Packets < 4 {
		t.Errorf("stats packets %d", st.Packets)
	}
}
