package kafka

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

type discard struct{ n int }

func (d *discard) Publish(_ context.Context, b []output.Doc) error { d.n += len(b); return nil }
func (d *discard) Close() error                                    { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBrokerThroughput measures events/s from a capture replay to Kafka
// (every record acknowledged) against the same replay into a discarding
// output. Only with NT_KAFKA_BENCH=1: it is a measurement, not a check.
//
//	NT_KAFKA_BENCH=1 go test -run BrokerThroughput -v ./input/output/kafka/
func TestBrokerThroughput(t *testing.T) {
	if os.Getenv("NT_KAFKA_BENCH") == "" {
		t.Skip("set NT_KAFKA_BENCH=1 to measure")
	}
	addr := broker(t)
	pcap := filepath.Join(repoRoot(t), "_dev/pcaps/redis/benchmark.pcap")
	if p := os.Getenv("NT_KAFKA_BENCH_PCAP"); p != "" {
		pcap = p
	}
	loop := 50
	if s := os.Getenv("NT_KAFKA_BENCH_LOOP"); s != "" {
		loop, _ = strconv.Atoi(s)
	}
	measure := func(name string, out output.Output) {
		c0, w0 := cpuTime(), time.Now()
		docs := replay(t, pcap, loop, out)
		wall, cpu := time.Since(w0), cpuTime()-c0
		t.Logf("%-28s %7d events in %6.2fs: %8.0f events/s, CPU %5.2fs (%4.0f%% of one core)",
			name, len(docs), wall.Seconds(), float64(len(docs))/wall.Seconds(), cpu.Seconds(), 100*cpu.Seconds()/wall.Seconds())
	}
	measure("discard (floor)", &discard{})
	for _, c := range []map[string]any{
		{"compression": "gzip"}, // Beats' default, level 4
		{"compression": "snappy"},
		{"compression": "lz4"},
		{"compression": "zstd"},
		{"compression": "none"},
		{"compression": "snappy", "required_acks": -1},
		{"compression": "snappy", "topic": "%{[data_stream.type]}-%{[data_stream.dataset]}", "key": "%{[network.community_id]}"},
	} {
		name := c["compression"].(string)
		if a, ok := c["required_acks"]; ok {
			name += " acks=" + fmtAny(a)
		}
		if _, ok := c["key"]; ok {
			name += " dynamic topic+key"
		}
		c["hosts"] = []any{addr}
		if _, ok := c["topic"]; !ok {
			c["topic"] = prefix(t)
		} else {
			c["topic"] = prefix(t) + "-" + c["topic"].(string)
		}
		o := newOut(t, c)
		measure(name, o)
		if st := o.Stats(); st.Failed != 0 {
			t.Fatalf("%s: %+v", name, st)
		}
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case int:
		return itoa(x)
	}
	return "?"
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
