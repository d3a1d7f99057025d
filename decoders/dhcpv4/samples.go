package dhcpv4

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "dhcpv4", Pcap: "_dev/pcaps/dhcpv4/dnsmasq.pcap", Stream: map[string]any{"type": "dhcpv4"}, Sample: -1},
	)
}
