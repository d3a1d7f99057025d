package memcache

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "memcached", Pcap: "_dev/pcaps/memcache/text.pcap", Stream: map[string]any{"type": "memcache", "maxvalues": -1, "maxbytespervalue": 64}, Sample: -1},
		protocol.SampleSource{DataStream: "memcached", Pcap: "_dev/pcaps/memcache/binary.pcap", Stream: map[string]any{"type": "memcache", "maxvalues": -1}, Sample: -2},
		protocol.SampleSource{DataStream: "memcached", Pcap: "_dev/pcaps/memcache/udp.pcap", Stream: map[string]any{"type": "memcache"}, Sample: -2},
		protocol.SampleSource{DataStream: "memcached", Pcap: "_dev/pcaps/memcache/memcslap.pcap", Stream: map[string]any{"type": "memcache", "parseunknown": true}, Sample: -2},
	)
}
