package logstash

import (
	"context"
	"net"
	"testing"

	lumberserver "github.com/elastic/go-lumber/server/v2"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// BenchmarkPublish: batches of 128 sample events (the size the publish
// queue hands over for ~1 KB documents) to go-lumber's server in this
// process, acknowledged at once without decoding the events.
func BenchmarkPublish(b *testing.B) {
	for _, level := range []int{0, 3} {
		b.Run(map[int]string{0: "plain", 3: "level3"}[level], func(b *testing.B) {
			srv := newServerB(b)
			o, err := FromMap(map[string]any{"hosts": []any{srv}, "compression_level": level}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			ss, _ := outtest.Samples()
			batch := outtest.Docs(ss, 0, 128)
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

func newServerB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// Events are not decoded: what is measured is this output (framing,
	// compression, windows), not the test server's JSON decoding.
	srv, err := lumberserver.NewWithListener(ln, lumberserver.JSONDecoder(func([]byte, any) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for batch := range srv.ReceiveChan() {
			batch.ACK()
		}
	}()
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
