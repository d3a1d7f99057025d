package mysql

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "mysql", Pcap: "_dev/pcaps/mysql/cli.pcap", Stream: map[string]any{"type": "mysql"}, Sample: 8},
		protocol.SampleSource{DataStream: "mysql", Pcap: "_dev/pcaps/mysql/ps.pcap", Stream: map[string]any{"type": "mysql", "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "mysql", Pcap: "_dev/pcaps/mysql/slap.pcap", Stream: map[string]any{"type": "mysql"}, Sample: -2},
	)
}
