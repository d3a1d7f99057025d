package dhcpv4

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// BenchmarkParse measures the parser alone (no allocation expected).
func BenchmarkParse(b *testing.B) {
	msgs := protocoltest.UDPPayloads(b, pcapFile)
	var m Message
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Parse(msgs[i%len(msgs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDatagramEncode is the hot path: parse, build the event, encode.
func BenchmarkDatagramEncode(b *testing.B) {
	msgs := protocoltest.UDPPayloads(b, pcapFile)
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "network_traffic.dhcpv4"}
	p := New(protocol.Common{}, Config{}, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
	}))
	conn := protocol.Conn{Client: netip.MustParseAddrPort("0.0.0.0:68"), Server: netip.MustParseAddrPort("255.255.255.255:67"), IPProtocol: 17}
	ts := time.Unix(1, 0)
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Datagram(&conn, protocol.FromClient, msgs[i%len(msgs)], ts)
	}
}
