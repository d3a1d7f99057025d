package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/client"
	"github.com/elastic/elastic-agent-client/v7/pkg/proto"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/publish"
)

// inputUnit is one `packet` input unit and its capture worker.
type inputUnit struct {
	m    *manager
	unit *client.Unit
	id   string

	cfgFP string // fingerprint of the config last applied
	// failed is a fatal problem (bad config, capture cannot start); the
	// unit reports FAILED with it until a new config arrives.
	failed   string
	finished string // a replayed pcap file reached its end
	stopping bool   // expected STOPPED, waiting for the worker

	mu     sync.Mutex // guards in, worker for diagnostics hooks
	in     *config.Input
	worker Runner
	gen    int // worker generation, to ignore exits of replaced workers
	cancel context.CancelFunc
	done   chan struct{}

	// last is the snapshot at the start of the current loss window
	// (windowAt); lossMsgs is what the previous window lost.
	last     capture.Stats
	windowAt time.Time
	lossMsgs []string
}

func (m *manager) handleInput(ctx context.Context, ch client.UnitChanged) {
	u := ch.Unit
	iu := m.units[u.ID()]
	if ch.Type == client.UnitChangedRemoved {
		if iu != nil {
			iu.cancelWorker()
			delete(m.units, u.ID())
			m.log.Info("unit removed", "unit", u.ID())
		}
		return
	}
	if iu == nil {
		iu = &inputUnit{m: m, unit: u, id: u.ID()}
		m.units[u.ID()] = iu
		iu.registerDiagnostics()
		_ = u.UpdateState(client.UnitStateStarting, "Starting", nil)
	}
	exp := u.Expected()
	if exp.State == client.UnitStateStopped {
		iu.stop()
		return
	}
	iu.stopping = false
	var src map[string]any
	if exp.Config != nil {
		if exp.Config.Source != nil {
			src = exp.Config.Source.AsMap()
		}
		src = withTypedFields(src, exp.Config)
	}
	fp := fingerprint(src)
	if fp == iu.cfgFP && ch.Triggers&client.TriggeredConfigChange == 0 && (iu.worker != nil || iu.failed != "") {
		return // log level or feature change only
	}
	iu.cfgFP = fp
	iu.apply(ctx, src)
}

// withTypedFields makes sure the fields the agent sends typed (id, type,
// data_stream.namespace) are in the map config.Parse reads.
func withTypedFields(src map[string]any, c *proto.UnitExpectedConfig) map[string]any {
	if src == nil {
		src = map[string]any{}
	}
	if _, ok := src["id"]; !ok && c.GetId() != "" {
		src["id"] = c.GetId()
	}
	if _, ok := src["type"]; !ok && c.GetType() != "" {
		src["type"] = c.GetType()
	}
	if ns := c.GetDataStream().GetNamespace(); ns != "" {
		if _, ok := src["data_stream"]; !ok {
			src["data_stream"] = map[string]any{"namespace": ns}
		}
	}
	return src
}

// apply validates the config and starts or reconfigures the worker.
func (iu *inputUnit) apply(ctx context.Context, src map[string]any) {
	u := iu.unit
	_ = u.UpdateState(client.UnitStateConfiguring, "Configuring", nil)
	iu.failed, iu.finished = "", ""
	fail := func(msg string) {
		iu.failed = msg
		iu.m.log.Error("unit failed", "unit", iu.id, "error", msg)
		iu.cancelWorker()
		iu.report(client.UnitStateFailed, msg)
	}
	if t, _ := src["type"].(string); t != "" && t != "packet" {
		fail(fmt.Sprintf("input type %q is not handled by network-traffic (expected packet)", t))
		return
	}
	in, err := config.Parse(src)
	if err != nil {
		iu.setInput(nil)
		fail("Invalid configuration: " + err.Error())
		return
	}
	iu.setInput(in)
	if iu.worker != nil {
		if err := iu.worker.Reconfigure(in); err != nil {
			fail("Invalid configuration: " + err.Error())
			return
		}
		iu.m.log.Info("unit reconfigured", "unit", iu.id, "streams", len(in.Streams))
	} else {
		w, err := iu.m.opts.NewWorker(in, iu.m.queue, capture.Options{
			AgentExtra: iu.m.agentExtra,
			Host:       hostmeta.Default(),
			Logger:     iu.m.log.With("unit", iu.id),
		})
		if err != nil {
			fail("Cannot start capture: " + err.Error())
			return
		}
		iu.start(ctx, w)
		iu.m.log.Info("unit started", "unit", iu.id, "streams", len(in.Streams))
	}
	iu.last = iu.worker.Stats()
	iu.evaluate("", 0, nil)
}

func (iu *inputUnit) setInput(in *config.Input) {
	iu.mu.Lock()
	iu.in = in
	iu.mu.Unlock()
}

func (iu *inputUnit) start(ctx context.Context, w Runner) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	iu.mu.Lock()
	iu.worker = w
	iu.gen++
	gen := iu.gen
	iu.cancel = cancel
	iu.done = make(chan struct{})
	done := iu.done
	iu.mu.Unlock()
	exited, quit := iu.m.exited, iu.m.quit
	go func() {
		err := w.Run(wctx)
		close(done)
		select {
		case exited <- workerExit{id: iu.id, gen: gen, err: err}:
		case <-quit: // shutting down: nobody reads exits any more
		}
	}()
}

// cancelWorker asks the worker to stop (it flushes pending transactions)
// without waiting.
func (iu *inputUnit) cancelWorker() {
	iu.mu.Lock()
	defer iu.mu.Unlock()
	if iu.cancel != nil {
		iu.cancel()
		iu.cancel = nil
	}
	iu.worker = nil
}

func (iu *inputUnit) waitWorker() {
	iu.mu.Lock()
	done := iu.done
	iu.mu.Unlock()
	if done != nil {
		<-done
	}
}

// stop handles expected STOPPED: STOPPING now, STOPPED once the worker has
// flushed (reported from exited).
func (iu *inputUnit) stop() {
	if iu.stopping {
		return
	}
	iu.stopping = true
	iu.mu.Lock()
	running := iu.cancel != nil
	iu.mu.Unlock()
	if !running {
		_ = iu.unit.UpdateState(client.UnitStateStopped, "Stopped", nil)
		return
	}
	_ = iu.unit.UpdateState(client.UnitStateStopping, "Stopping", iu.payload())
	iu.cancelWorker()
	// The exit arrives through workerExited with this generation; gen is
	// unchanged by cancelWorker, so it is recognised.
}

// exited is called on the manager loop when the current worker's Run
// returned.
func (iu *inputUnit) exited(err error) {
	iu.mu.Lock()
	iu.worker, iu.cancel = nil, nil
	in := iu.in
	iu.mu.Unlock()
	switch {
	case iu.stopping:
		_ = iu.unit.UpdateState(client.UnitStateStopped, "Stopped", nil)
		iu.m.log.Info("unit stopped", "unit", iu.id)
	case iu.failed != "":
		// Stopped because the new config was refused: stay FAILED.
		iu.report(client.UnitStateFailed, iu.failed)
	case err != nil:
		var pe *capture.PanicError
		if errors.As(err, &pe) {
			// Not a parser's (those are recovered per connection): the
			// process state is suspect, so it ends once the queue is
			// flushed and the agent restarts it.
			iu.failed = "Capture stopped: " + pe.Summary() + "; the component restarts (stack in the log)"
			iu.report(client.UnitStateFailed, iu.failed)
			iu.m.fatal = err
			return
		}
		iu.failed = "Capture stopped: " + err.Error()
		iu.report(client.UnitStateFailed, iu.failed)
	default:
		// Only a pcap replay ends by itself.
		var files []string
		if in != nil {
			for _, c := range in.Captures {
				if c.Interface.File != "" {
					files = append(files, c.Interface.File)
				}
			}
		}
		iu.finished = "Finished reading " + strings.Join(files, ", ")
		iu.report(client.UnitStateHealthy, iu.finished)
	}
}

// evaluate reports the unit's health: FAILED for a fatal problem or a
// failed stream; DEGRADED for libpcap drops, a full queue on a live capture,
// an unknown stream type or a failing output; HEALTHY otherwise.
func (iu *inputUnit) evaluate(outMsg string, blocked uint64, q publish.Pipeline) {
	if iu.stopping {
		return
	}
	if iu.failed != "" {
		iu.report(client.UnitStateFailed, iu.failed)
		return
	}
	iu.mu.Lock()
	w, in := iu.worker, iu.in
	iu.mu.Unlock()
	if w == nil {
		if iu.finished != "" {
			iu.report(client.UnitStateHealthy, iu.finished)
		}
		return
	}
	st := w.Stats()
	var degraded []string
	for _, id := range sortedStreamIDs(w.StreamStates()) {
		s := streamState(w.StreamStates()[id])
		switch s.Status {
		case "FAILED":
			iu.report(client.UnitStateFailed, s.Error)
			return
		case "DEGRADED":
			degraded = append(degraded, s.Error)
		}
	}
	// Loss is measured over windows of metrics_interval (the health
	// period by default); its verdict stands until the next window ends.
	now := time.Now()
	if window := metricsWindow(in, iu.m.opts.HealthEvery); iu.windowAt.IsZero() || now.Sub(iu.windowAt) >= window-iu.m.opts.HealthEvery/2 {
		iu.lossMsgs = lossMessages(iu.last, st, in, window)
		iu.last, iu.windowAt = st, now
	}
	degraded = append(degraded, iu.lossMsgs...)
	for _, r := range st.Rings {
		if r.State != "" { // the interface is down, or the default route moved badly
			degraded = append(degraded, r.State)
		}
	}
	period := iu.m.opts.HealthEvery.Round(time.Second)
	if sq, ok := q.(*switchQueue); ok {
		full, st := sq.full()
		if e, _ := st["error"].(string); e != "" {
			degraded = append(degraded, e)
		}
		if full {
			degraded = append(degraded, fmt.Sprintf("disk queue full (%v of %v bytes unacknowledged in %v): capture is held back until the output acknowledges",
				st["bytes_unacked"], st["max_size"], st["path"]))
			blocked = 0
		}
	}
	if blocked > 0 && q != nil && hasLive(in) {
		degraded = append(degraded, fmt.Sprintf("publish queue full %d times in the last %s (%d/%d queued): capture is slowed and may drop",
			blocked, period, q.Depth(), q.Capacity()))
	}
	if outMsg != "" {
		degraded = append(degraded, outMsg)
	}
	if len(degraded) > 0 {
		iu.report(client.UnitStateDegraded, strings.Join(degraded, "; "))
		return
	}
	iu.report(client.UnitStateHealthy, "Healthy")
}

// metricsWindow is the shortest metrics_interval of the input's captures,
// or every health check when none sets one.
func metricsWindow(in *config.Input, healthEvery time.Duration) time.Duration {
	w := time.Duration(0)
	if in != nil {
		for _, c := range in.Captures {
			if m := c.Interface.MetricsInterval; m > 0 && (w == 0 || m < w) {
				w = m
			}
		}
	}
	if w < healthEvery {
		w = healthEvery
	}
	return w
}

// periodText says how long a window was: whole seconds, or as is below one.
func periodText(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	return d.Round(time.Second).String()
}

// lossMessages describes what a window lost, from the snapshots at its
// start and end: kernel drops, capture loss past the threshold, and the
// drop table's rows.
func lossMessages(prev, st capture.Stats, in *config.Input, window time.Duration) []string {
	var msgs []string
	period := periodText(window)
	drops := (st.PcapDropped + st.PcapIfDropped) - (prev.PcapDropped + prev.PcapIfDropped)
	if st.PcapDropped+st.PcapIfDropped < prev.PcapDropped+prev.PcapIfDropped {
		drops = 0 // worker rebuilt: counters restarted
	}
	if drops > 0 {
		recv := st.PcapReceived - prev.PcapReceived
		// The kernel's received count includes what it dropped.
		if recv < drops {
			recv = drops
		}
		msgs = append(msgs, fmt.Sprintf("the kernel dropped %d of %d packets (%.2f%%) in the last %s", drops, recv, capture.LossPercent(drops, recv), period))
		msgs = append(msgs, interfaceDrops(prev.Rings, st.Rings)...)
	}
	if msg := captureLossSince(prev.CaptureLoss, st.CaptureLoss, lossThreshold(in), period); msg != "" {
		msgs = append(msgs, msg)
	}
	if msg := dropsSince(prev.Dropped, st.Dropped, window); msg != "" {
		msgs = append(msgs, msg)
	}
	return msgs
}

// lossThreshold is the strictest capture_loss_threshold of the input's
// captures: the figures are summed over them.
func lossThreshold(in *config.Input) float64 {
	t := config.DefaultCaptureLossThreshold
	if in == nil {
		return t
	}
	for i, c := range in.Captures {
		if i == 0 || c.Interface.LossThreshold() < t {
			t = c.Interface.LossThreshold()
		}
	}
	return t
}

// captureLossSince describes the capture loss of one health period (the
// acknowledged bytes the capture never saw, over the bytes acknowledged)
// when it passes threshold, or "". A period with nothing acknowledged has
// no figure.
func captureLossSince(prev, cur capture.CaptureLoss, threshold float64, period string) string {
	if cur.AckedBytes < prev.AckedBytes || cur.UnseenBytes < prev.UnseenBytes {
		prev = capture.CaptureLoss{} // worker rebuilt: counters restarted
	}
	acked, unseen := cur.AckedBytes-prev.AckedBytes, cur.UnseenBytes-prev.UnseenBytes
	if acked == 0 || float64(unseen) <= threshold*float64(acked) {
		return ""
	}
	return fmt.Sprintf("capture loss %.2f%% in the last %s: %d of %d bytes acknowledged by peers were never captured (%d of %d ACKs; capture_loss_threshold %g%%)",
		capture.LossPercent(unseen, acked), period, unseen, acked, cur.GapEvents-prev.GapEvents, cur.AckEvents-prev.AckEvents, 100*threshold)
}

// dropAlertMin is how many items one health period must lose before the
// unit turns DEGRADED: a stray retransmission gap on a busy link is not an
// incident, a protocol dropping requests is. Kernel drops are reported
// apart (above), byte counts are left to the rows of the items they cost,
// and what the configuration asked to drop never counts.
const dropAlertMin = 10

// dropsSince describes what the drop table gained between two snapshots,
// the largest first, or "" when it is below dropAlertMin. A table that
// shrank (worker rebuilt) starts over.
// interfaceDrops names the interfaces of a capture of several whose kernel
// socket dropped since the last evaluation, with their own figures.
func interfaceDrops(prev, cur []capture.RingInfo) []string {
	before := map[string]capture.RingInfo{}
	for _, r := range prev {
		before[r.Device] = r
	}
	var out []string
	for _, r := range cur {
		p := before[r.Device]
		if r.KernelDropped <= p.KernelDropped || r.KernelReceived < p.KernelReceived {
			continue // no drop, or counters restarted
		}
		d, n := r.KernelDropped-p.KernelDropped, r.KernelReceived-p.KernelReceived
		out = append(out, fmt.Sprintf("interface %s: the kernel dropped %d of %d packets", r.Device, d, max(n, d)))
	}
	return out
}

func dropsSince(prev, cur []capture.DropRow, period time.Duration) string {
	type delta struct {
		row capture.DropRow
		n   uint64
	}
	var ds []delta
	var total uint64
	for _, r := range cur {
		// Byte counts are not items: the items they cost show up in the
		// protocol's own rows (a gap drops a message there).
		if r.Intentional() || r.Layer == "kernel" || strings.HasSuffix(r.Reason, "_bytes") {
			continue
		}
		was := capture.DropsOf(prev, r.Layer, r.Reason)
		if r.Count <= was {
			continue
		}
		ds = append(ds, delta{r, r.Count - was})
		total += r.Count - was
	}
	if total < dropAlertMin {
		return ""
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].n > ds[j].n })
	parts := make([]string, 0, 3)
	for i, d := range ds {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more reasons", len(ds)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s %d", d.row.Layer, d.row.Reason, d.n))
	}
	return fmt.Sprintf("dropped in the last %s: %s (see diagnostics: capture.dropped)", periodText(period), strings.Join(parts, ", "))
}

func hasLive(in *config.Input) bool {
	if in == nil {
		return false
	}
	for _, c := range in.Captures {
		if c.Interface.File == "" {
			return true
		}
	}
	return false
}

// streamState turns an unknown stream type into DEGRADED: the rest of the
// input runs, and Beats would only log it.
func streamState(s capture.StreamState) capture.StreamState {
	if s.Status == "FAILED" && strings.Contains(s.Error, "unknown stream type") {
		s.Status = "DEGRADED"
	}
	return s
}

func sortedStreamIDs(m map[string]capture.StreamState) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (iu *inputUnit) report(state client.UnitState, msg string) {
	_ = iu.unit.UpdateState(state, msg, iu.payload())
}

// payload is `{streams: {<id>: {status, error}}}`.
func (iu *inputUnit) payload() map[string]any {
	iu.mu.Lock()
	w, in := iu.worker, iu.in
	iu.mu.Unlock()
	streams := map[string]any{}
	var states map[string]capture.StreamState
	if w != nil {
		states = w.StreamStates()
	}
	if in != nil {
		for _, s := range in.Streams {
			ss, ok := states[s.ID]
			if !ok {
				switch {
				case s.Err != nil:
					ss = capture.StreamState{Status: "FAILED", Error: s.Err.Error()}
				case !s.Enabled:
					ss = capture.StreamState{Status: "STOPPED"}
				case iu.failed != "":
					ss = capture.StreamState{Status: "FAILED", Error: iu.failed}
				default:
					ss = capture.StreamState{Status: "STOPPED"}
				}
			}
			ss = streamState(ss)
			e := map[string]any{"status": ss.Status}
			if ss.Error != "" {
				e["error"] = ss.Error
			}
			streams[s.ID] = e
		}
	}
	if len(streams) == 0 {
		return nil
	}
	return map[string]any{"streams": streams}
}
