package redis

import (
	"context"
	"testing"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// BenchmarkPublish: batches of 128 sample events to a real redis-server,
// one list per data stream (format-string key) or one channel.
func BenchmarkPublish(b *testing.B) {
	addr := outtest.StartRedis(b, portB)
	ss, err := outtest.Samples()
	if err != nil {
		b.Fatal(err)
	}
	batch := outtest.Docs(ss, 0, 128)
	for _, tc := range []struct {
		name string
		cfg  map[string]any
	}{
		{"list-by-stream", map[string]any{"key": "%{[data_stream.type]}-%{[data_stream.dataset]}"}},
		{"channel", map[string]any{"datatype": "channel"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.cfg["hosts"] = []any{addr}
			o, err := FromMap(tc.cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			b.ResetTimer()
			for range b.N {
				if err := o.Publish(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
