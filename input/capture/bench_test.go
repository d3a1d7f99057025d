package capture

import (
	"context"
	"os"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output/ndjson"
	"github.com/network-traffic/network-traffic/input/publish"

	_ "github.com/network-traffic/network-traffic/decoders/all"
)

// countingWriter counts the NDJSON bytes the benchmark would have written.
type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// BenchmarkMixedCapture decodes the large mixed capture made by
// _dev/bench/make-capture.sh (BENCH_PCAP, default _dev/bench/out/mixed.pcap)
// with every registered protocol and flows on, as the binary does without
// -c; documents go through the publish queue and the NDJSON output into a
// byte counter (no disk). NT_BENCH_DETECT=1 turns detect: true on for the
// whole input. `mage bench` measures the binary end to end
// (NDJSON to a file) and records the figures in BENCHMARKS.md.
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
	for _, n := range protocol.Names() {
		streams = append(streams, map[string]any{"type": n})
	}
	for i := range streams {
		streams[i].(map[string]any)["interface"] = map[string]any{"file": pcap, "top_speed": true}
	}
	if os.Getenv("GOGC") == "" {
		// The binary's default (cmd/network-traffic/gc.go).
		defer debug.SetGCPercent(debug.SetGCPercent(200))
	}
	b.ReportAllocs()
	var packets uint64
	var events int
	for i := 0; i < b.N; i++ {
		input := map[string]any{"type": "packet", "streams": streams}
		if os.Getenv("NT_BENCH_DETECT") != "" {
			input["detect"] = true // the cost of detection by content
		}
		in, err := config.Parse(input)
		if err != nil {
			b.Fatal(err)
		}
		cw := &countingWriter{}
		q := publish.NewQueue(ndjson.NewWriter(cw), 8192)
		go q.Run(context.Background())
		w, err := New(in, q, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		q.Close()
		packets += w.Stats().Packets
		events += int(q.Sent())
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
