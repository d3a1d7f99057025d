package sip

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "sip", Pcap: "_dev/pcaps/sip/udp.pcap", Stream: map[string]any{"type": "sip", "ports": []any{5060, 5062}}, Sample: -1},
		protocol.SampleSource{DataStream: "sip", Pcap: "_dev/pcaps/sip/tcp.pcap", Stream: map[string]any{"type": "sip", "transport_protocol": "tcp"}, Sample: -2},
	)
}
