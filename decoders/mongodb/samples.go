package mongodb

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "mongodb", Pcap: "_dev/pcaps/mongodb/opmsg.pcap", Stream: map[string]any{"type": "mongodb", "send_request": true, "send_response": true}, Sample: 4},
		protocol.SampleSource{DataStream: "mongodb", Pcap: "_dev/pcaps/mongodb/legacy.pcap", Stream: map[string]any{"type": "mongodb"}, Sample: -2},
		protocol.SampleSource{DataStream: "mongodb", Pcap: "_dev/pcaps/mongodb/compressed.pcap", Stream: map[string]any{"type": "mongodb"}, Sample: -2},
	)
}
