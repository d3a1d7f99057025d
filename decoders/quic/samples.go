package quic

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/vn.pcap", Stream: map[string]any{"type": "quic"}, Sample: -1},
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/gov1.pcap", Stream: map[string]any{"type": "quic", "include_raw_ja4": true}, Sample: -2},
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/gov2.pcap", Stream: map[string]any{"type": "quic"}, Sample: -2},
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/compat.pcap", Stream: map[string]any{"type": "quic"}, Sample: -2},
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/retry.pcap", Stream: map[string]any{"type": "quic"}, Sample: -2},
		protocol.SampleSource{DataStream: "quic", Pcap: "_dev/pcaps/quic/aioquic.pcap", Stream: map[string]any{"type": "quic", "ports": []any{443, 8443}}, Sample: -2},
	)
}
