package diskqueue

import (
	"bytes"
	"context"
	"testing"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
)

// discard counts documents; it keeps no body, so queues may reuse memory.
type discard struct{ n int }

func (d *discard) Publish(_ context.Context, b []output.Doc) error { d.n += len(b); return nil }
func (d *discard) Close() error                                    { return nil }
func (d *discard) ReusesBodies() bool                              { return true }

// benchQueue pushes b.N documents of about 600 bytes (a typical HTTP
// transaction) through p and waits until the output has them all.
func benchQueue(b *testing.B, p publish.Pipeline, out *discard) {
	body := bytes.Repeat([]byte("x"), 600)
	go p.Run(context.Background())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.SendCopy("logs-network_traffic.http-default", body)
	}
	p.Close()
	b.StopTimer()
	if out.n != b.N {
		b.Fatalf("delivered %d of %d", out.n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkMemQueue(b *testing.B) {
	out := &discard{}
	benchQueue(b, publish.NewQueue(out, 8192), out)
}

func BenchmarkDiskQueue(b *testing.B) {
	out := &discard{}
	q, err := Open(Config{Path: b.TempDir(), MaxSize: 256 << 20, SegmentSize: 16 << 20}, out, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchQueue(b, q, out)
}

// BenchmarkDiskQueueLazySync fsyncs only once a second (write_ahead
// larger than the run): the cost of the write path without the fsyncs.
func BenchmarkDiskQueueLazySync(b *testing.B) {
	out := &discard{}
	q, err := Open(Config{Path: b.TempDir(), MaxSize: 256 << 20, SegmentSize: 16 << 20, WriteAhead: 1 << 30}, out, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchQueue(b, q, out)
}
