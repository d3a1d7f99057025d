package pgsql

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "pgsql", Pcap: "_dev/pcaps/pgsql/extended.pcap", Stream: map[string]any{"type": "pgsql"}, Sample: -1},
		protocol.SampleSource{DataStream: "pgsql", Pcap: "_dev/pcaps/pgsql/psql.pcap", Stream: map[string]any{"type": "pgsql", "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "pgsql", Pcap: "_dev/pcaps/pgsql/prepared.pcap", Stream: map[string]any{"type": "pgsql"}, Sample: -2},
	)
}
