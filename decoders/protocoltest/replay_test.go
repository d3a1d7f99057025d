package protocoltest_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/network-traffic/network-traffic/decoders/http"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/internal/pcapcraft"
)

// Replay goes through the binary's reassembler: a request whose segments
// arrive out of order is put back together (the old test-only
// reassembler reported a gap and lost it), and bytes lost from the capture
// but acknowledged by the peer are a gap that the next request survives.
func TestReplayReassemblesAsTheBinaryDoes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ooo.pcap")
	w, err := pcapcraft.Create(p, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	c, err := w.Open(cli, srv, 1000, 5000)
	if err != nil {
		t.Fatal(err)
	}
	req := []byte("GET /out-of-order HTTP/1.1\r\nHost: a\r\n\r\n")
	seq, ack := c.Seq()
	a, b, d := req[:10], req[10:25], req[25:]
	// Segments 1, 3, 2.
	w.TCP(cli, srv, seq, ack, pcapcraft.ACK|pcapcraft.PSH, a)
	w.TCP(cli, srv, seq+uint32(len(a)+len(b)), ack, pcapcraft.ACK|pcapcraft.PSH, d)
	w.TCP(cli, srv, seq+uint32(len(a)), ack, pcapcraft.ACK|pcapcraft.PSH, b)
	seq += uint32(len(req))
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	w.TCP(srv, cli, ack, seq, pcapcraft.ACK|pcapcraft.PSH, resp)
	ack += uint32(len(resp))
	// A request the capture lost, acknowledged by the server, then one it saw.
	lost := []byte("GET /lost HTTP/1.1\r\nHost: a\r\n\r\n")
	seq += uint32(len(lost))
	w.TCP(srv, cli, ack, seq, pcapcraft.ACK, nil)
	// The server answers it: that response has no request to pair with.
	w.TCP(srv, cli, ack, seq, pcapcraft.ACK|pcapcraft.PSH, resp)
	ack += uint32(len(resp))
	seen := []byte("GET /after-gap HTTP/1.1\r\nHost: a\r\n\r\n")
	w.TCP(cli, srv, seq, ack, pcapcraft.ACK|pcapcraft.PSH, seen)
	seq += uint32(len(seen))
	w.TCP(srv, cli, ack, seq, pcapcraft.ACK|pcapcraft.PSH, resp)
	w.Close()

	inst, col := protocoltest.New(t, "http", map[string]any{})
	protocoltest.Replay(t, p, inst)
	var paths []string
	for _, d := range col.Docs {
		p, _ := protocoltest.Get(d, "url.path").(string)
		paths = append(paths, p)
	}
	if len(paths) != 3 || paths[0] != "/out-of-order" || paths[1] != "" || paths[2] != "/after-gap" {
		t.Errorf("transactions %q, want /out-of-order, the lost request's response alone, /after-gap", paths)
	}
	if len(col.Docs) == 3 && fmt.Sprint(protocoltest.Get(col.Docs[2], "http.response.status_code")) != "200" {
		t.Errorf("/after-gap not paired with its response: %v", col.Docs[2])
	}
}
