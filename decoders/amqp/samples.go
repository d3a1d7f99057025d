package amqp

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "amqp", Pcap: "_dev/pcaps/amqp/session.pcap", Stream: map[string]any{"type": "amqp"}, Sample: 1},
		protocol.SampleSource{DataStream: "amqp", Pcap: "_dev/pcaps/amqp/session.pcap", Stream: map[string]any{"type": "amqp", "hide_connection_information": false, "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "amqp", Pcap: "_dev/pcaps/amqp/large.pcap", Stream: map[string]any{"type": "amqp", "send_request": true, "send_response": true}, Sample: -2},
	)
}
