package sip

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// encoder publishes by encoding at once, as the engine does.
type encoder struct {
	w    ecsmap.Writer
	meta ecsmap.Meta
	n    int
	out  []byte
}

func (e *encoder) Publish(ev ecsmap.Event) {
	e.out = ecsmap.Encode(&e.w, ev, &e.meta)
	e.n++
}

// FuzzParse feeds arbitrary bytes as a datagram and as a TCP stream in two
// chunks: no panic, consumed within bounds, every event valid JSON.
func FuzzParse(f *testing.F) {
	for _, p := range protocoltest.UDPPayloads(f, udpPcap) {
		f.Add(p, uint16(len(p)/2))
	}
	f.Add([]byte(crafted), uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		enc := &encoder{}
		p := New(protocol.Common{}, DefaultConfig(), enc)
		c := &protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5060"), IPProtocol: 17}
		p.Datagram(c, protocol.FromClient, data, time.Unix(1, 0))
		if enc.n == 1 && !json.Valid(enc.out) {
			t.Fatalf("invalid JSON: %s", enc.out)
		}
		c.IPProtocol = 6
		tc := p.NewConn(c)
		k := int(split) % (len(data) + 1)
		var pending []byte
		for _, chunk := range [][]byte{data[:k], data[k:]} {
			pending = append(pending, chunk...)
			n := tc.Parse(protocol.FromServer, pending, time.Unix(1, 0))
			if n < 0 || n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			pending = pending[n:]
			if enc.n > 0 && !json.Valid(enc.out) {
				t.Fatalf("invalid JSON: %s", enc.out)
			}
		}
	})
}
