package sip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// BenchmarkDatagram decodes and encodes every message of the UDP capture.
func BenchmarkDatagram(b *testing.B) {
	msgs := protocoltest.UDPPayloads(b, udpPcap)
	enc := &encoder{}
	p := New(protocol.Common{}, DefaultConfig(), enc)
	c := &protocol.Conn{Client: netip.MustParseAddrPort("127.0.0.1:5061"), Server: netip.MustParseAddrPort("127.0.0.1:5060"), IPProtocol: 17}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	ts := time.Unix(1, 0)
	for b.Loop() {
		for _, m := range msgs {
			p.Datagram(c, protocol.FromClient, m, ts)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}

// BenchmarkGarbage: datagrams on the port that are not SIP cost no allocation.
func BenchmarkGarbage(b *testing.B) {
	p := New(protocol.Common{}, DefaultConfig(), &encoder{})
	c := &protocol.Conn{Client: netip.MustParseAddrPort("127.0.0.1:5061"), Server: netip.MustParseAddrPort("127.0.0.1:5060"), IPProtocol: 17}
	junk := []byte("\x80\x00\x12\x34 some RTP-ish payload that is not SIP at all\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		p.Datagram(c, protocol.FromClient, junk, time.Time{})
	}
}

// BenchmarkTCP parses the messages concatenated as one stream.
func BenchmarkTCP(b *testing.B) {
	var stream []byte
	for _, m := range protocoltest.UDPPayloads(b, udpPcap) {
		stream = append(stream, m...)
	}
	enc := &encoder{}
	p := New(protocol.Common{}, DefaultConfig(), enc)
	c := &protocol.Conn{Client: netip.MustParseAddrPort("127.0.0.1:5061"), Server: netip.MustParseAddrPort("127.0.0.1:5060"), IPProtocol: 6}
	tc := p.NewConn(c)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if n := tc.Parse(protocol.FromClient, stream, time.Time{}); n != len(stream) {
			b.Fatalf("consumed %d of %d", n, len(stream))
		}
	}
}
