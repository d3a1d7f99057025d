package capture

import (
	"context"
	"os"
	"testing"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"

	_ "github.com/network-traffic/network-traffic/decoders/all"
)

type countSink struct{ n, bytes int }

func (s *countSink) Send(d output.Doc) { s.n++; s.bytes += len(d.Body) }

// BenchmarkMixedCapture decodes the large mixed capture made by
// _dev/bench/make-capture.sh (BENCH_PCAP, default _dev/bench/out/mixed.pcap)
// with every protocol and flows on, as the binary does without -c; documents
// are encoded and counted, not written. `mage bench` measures the binary
// end to end (NDJSON to a file) and records the figures in BENCHMARKS.md.
func BenchmarkMixedCapture(b *testing.B) {
	pcap := os.Getenv("BENCH_PCAP")
	if pcap == "" {
		pcap = "../../_dev/bench/out/mixed.pcap"
	}
	if _, err := os.Stat(pcap); err != nil {
		b.Skipf("no benchmark capture at %s: run _dev/bench/make-capture.sh", pcap)
	}
	streams := []any{
		map[string]any{"type": "flow"},
		map[string]any{"type": "icmp"},
	}
	for _, n := range []string{"dns", "http"} {
		streams = append(streams, map[string]any{"type": n})
	}
	for i := range streams {
		streams[i].(map[string]any)["interface"] = map[string]any{"file": pcap, "top_speed": true}
	}
	b.ReportAllocs()
	var packets uint64
	var events int
	for i := 0; i < b.N; i++ {
		in, err := config.Parse(map[string]any{"type": "packet", "streams": streams})
		if err != nil {
			b.Fatal(err)
		}
		sink := &countSink{}
		w, err := New(in, sink, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		packets += w.Stats().Packets
		events += sink.n
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
