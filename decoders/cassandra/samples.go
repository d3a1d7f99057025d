package cassandra

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "cassandra", Pcap: "_dev/pcaps/cassandra/v4.pcap", Stream: map[string]any{"type": "cassandra", "send_request": true, "send_response": true}, Sample: 12},
		protocol.SampleSource{DataStream: "cassandra", Pcap: "_dev/pcaps/cassandra/v3_snappy.pcap", Stream: map[string]any{"type": "cassandra", "send_request": true, "send_response": true, "compressor": "snappy"}, Sample: -2},
	)
}
