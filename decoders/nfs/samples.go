package nfs

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "nfs", Pcap: "_dev/pcaps/nfs/v3.pcap", Stream: map[string]any{"type": "nfs"}, Sample: 29},
		protocol.SampleSource{DataStream: "nfs", Pcap: "_dev/pcaps/nfs/v4.pcap", Stream: map[string]any{"type": "nfs"}, Sample: -2},
	)
}
