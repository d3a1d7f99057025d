package icmp

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "icmp", Pcap: "_dev/pcaps/icmp/lo_ping.pcap", Stream: map[string]any{"type": "icmp"}, Sample: -1},
		protocol.SampleSource{DataStream: "icmp", Pcap: "_dev/pcaps/icmp/veth.pcap", Stream: map[string]any{"type": "icmp"}, Sample: -2},
	)
}

func init() { protocol.RegisterDataStream("icmp", "icmp") }
