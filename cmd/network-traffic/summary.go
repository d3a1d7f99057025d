package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/publish"
)

func printSummary(w io.Writer, s capture.Stats, q *publish.Queue, took time.Duration) {
	secs := took.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	fmt.Fprintf(w, "network-traffic: %d packets (%d bytes), %d events, %d decode errors, %d dropped by processors in %s (%.0f packets/s, %.0f events/s)\n",
		s.Packets, s.Bytes, s.Events, s.DecodeErrors, s.DroppedEvents, took.Round(time.Millisecond),
		float64(s.Packets)/secs, float64(s.Events)/secs)
	if s.PcapReceived > 0 || s.PcapDropped > 0 {
		fmt.Fprintf(w, "  capture: %d received, %d dropped by kernel, %d dropped by interface\n", s.PcapReceived, s.PcapDropped, s.PcapIfDropped)
	}
	for _, r := range s.Rings {
		fmt.Fprintf(w, "  ring %s (%s): %s, %d blocks of %d KiB (%d MiB), frames up to %d bytes; holds %d packets of snaplen %d",
			r.Device, r.Type, r.Version, r.Blocks, r.BlockSize>>10, r.RingBytes>>20, r.FrameSize, r.PacketsAtSnaplen, r.Snaplen)
		if r.MeanCaptureLength > 0 {
			fmt.Fprintf(w, ", %d of the mean %d bytes", r.PacketsAtMeanSize, r.MeanCaptureLength)
		}
		if r.KernelFreezes > 0 {
			fmt.Fprintf(w, "; %d queue freezes", r.KernelFreezes)
		}
		if r.State != "" {
			fmt.Fprintf(w, "; %s", r.State)
		}
		fmt.Fprintln(w)
	}
	if s.TCP.Connections > 0 || s.Decode.Truncated > 0 {
		fmt.Fprintf(w, "  tcp: %d connections, %d gaps (%d bytes lost), %d retransmits, %d out of order, %d evicted; decode: %d malformed frames, %d fragments reassembled, %d dropped\n",
			s.TCP.Connections, s.TCP.Gaps, s.TCP.GapBytes, s.TCP.Retransmits, s.TCP.OutOfOrder, s.TCP.Evicted,
			s.Decode.Truncated, s.Decode.FragmentsReassembled, s.Decode.FragmentsDropped)
	}
	if q.Failures() > 0 {
		fmt.Fprintf(w, "  output: %d failed publish attempts, last error: %s\n", q.Failures(), q.LastError())
	}
	names := make([]string, 0, len(s.Protocols))
	for n := range s.Protocols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := s.Protocols[n]
		if c.Packets == 0 && c.Transactions == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-10s %9d packets %12d bytes %8d events %6d parse errors\n", n, c.Packets, c.Bytes, c.Transactions, c.ParseErrors)
	}
}

// startProgress prints a progress line every second while reading a pcap,
// only when stderr is a terminal.
func startProgress(w io.Writer, worker *capture.Worker, reading bool) (stop func()) {
	f, ok := w.(*os.File)
	if !reading || !ok {
		return func() {}
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				s := worker.Stats()
				fmt.Fprintf(w, "\r\033[K%d packets, %d events", s.Packets, s.Events)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// writeStatsJSON records the run's counters plus the process's allocation
// totals, for the benchmark (allocations per packet).
func writeStatsJSON(path string, s capture.Stats, took time.Duration) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	doc := struct {
		capture.Stats
		Seconds    float64 `json:"seconds"`
		Mallocs    uint64  `json:"mallocs"`
		TotalAlloc uint64  `json:"total_alloc_bytes"`
		HeapSys    uint64  `json:"heap_sys_bytes"`
	}{s, took.Seconds(), ms.Mallocs, ms.TotalAlloc, ms.HeapSys}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}
