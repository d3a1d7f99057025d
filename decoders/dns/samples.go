package dns

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "dns", Pcap: "_dev/pcaps/dns/udp.pcap", Stream: map[string]any{"type": "dns", "include_authorities": true, "include_additionals": true}, Sample: -1},
		protocol.SampleSource{DataStream: "dns", Pcap: "_dev/pcaps/dns/tcp.pcap", Stream: map[string]any{"type": "dns"}, Sample: -2},
		protocol.SampleSource{DataStream: "dns", Pcap: "_dev/pcaps/dns/dnssec.pcap", Stream: map[string]any{"type": "dns", "include_authorities": true, "include_additionals": true}, Sample: -2},
	)
}
