package engine

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// udpStub counts datagrams and checks what the engine hands over.
type udpStub struct {
	n       int
	lastDir protocol.Dir
	client  netip.AddrPort
}

func (u *udpStub) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	u.n++
	u.lastDir, u.client = dir, c.Client
}
func (u *udpStub) Expire(time.Time) {}
func (u *udpStub) Flush()           {}

// Routing a UDP datagram to its protocol allocates nothing (the Conn is
// reused), and client/server follow the configured port either way.
func TestUDPDispatchAllocatesNothing(t *testing.T) {
	stub := &udpStub{}
	e := New([]*protocol.Instance{{Name: "stub", Common: protocol.Common{Ports: []uint16{53}}, UDP: stub}})
	ts := time.Unix(1700000000, 0)
	q := link.Packet{Timestamp: ts, IPVersion: 4, IPProto: 17,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 40000, DstPort: 53, Payload: []byte("query")}
	r := q
	r.SrcIP, r.DstIP, r.SrcPort, r.DstPort = q.DstIP, q.SrcIP, 53, 40000
	allocs := testing.AllocsPerRun(1000, func() {
		e.Packet(&q)
		e.Packet(&r)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per query/response pair, want 0", allocs)
	}
	if stub.n < 2000 || stub.lastDir != protocol.FromServer || stub.client != netip.MustParseAddrPort("10.0.0.1:40000") {
		t.Errorf("dispatch: %d datagrams, last dir %v, client %v", stub.n, stub.lastDir, stub.client)
	}
}
