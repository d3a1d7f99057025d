package thrift

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "thrift", Pcap: "_dev/pcaps/thrift/socket.pcap", Stream: map[string]any{"type": "thrift"}, Sample: 1},
		protocol.SampleSource{DataStream: "thrift", Pcap: "_dev/pcaps/thrift/framed.pcap", Stream: map[string]any{"type": "thrift", "transport_type": "framed", "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "thrift", Pcap: "_dev/pcaps/thrift/nonstrict.pcap", Stream: map[string]any{"type": "thrift"}, Sample: -2},
	)
}
