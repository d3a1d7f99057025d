package sip

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// payloads returns the UDP payloads of the capture, as fuzz seeds and
// benchmark input.
func payloads(tb testing.TB) [][]byte {
	f, err := os.Open(udpPcap)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out = append(out, append([]byte(nil), u.Payload...))
		}
	}
}

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
	for _, p := range payloads(f) {
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
