package http

import "github.com/network-traffic/network-traffic/decoders/protocol"

// The real captures this package's data stream documents itself with: the
// package's sample event and the events the index test loads come from
// decoding them with the binary's pipeline (internal/samples).
func init() {
	protocol.AddSamples(
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http/nginx.pcap", Stream: map[string]any{"type": "http", "ports": []any{8080}, "send_headers": []any{"user-agent", "host"}}, Sample: -1},
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http/goserver.pcap", Stream: map[string]any{"type": "http", "ports": []any{8000}, "include_body_for": []any{"application/json"}, "send_request": true, "send_response": true}, Sample: -2},
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http/pipeline.pcap", Stream: map[string]any{"type": "http", "ports": []any{8080}}, Sample: -2},
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http2/h2c.pcap", Stream: map[string]any{"type": "http", "ports": []any{8080}, "send_headers": []any{"user-agent"}}, Sample: -2},
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http2/nghttp2.pcap", Stream: map[string]any{"type": "http", "ports": []any{8002}}, Sample: -2},
		protocol.SampleSource{DataStream: "http", Pcap: "_dev/pcaps/http2/grpc.pcap", Stream: map[string]any{"type": "http", "ports": []any{50051}, "send_request": true}, Sample: -2, Example: "http-grpc", ExampleIndex: 6},
	)
}
