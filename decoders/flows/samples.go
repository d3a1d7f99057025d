package flows

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "flow", Pcap: "_dev/pcaps/sample.pcap", Stream: map[string]any{"type": "flow", "period": "-1s"}, Sample: -1},
	)
}

func init() { protocol.RegisterDataStream("flow", "flow") }
