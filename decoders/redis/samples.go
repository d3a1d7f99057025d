package redis

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "redis", Pcap: "_dev/pcaps/redis/cli.pcap", Stream: map[string]any{"type": "redis"}, Sample: -1},
		protocol.SampleSource{DataStream: "redis", Pcap: "_dev/pcaps/redis/pipeline.pcap", Stream: map[string]any{"type": "redis"}, Sample: -2},
		protocol.SampleSource{DataStream: "redis", Pcap: "_dev/pcaps/redis/resp3.pcap", Stream: map[string]any{"type": "redis", "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "redis", Pcap: "_dev/pcaps/redis/pubsub.pcap", Stream: map[string]any{"type": "redis"}, Sample: -2},
	)
}
