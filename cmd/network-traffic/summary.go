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
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
	"github.com/network-traffic/network-traffic/input/publish/diskqueue"
	"github.com/network-traffic/network-traffic/internal/heapwatch"
)

// outputSummary is what the run delivered, from the queue and the output.
type outputSummary struct {
	Delivered   uint64 `json:"delivered"`
	Retried     uint64 `json:"retried"`
	Rejected    uint64 `json:"rejected"`
	Undelivered uint64 `json:"undelivered"`
	// FailedAttempts counts Publish calls that returned an error.
	FailedAttempts uint64 `json:"failed_attempts"`
	LastError      string `json:"last_error,omitempty"`
}

func summarizeOutput(q publish.Pipeline, out output.Output) outputSummary {
	o := outputSummary{Delivered: q.Sent(), Undelivered: q.Undelivered(), FailedAttempts: q.Failures(), LastError: q.LastError()}
	if r, ok := out.(output.StatsReporter); ok {
		st := r.Stats()
		o.Delivered, o.Retried, o.Rejected = st.Published, st.Retries, st.Failed
		if o.LastError == "" {
			o.LastError = st.LastError
		}
	}
	return o
}

func printSummary(w io.Writer, s capture.Stats, q publish.Pipeline, out output.Output, took time.Duration) {
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
		if r.Packets > 0 || r.KernelReceived > 0 {
			// One of several interfaces: its own share of the totals.
			fmt.Fprintf(w, "; %d packets (%d bytes), kernel received %d, dropped %d", r.Packets, r.Bytes, r.KernelReceived, r.KernelDropped)
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
	if len(s.ShardQueues) > 0 {
		fmt.Fprintf(w, "  shards: %d, %d frames dropped for stopped shards; queues of %d batches of up to %d frames, waiting now/most at once (frames, batches):",
			s.Shards, s.ShardDropped, s.ShardQueues[0].Capacity, s.ShardQueues[0].BatchFrames)
		for _, q := range s.ShardQueues {
			fmt.Fprintf(w, " [%d] %d/%d, %d/%d", q.Shard, q.Frames, q.MaxFrames, q.Batches, q.MaxBatches)
		}
		fmt.Fprintln(w)
	}
	if l := s.CaptureLoss; l.AckEvents > 0 {
		fmt.Fprintf(w, "  capture loss: %.3f%% (%d of %d acknowledged bytes never seen; %d of %d ACKs covered unseen data)\n",
			l.Percent, l.UnseenBytes, l.AckedBytes, l.GapEvents, l.AckEvents)
	}
	rows := s.Dropped
	if n := q.Undelivered(); n > 0 {
		rows = append(rows, capture.DropRow{Layer: "output", Reason: "undelivered", Count: n})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "  dropped, by reason:")
		for _, r := range rows {
			fmt.Fprintf(w, "    %-10s %-32s %12d\n", r.Layer, r.Reason, r.Count)
		}
	}
	if s.Decode.Decapsulated > 0 || s.Decode.TunnelTooDeep > 0 {
		fmt.Fprintf(w, "  tunnels: %d packets decapsulated, %d nested too deep\n", s.Decode.Decapsulated, s.Decode.TunnelTooDeep)
	}
	if s.ProcessorErrors > 0 {
		fmt.Fprintf(w, "  processors: %d events failed a processor (published with error.message)\n", s.ProcessorErrors)
	}
	if o := summarizeOutput(q, out); o.Retried > 0 || o.Rejected > 0 || o.Undelivered > 0 || o.FailedAttempts > 0 {
		fmt.Fprintf(w, "  output: %d delivered, %d retried, %d rejected, %d undelivered", o.Delivered, o.Retried, o.Rejected, o.Undelivered)
		if o.LastError != "" {
			fmt.Fprintf(w, "; last error: %s", o.LastError)
		}
		fmt.Fprintln(w)
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
func writeStatsJSON(path string, s capture.Stats, q publish.Pipeline, out output.Output, took time.Duration) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	doc := struct {
		capture.Stats
		Output     outputSummary  `json:"output"`
		Seconds    float64        `json:"seconds"`
		Mallocs    uint64         `json:"mallocs"`
		TotalAlloc uint64         `json:"total_alloc_bytes"`
		HeapSys    uint64         `json:"heap_sys_bytes"`
		PeakLive   uint64         `json:"peak_live_heap_bytes"`
		GCCycles   uint64         `json:"gc_cycles"`
		Queue      map[string]any `json:"queue,omitempty"`
	}{s, summarizeOutput(q, out), took.Seconds(), ms.Mallocs, ms.TotalAlloc, ms.HeapSys, heapwatch.PeakLive(), uint64(ms.NumGC), nil}
	if r, ok := q.(publish.StateReporter); ok {
		doc.Queue = r.QueueState()
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// printDiskQueue says where a run with queue.disk left its documents: all
// acknowledged by the output, or some safely on disk (written and fsynced),
// to be sent by the next run over the same queue.disk.path.
func printDiskQueue(w io.Writer, q *diskqueue.Queue) {
	st := q.QueueState()
	if n := q.Depth(); n > 0 {
		fmt.Fprintf(w, "  queue.disk: %d documents acknowledged by the output; %d safely on disk in %s (%d bytes, fsynced), sent on the next start\n",
			q.Sent(), n, q.Path(), st["bytes_unacked"])
	} else {
		fmt.Fprintf(w, "  queue.disk: all %d documents acknowledged by the output, nothing left in %s\n", q.Sent(), q.Path())
	}
	if n := q.Corrupt(); n > 0 {
		fmt.Fprintf(w, "  queue.disk: %d corrupt records skipped: %s\n", n, st["last_corruption"])
	}
	if r := st["events_recovered"].(int64); r > 0 {
		fmt.Fprintf(w, "  queue.disk: %d documents recovered from a previous run\n", r)
	}
}
