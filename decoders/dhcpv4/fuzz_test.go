package dhcpv4

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzDatagram feeds arbitrary datagrams and encodes whatever is
// published: no panic, valid JSON, parse failures counted.
func FuzzDatagram(f *testing.F) {
	for _, p := range protocoltest.UDPPayloads(f, pcapFile) {
		f.Add(p)
	}
	f.Add(build(1, OptOverload, 1, 3, OptEnd))
	f.Fuzz(func(t *testing.T, data []byte) {
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "dhcpv4", KeepNull: len(data)%2 == 0}
		published := 0
		p := New(protocol.Common{}, Config{}, protocol.PublisherFunc(func(ev ecsmap.Event) {
			out := ecsmap.Encode(&w, ev, &meta)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			published++
		}))
		conn := protocol.Conn{Client: netip.MustParseAddrPort("0.0.0.0:68"), Server: netip.MustParseAddrPort("255.255.255.255:67"), IPProtocol: 17}
		p.Datagram(&conn, protocol.FromClient, data, time.Unix(1, 0))
		if published+int(p.ParseErrors()) != 1 {
			t.Fatalf("%d events, %d errors for one datagram", published, p.ParseErrors())
		}
	})
}
