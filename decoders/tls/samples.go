package tls

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "tls", Pcap: "_dev/pcaps/tls/tls12.pcap", Stream: map[string]any{"type": "tls"}, Sample: -1},
		protocol.SampleSource{DataStream: "tls", Pcap: "_dev/pcaps/tls/tls13.pcap", Stream: map[string]any{"type": "tls", "fingerprints": []any{"sha1", "sha256", "md5"}}, Sample: -2},
		protocol.SampleSource{DataStream: "tls", Pcap: "_dev/pcaps/tls/mtls.pcap", Stream: map[string]any{"type": "tls"}, Sample: -2},
		protocol.SampleSource{DataStream: "tls", Pcap: "_dev/pcaps/tls/alert.pcap", Stream: map[string]any{"type": "tls"}, Sample: -2},
		protocol.SampleSource{DataStream: "tls", Pcap: "_dev/pcaps/tls/ja4.pcap", Stream: map[string]any{"type": "tls", "include_raw_ja4": true}, Sample: -2},
	)
}
