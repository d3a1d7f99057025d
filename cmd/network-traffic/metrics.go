package main

import (
	"log/slog"
	"time"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
)

// liveMetricsInterval is the shortest metrics_interval of the input's live
// captures (0: none asked for periodic figures). Files have no kernel
// counters, and their summary comes at the end.
func liveMetricsInterval(in *config.Input) (time.Duration, float64) {
	var every time.Duration
	threshold := config.DefaultCaptureLossThreshold
	first := true
	for _, c := range in.Captures {
		if c.Interface.File != "" {
			continue
		}
		if m := c.Interface.MetricsInterval; m > 0 && (every == 0 || m < every) {
			every = m
		}
		if t := c.Interface.LossThreshold(); first || t < threshold {
			threshold, first = t, false
		}
	}
	return every, threshold
}

// startMetrics logs, every interval of a standalone live capture, what it
// read and lost in that interval: a warning when the kernel dropped
// packets or the capture loss passed capture_loss_threshold, information
// otherwise (Packetbeat's metrics_interval samples its capture counters at
// that period; here they go to the log, as there is no monitoring endpoint).
func startMetrics(log *slog.Logger, every time.Duration, threshold float64, stats func() capture.Stats) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	prev := stats()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cur := stats()
				logWindow(log, every, threshold, prev, cur)
				prev = cur
			}
		}
	}()
	return func() { close(done); <-finished }
}

func logWindow(log *slog.Logger, every time.Duration, threshold float64, prev, cur capture.Stats) {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return a // counters restarted
		}
		return a - b
	}
	drops := sub(cur.PcapDropped+cur.PcapIfDropped, prev.PcapDropped+prev.PcapIfDropped)
	recv := sub(cur.PcapReceived, prev.PcapReceived)
	acked := sub(cur.CaptureLoss.AckedBytes, prev.CaptureLoss.AckedBytes)
	unseen := sub(cur.CaptureLoss.UnseenBytes, prev.CaptureLoss.UnseenBytes)
	loss := capture.LossPercent(unseen, acked)
	args := []any{"interval", every, "packets", sub(cur.Packets, prev.Packets), "events", sub(cur.Events, prev.Events),
		"kernel_received", recv, "kernel_dropped", drops,
		"acked_bytes", acked, "unseen_bytes", unseen, "capture_loss_percent", loss}
	if drops > 0 || (acked > 0 && float64(unseen) > threshold*float64(acked)) {
		log.Warn("capture lost packets in the last interval", args...)
		return
	}
	log.Info("capture metrics", args...)
}
