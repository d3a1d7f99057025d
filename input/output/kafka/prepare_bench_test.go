package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPrepare is the output's own work per document before the client
// takes it: topic, key, partition hash and record time from the encoded
// document.
func BenchmarkPrepare(b *testing.B) {
	for _, c := range []struct {
		name string
		m    map[string]any
	}{
		{"static topic", map[string]any{"hosts": "k:1", "topic": "t"}},
		{"dynamic topic and key", map[string]any{"hosts": "k:1", "topic": "%{[data_stream.type]}-%{[data_stream.dataset]}",
			"key": "%{[network.community_id]}"}},
		{"topic rule with condition", map[string]any{"hosts": "k:1", "topic": "t", "topics": []any{
			map[string]any{"topic": "x", "when": map[string]any{"equals": map[string]any{"type": "dns"}}}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			o, err := FromMap(c.m, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			doc := []byte(httpDoc)
			var rec kgo.Record
			b.ReportAllocs()
			for b.Loop() {
				o.arena = o.arena[:0]
				if _, ok := o.prepare(&rec, doc); !ok {
					b.Fatal("dropped")
				}
			}
		})
	}
}
