package quic

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// dgram is one UDP datagram of a capture, oriented as the engine does
// (the client is the side not on port 443/8443).
type dgram struct {
	conn    protocol.Conn
	dir     protocol.Dir
	payload []byte
	ts      time.Time
}

func datagrams(t testing.TB, name string) []dgram {
	t.Helper()
	frames, lt := protocoltest.ReadFrames(t, filepath.Join(pcapDir, name))
	var out []dgram
	for _, fr := range frames {
		p := gopacket.NewPacket(fr.Data, lt, gopacket.Default)
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		u, ok2 := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || !ok2 {
			continue
		}
		s, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		d, _ := netip.AddrFromSlice(ip.DstIP.To4())
		from, to := netip.AddrPortFrom(s, uint16(u.SrcPort)), netip.AddrPortFrom(d, uint16(u.DstPort))
		g := dgram{dir: protocol.FromClient, payload: append([]byte(nil), u.Payload...), ts: fr.CI.Timestamp}
		g.conn = protocol.Conn{Client: from, Server: to, IPProtocol: 17}
		if u.SrcPort == 443 || u.SrcPort == 8443 {
			g.dir = protocol.FromServer
			g.conn.Client, g.conn.Server = to, from
		}
		out = append(out, g)
	}
	return out
}

func newProto(t testing.TB, opts map[string]any) (*Protocol, *protocoltest.Collector) {
	t.Helper()
	inst, col := protocoltest.New(t, "quic", opts)
	return inst.UDP.(*Protocol), col
}

func feed(p *Protocol, ds []dgram) {
	for i := range ds {
		c := ds[i].conn
		p.Datagram(&c, ds[i].dir, ds[i].payload, ds[i].ts)
	}
}
