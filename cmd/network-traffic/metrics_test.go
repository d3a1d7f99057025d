package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// metrics_interval on a standalone live capture logs each interval's
// figures: a warning for an interval that lost packets or data, an info
// line otherwise; files and captures without the option log nothing.
func TestMetricsIntervalStandalone(t *testing.T) {
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "f", "type": "flow", "interface": map[string]any{"device": "lo", "metrics_interval": "200ms", "capture_loss_threshold": 0.05}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	every, threshold := liveMetricsInterval(in)
	if every != 200*time.Millisecond || threshold != 0.05 {
		t.Fatalf("interval %v, threshold %v", every, threshold)
	}
	file, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "f", "type": "flow", "interface": map[string]any{"file": "x.pcap", "metrics_interval": "200ms"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := liveMetricsInterval(file); e != 0 {
		t.Fatalf("a file capture: interval %v", e)
	}

	var mu sync.Mutex
	st := capture.Stats{}
	stats := func() capture.Stats { mu.Lock(); defer mu.Unlock(); return st }
	buf := &lockedBuf{}
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	stop := startMetrics(log, every, threshold, stats)
	mu.Lock()
	st.Packets, st.PcapReceived = 1000, 1000
	st.CaptureLoss.AckedBytes = 10000
	mu.Unlock()
	waitFor := func(what string) {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(buf.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", what, buf.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("capture metrics") // one interval: nothing lost
	mu.Lock()
	st.Packets, st.PcapReceived, st.PcapDropped = 1500, 1600, 100
	st.CaptureLoss.AckedBytes, st.CaptureLoss.UnseenBytes = 20000, 1000
	mu.Unlock()
	waitFor("level=WARN")
	stop()
	out := buf.String()
	if !strings.Contains(out, `level=INFO msg="capture metrics" interval=200ms packets=1000`) {
		t.Errorf("no info line for the first interval:\n%s", out)
	}
	if !strings.Contains(out, `level=WARN msg="capture lost packets in the last interval" interval=200ms packets=500 events=0 kernel_received=600 kernel_dropped=100 acked_bytes=10000 unseen_bytes=1000 capture_loss_percent=10`) {
		t.Errorf("no warning for the lossy interval:\n%s", out)
	}
}
