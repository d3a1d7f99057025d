package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/proto"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
)

// fakeWorker stands in for a capture worker: on Run it emits one document
// per enabled stream (with the agent metadata it was given), then waits.
type fakeWorker struct {
	f    *fakeFactory
	sink capture.Sink
	opts capture.Options
	mu   sync.Mutex
	in   *config.Input
	// drops is added to PcapDropped by the test.
	drops atomic.Uint64
	// loss holds the capture-loss byte counters (CaptureLoss), acked and
	// unseen together so a health check never sees one without the other.
	loss atomic.Pointer[[2]uint64]
	// ringState, when set, is the state of the capture's ring.
	ringState atomic.Pointer[string]
	runs      atomic.Int32
	reconfs   atomic.Int32
}

type fakeFactory struct {
	mu      sync.Mutex
	workers map[string]*fakeWorker // by input id
	created atomic.Int32
	burst   int // documents each Run sends after start (may block in Send)
}

// nttest is a port-based protocol registered only in these tests, so unit
// handling does not depend on which decoders exist yet.
func init() {
	protocol.Register(&protocol.Spec{Name: "nttest", TCP: true, DefaultPorts: []uint16{80},
		New: func(_ protocol.Common, opts protocol.Options, _ protocol.Publisher) (*protocol.Instance, error) {
			// Configuration checks build an instance; the fake workers
			// never run it. Unknown options are refused as real
			// protocols refuse them.
			var none struct{}
			if err := opts.Decode(&none); err != nil {
				return nil, err
			}
			return &protocol.Instance{}, nil
		}})
}

func (f *fakeFactory) New(in *config.Input, sink capture.Sink, opts capture.Options) (Runner, error) {
	for _, c := range in.Captures {
		if c.Interface.Device == "nope0" {
			return nil, fmt.Errorf("device:nope0: no such device exists (check the interface name of the streams)")
		}
	}
	w := &fakeWorker{f: f, sink: sink, opts: opts, in: in}
	f.mu.Lock()
	f.workers[in.ID] = w
	f.mu.Unlock()
	f.created.Add(1)
	return w, nil
}

func (f *fakeFactory) get(id string) *fakeWorker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.workers[id]
}

func (w *fakeWorker) emit(tag string) {
	w.mu.Lock()
	in := w.in
	w.mu.Unlock()
	for _, s := range in.Streams {
		if s.Err != nil || !s.Enabled {
			continue
		}
		// What capture's publisher adds: the unit's members and the
		// host source's agent.* and host.*.
		body := fmt.Sprintf(`{"@timestamp":"2026-01-01T00:00:00Z","type":%q,"tag":%q`, s.Type, tag)
		for _, m := range [][]byte{w.opts.AgentExtra, w.opts.Host.Current().Doc} {
			if len(m) > 0 {
				body += "," + string(m)
			}
		}
		body += "}"
		w.sink.Send(output.Doc{Index: s.Target(), Body: []byte(body)})
	}
}

func (w *fakeWorker) Run(ctx context.Context) error {
	w.runs.Add(1)
	w.emit("start")
	for range w.f.burst {
		w.emit("burst")
	}
	<-ctx.Done()
	w.emit("flush") // pending transactions flushed on stop
	return nil
}

func (w *fakeWorker) Reconfigure(in *config.Input) error {
	w.reconfs.Add(1)
	w.mu.Lock()
	w.in = in
	w.mu.Unlock()
	w.emit("reconfigured")
	return nil
}

// addLoss adds acknowledged and unseen bytes to the capture-loss counters
// in one step.
func (w *fakeWorker) addLoss(acked, unseen uint64) {
	for {
		old := w.loss.Load()
		n := [2]uint64{acked, unseen}
		if old != nil {
			n[0] += old[0]
			n[1] += old[1]
		}
		if w.loss.CompareAndSwap(old, &n) {
			return
		}
	}
}

func (w *fakeWorker) Stats() capture.Stats {
	st := capture.Stats{PcapReceived: 1000, PcapDropped: w.drops.Load(), Protocols: map[string]capture.ProtocolCounters{"nttest": {Packets: 10}}}
	if l := w.loss.Load(); l != nil {
		st.CaptureLoss = capture.CaptureLoss{AckEvents: l[0] / 1000, AckedBytes: l[0], GapEvents: l[1] / 100, UnseenBytes: l[1]}
	}
	if p := w.ringState.Load(); p != nil {
		st.Rings = []capture.RingInfo{{Device: "va", Type: "af_packet", State: *p}}
	}
	return st
}

func (w *fakeWorker) StreamStates() map[string]capture.StreamState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]capture.StreamState{}
	for _, s := range w.in.Streams {
		var bad []string
		if spec, ok := protocol.Lookup(s.Type); ok {
			_, rest, _ := protocol.SplitCommon(spec, s.Options)
			for k := range rest {
				bad = append(bad, k)
			}
		}
		switch {
		case s.Err != nil:
			out[s.ID] = capture.StreamState{Status: "FAILED", Error: s.Err.Error()}
		case len(bad) > 0: // as the real worker's strict option decoding
			out[s.ID] = capture.StreamState{Status: "FAILED", Error: fmt.Sprintf("stream %s (%s): unknown option %q", s.ID, s.Type, bad[0])}
		case !s.Enabled:
			out[s.ID] = capture.StreamState{Status: "STOPPED"}
		default:
			out[s.ID] = capture.StreamState{Status: "HEALTHY"}
		}
	}
	return out
}

type harness struct {
	t       *testing.T
	agent   *fakeAgent
	factory *fakeFactory
	level   *slog.LevelVar
	cancel  context.CancelFunc
	done    chan error // receives Run's result once
	result  error
	ended   bool
	logs    *syncBuf
	dir     string
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, agent: newFakeAgent(t), factory: &fakeFactory{workers: map[string]*fakeWorker{}},
		level: new(slog.LevelVar), done: make(chan error, 1), logs: &syncBuf{}, dir: t.TempDir()}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: h.level}))
	opts := Options{NewWorker: h.factory.New, HealthEvery: 100 * time.Millisecond, StopTimeout: 3 * time.Second, Level: h.level, QueueSize: 64}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- RunWith(ctx, bytes.NewReader(h.agent.startUpInfo()), log, opts) }()
	t.Cleanup(func() {
		cancel()
		if !h.ended {
			select {
			case <-h.done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		}
		if t.Failed() {
			t.Logf("component log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		h.ended = true
		if err != nil {
			h.t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
}

func (h *harness) fileOutput(name string) {
	h.agent.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": name}, proto.UnitLogLevel_INFO)
}

func (h *harness) readDocs(name string) []map[string]any {
	f, err := os.Open(filepath.Join(h.dir, name))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			h.t.Fatalf("bad line %s: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

func (h *harness) waitDocs(name string, pred func([]map[string]any) bool) []map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := h.readDocs(name)
		if pred(d) {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("documents in %s never matched; have %d: %v", name, len(d), d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countTag(docs []map[string]any, tag string) int {
	n := 0
	for _, d := range docs {
		if d["tag"] == tag {
			n++
		}
	}
	return n
}

func packetInput(id string, streams ...map[string]any) map[string]any {
	list := make([]any, len(streams))
	for i, s := range streams {
		list[i] = s
	}
	return map[string]any{"id": id, "type": "packet", "name": id, "data_stream": map[string]any{"namespace": "default"}, "streams": list}
}

func stream(id, typ string, extra ...any) map[string]any {
	m := map[string]any{"id": id, "type": typ, "interface": map[string]any{"device": "lo"},
		"data_stream": map[string]any{"dataset": "network_traffic." + typ, "type": "logs"}}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func TestUnitLifecycle(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	unit := "packet-default-nt-1"
	a.setUnit(unit, proto.UnitType_INPUT, packetInput("nt-1",
		stream("http-1", "nttest", "ports", []any{80.0, 8080.0}),
		stream("flow-1", "flow", "timeout", "30s", "period", "10s")), proto.UnitLogLevel_INFO)

	o := a.waitUnit(unit, proto.State_HEALTHY, 5*time.Second)
	if st, _ := streamStatus(o, "http-1"); st != "HEALTHY" {
		t.Fatalf("http-1 status %q; payload %v", st, o.Payload.AsMap())
	}
	// The client sends the latest state at each check-in, so fast
	// transitions coalesce: the unit must never have looked broken.
	for _, line := range a.historyOf(unit) {
		if !strings.HasPrefix(line, "STARTING") && !strings.HasPrefix(line, "CONFIGURING") && !strings.HasPrefix(line, "HEALTHY") {
			t.Fatalf("history %q", a.historyOf(unit))
		}
	}
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	// The client reported who it is in the first check-in.
	a.mu.Lock()
	if a.version == nil || a.version.Name != "network-traffic" {
		t.Errorf("version info %v", a.version)
	}
	a.mu.Unlock()

	docs := h.waitDocs("out.ndjson", func(d []map[string]any) bool { return countTag(d, "start") == 2 })
	ea, _ := docs[0]["elastic_agent"].(map[string]any)
	ag, _ := docs[0]["agent"].(map[string]any)
	hn, _ := os.Hostname()
	if ea["id"] != "agent-id-1234" || ea["version"] != "9.1.0" || ea["snapshot"] != false || ag["id"] != "agent-id-1234" ||
		ag["version"] != "9.1.0" || ag["type"] != "packetbeat" || ag["name"] != hn || ag["ephemeral_id"] == nil {
		t.Fatalf("agent metadata: %v %v", ea, ag)
	}

	// Config change: same unit, new index, worker reconfigured in place.
	a.setUnit(unit, proto.UnitType_INPUT, packetInput("nt-1",
		stream("http-1", "nttest", "ports", []any{80.0, 8081.0}),
		stream("flow-1", "flow", "timeout", "30s", "period", "10s")), proto.UnitLogLevel_INFO)
	a.waitUnit(unit, proto.State_HEALTHY, 5*time.Second)
	w := h.factory.get("nt-1")
	if w.reconfs.Load() != 1 || h.factory.created.Load() != 1 {
		t.Fatalf("reconfigured %d times, %d workers created", w.reconfs.Load(), h.factory.created.Load())
	}

	// Bad config: colliding ports. FAILED, message names both streams.
	a.setUnit(unit, proto.UnitType_INPUT, packetInput("nt-1",
		stream("http-1", "nttest", "ports", []any{80.0}),
		stream("http-2", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	o = a.waitUnit(unit, proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "http-1") || !strings.Contains(o.Message, "http-2") || !strings.Contains(o.Message, "port 80") {
		t.Fatalf("message %q", o.Message)
	}
	// Flushed on stop: the failed config stopped the worker.
	h.waitDocs("out.ndjson", func(d []map[string]any) bool { return countTag(d, "flush") == 2 })
	// The old worker's exit and later health checks leave it FAILED.
	time.Sleep(300 * time.Millisecond)
	if o := a.waitUnit(unit, proto.State_FAILED, time.Second); !strings.Contains(o.Message, "port 80") {
		t.Fatalf("message %q", o.Message)
	}
	if h := a.historyOf(unit); !strings.HasPrefix(h[len(h)-1], "FAILED") {
		t.Fatalf("history %q", h)
	}

	// Bad stream option: FAILED naming the stream, payload per stream.
	a.setUnit(unit, proto.UnitType_INPUT, packetInput("nt-1",
		stream("http-1", "nttest", "ports", []any{80.0}, "no_such_option", true),
		stream("flow-1", "flow")), proto.UnitLogLevel_INFO)
	o = a.waitUnit(unit, proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "http-1") || !strings.Contains(o.Message, "no_such_option") {
		t.Fatalf("message %q", o.Message)
	}
	if st, e := streamStatus(o, "http-1"); st != "FAILED" || !strings.Contains(e, "no_such_option") {
		t.Fatalf("http-1 %s %q", st, e)
	}
	if st, _ := streamStatus(o, "flow-1"); st != "HEALTHY" {
		t.Fatalf("flow-1 %s (the valid stream keeps running)", st)
	}

	// Fixed: HEALTHY again.
	a.setUnit(unit, proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit(unit, proto.State_HEALTHY, 5*time.Second)

	// Expected STOPPED: STOPPING then STOPPED, then the agent drops it.
	a.stopUnit(unit)
	a.waitGone(unit, 5*time.Second)
	if !historyHas(a.historyOf(unit), "HEALTHY", "STOPPED", "GONE") {
		t.Fatalf("history %q", a.historyOf(unit))
	}
	h.stop()
}

func TestUnknownInterfaceAndStreamType(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u-bad", proto.UnitType_INPUT, packetInput("bad", stream("http-1", "nttest", "ports", []any{80.0}, "interface", map[string]any{"device": "nope0"})), proto.UnitLogLevel_INFO)
	o := a.waitUnit("u-bad", proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "nope0") {
		t.Fatalf("message %q", o.Message)
	}
	a.setUnit("u-mix", proto.UnitType_INPUT, packetInput("mix", stream("http-1", "nttest", "ports", []any{80.0}), stream("x-1", "gopher")), proto.UnitLogLevel_INFO)
	o = a.waitUnit("u-mix", proto.State_DEGRADED, 5*time.Second)
	if st, e := streamStatus(o, "x-1"); st != "DEGRADED" || !strings.Contains(e, "gopher") || !strings.Contains(o.Message, "x-1") {
		t.Fatalf("x-1 %s %q, unit message %q", st, e, o.Message)
	}
	// Malformed unit configs: FAILED with a message saying what is wrong.
	for i, tc := range []struct {
		src  map[string]any
		want string
	}{
		{map[string]any{"id": "t", "type": "packet", "streams": "nope"}, "streams"},
		{map[string]any{"id": "t", "type": "packet", "streams": []any{42.0}}, "streams[0]"},
		{map[string]any{"id": "t", "type": "packet"}, "no streams"},
		{map[string]any{"id": "t", "type": "log", "streams": []any{}}, `"log"`},
		{packetInput("t", stream("p-1", "nttest", "ports", "eighty")), "p-1"},
		{packetInput("t", stream("p-1", "nttest", "ports", []any{70000.0})), "p-1"},
		{packetInput("t", stream("p-1", "nttest", "interface", map[string]any{"snaplen": "big"})), "p-1 (nttest): interface"},
	} {
		id := fmt.Sprintf("u-malformed-%d", i)
		a.setUnit(id, proto.UnitType_INPUT, tc.src, proto.UnitLogLevel_INFO)
		o = a.waitUnit(id, proto.State_FAILED, 5*time.Second)
		if !strings.Contains(o.Message, tc.want) {
			t.Errorf("%v: message %q lacks %q", tc.src, o.Message, tc.want)
		}
	}
}

func TestDegradedOnDropsAndRecovery(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	h.factory.get("nt-1").drops.Add(37)
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "dropped 37 of 37 packets (100.00%)") {
		t.Fatalf("message %q", o.Message)
	}
	// No new drops in the next period: healthy again.
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
}

// Capture loss over the threshold in a health period makes the unit
// DEGRADED with the figure, and HEALTHY again when a period passes without
// it; loss under the threshold leaves it HEALTHY.
func TestDegradedOnCaptureLossAndRecovery(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0},
		"interface", map[string]any{"device": "lo", "capture_loss_threshold": 0.05})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	w := h.factory.get("nt-1")

	// 4% lost, under 5%: several health periods (100 ms) stay HEALTHY.
	w.addLoss(100000, 4000)
	time.Sleep(500 * time.Millisecond)
	for _, s := range a.historyOf("u1") {
		if strings.Contains(s, "DEGRADED") {
			t.Fatalf("4%% loss under a 5%% threshold: %q", a.historyOf("u1"))
		}
	}

	// 6% lost in one period.
	w.addLoss(100000, 6000)
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	for _, want := range []string{"capture loss 6.00%", "6000 of 100000 bytes acknowledged by peers were never captured", "(60 of 100 ACKs", "capture_loss_threshold 5%"} {
		if !strings.Contains(o.Message, want) {
			t.Errorf("message %q lacks %q", o.Message, want)
		}
	}
	// Nothing lost in the next periods: HEALTHY again.
	w.addLoss(50000, 0)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
}

// metrics_interval sets the window over which loss is measured: a loss is
// reported for the whole window it fell in (here 1 s, health checks every
// 100 ms), not only until the next health check, and the message names the
// window.
func TestMetricsIntervalIsTheLossWindow(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0},
		"interface", map[string]any{"device": "lo", "metrics_interval": "1s"})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	w := h.factory.get("nt-1")
	w.drops.Add(5)
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	degradedAt := time.Now()
	if !strings.Contains(o.Message, "the kernel dropped 5 of 5 packets (100.00%) in the last 1s") {
		t.Fatalf("message %q", o.Message)
	}
	o = a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	// Several health checks (100 ms apart) passed in between without new
	// drops: the verdict held for the window.
	if held := time.Since(degradedAt); held < 700*time.Millisecond {
		t.Fatalf("DEGRADED for %v only, want about the 1s window; history %q", held, a.historyOf("u1"))
	}
}

// The default threshold is Zeek's 10%; one out of range is a config error
// naming the option.
func TestCaptureLossThresholdDefaultAndBadValue(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	w := h.factory.get("nt-1")
	w.addLoss(100000, 9000) // 9%: under the default
	time.Sleep(500 * time.Millisecond)
	for _, s := range a.historyOf("u1") {
		if strings.Contains(s, "DEGRADED") {
			t.Fatalf("9%% loss under the default 10%%: %q", a.historyOf("u1"))
		}
	}
	w.addLoss(100000, 11000)
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "capture loss 11.00%") || !strings.Contains(o.Message, "capture_loss_threshold 10%") {
		t.Errorf("message %q", o.Message)
	}

	a.setUnit("u2", proto.UnitType_INPUT, packetInput("nt-2", stream("http-2", "nttest", "ports", []any{80.0},
		"interface", map[string]any{"device": "lo", "capture_loss_threshold": 5})), proto.UnitLogLevel_INFO)
	o = a.waitUnit("u2", proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "capture_loss_threshold: 5 is not a fraction from 0 to 1") {
		t.Errorf("message %q", o.Message)
	}
}

// A capture waiting on an interface that is down is DEGRADED, naming it,
// and HEALTHY again when the interface is back.
func TestDegradedWhileInterfaceDown(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	down := "interface va is down"
	h.factory.get("nt-1").ringState.Store(&down)
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, down) {
		t.Fatalf("message %q", o.Message)
	}
	h.factory.get("nt-1").ringState.Store(nil)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
}

// failingOutput refuses everything, like a cluster that is down.
type failingOutput struct{ retries atomic.Uint64 }

func (f *failingOutput) Publish(ctx context.Context, _ []output.Doc) error {
	f.retries.Add(1)
	<-ctx.Done()
	return ctx.Err()
}
func (f *failingOutput) Close() error { return nil }
func (f *failingOutput) Stats() output.Stats {
	return output.Stats{Retries: f.retries.Load() * 10, LastError: "connection refused"}
}

func TestOutputSwapAndFailingOutput(t *testing.T) {
	h := startHarness(t, func(o *Options) {
		o.NewOutput = func(cfg map[string]any, log *slog.Logger) (output.Output, error) {
			if cfg["type"] == "broken" {
				return &failingOutput{}, nil
			}
			return NewOutput(cfg, log)
		}
	})
	a := h.agent
	h.fileOutput("one.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	h.waitDocs("one.ndjson", func(d []map[string]any) bool { return countTag(d, "start") == 1 })

	// Failing output: output and input units DEGRADED with the error.
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "broken"}, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second) // configured
	w := h.factory.get("nt-1")
	w.emit("during-outage")
	o := a.waitUnit("packet-default", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "connection refused") {
		t.Fatalf("output message %q", o.Message)
	}
	o = a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "output failing") {
		t.Fatalf("input message %q", o.Message)
	}

	// Swap to a working output: the stuck batch moves there, capture was
	// never restarted.
	h.fileOutput("two.ndjson")
	h.waitDocs("two.ndjson", func(d []map[string]any) bool { return countTag(d, "during-outage") == 1 })
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	if h.factory.created.Load() != 1 || w.runs.Load() != 1 {
		t.Fatalf("workers created %d, runs %d", h.factory.created.Load(), w.runs.Load())
	}

	// Unsupported output type: output unit FAILED with a message.
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "kafka", "hosts": []any{"k:9092"}}, proto.UnitLogLevel_INFO)
	o = a.waitUnit("packet-default", proto.State_FAILED, 5*time.Second)
	if !strings.Contains(o.Message, "kafka") {
		t.Fatalf("message %q", o.Message)
	}
}

func TestLogLevelAndDiagnostics(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{
		"type": "file", "path": h.dir, "api_key": "id:supersecret", "password": "hunter2",
		"ssl": map[string]any{"key": "-----BEGIN EC PRIVATE KEY-----\nxx"},
	}, proto.UnitLogLevel_INFO)
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	if h.level.Level() != slog.LevelInfo {
		t.Fatalf("level %v", h.level.Level())
	}
	h.factory.get("nt-1").addLoss(5000, 100)
	a.setLogLevel("u1", proto.UnitLogLevel_DEBUG)
	deadline := time.Now().Add(5 * time.Second)
	for h.level.Level() != slog.LevelDebug {
		if time.Now().After(deadline) {
			t.Fatalf("level still %v", h.level.Level())
		}
		time.Sleep(20 * time.Millisecond)
	}

	res, err := a.PerformDiagnostic("u1", proto.UnitType_INPUT, proto.ActionRequest_ALL, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, r := range res {
		files[r.Name] = string(r.Content)
	}
	for _, name := range []string{diagConfig, diagStats, diagQueue, diagOutput} {
		if files[name] == "" {
			t.Errorf("diagnostic %s missing (have %d results)", name, len(res))
		}
	}
	if !strings.Contains(files[diagConfig], `"http-1"`) || !strings.Contains(files[diagStats], `"packets": 10`) ||
		!strings.Contains(files[diagStats], `"acked_bytes": 5000`) || !strings.Contains(files[diagStats], `"unseen_bytes": 100`) ||
		!strings.Contains(files[diagQueue], `"capacity": 64`) {
		t.Errorf("diagnostics content:\n%s\n%s\n%s", files[diagConfig], files[diagStats], files[diagQueue])
	}
	out := files[diagOutput]
	if strings.Contains(out, "supersecret") || strings.Contains(out, "hunter2") || strings.Contains(out, "PRIVATE KEY") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("secrets not redacted:\n%s", out)
	}
}

func TestHundredUnits(t *testing.T) {
	h := startHarness(t, func(o *Options) { o.QueueSize = 1024 })
	a := h.agent
	h.fileOutput("out.ndjson")
	for i := range 100 {
		a.setUnit(fmt.Sprintf("u-%03d", i), proto.UnitType_INPUT, packetInput(fmt.Sprintf("nt-%03d", i),
			stream(fmt.Sprintf("http-%d", i), "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	}
	for i := range 100 {
		a.waitUnit(fmt.Sprintf("u-%03d", i), proto.State_HEALTHY, 20*time.Second)
	}
	h.waitDocs("out.ndjson", func(d []map[string]any) bool { return countTag(d, "start") == 100 })
	h.stop()
	// Every worker flushed on stop before the output was closed.
	if n := countTag(h.readDocs("out.ndjson"), "flush"); n != 100 {
		t.Fatalf("%d flush documents after stop, want 100", n)
	}
	for i := range 100 {
		id := fmt.Sprintf("u-%03d", i)
		if !historyHas(a.historyOf(id), "HEALTHY", "STOPPED") {
			t.Fatalf("%s history %q", id, a.historyOf(id))
		}
	}
}

// Shutdown while the output is down: Run still returns within the stop
// timeout, and the check-in channels keep being drained.
func TestShutdownWithStuckOutput(t *testing.T) {
	h := startHarness(t, func(o *Options) {
		o.StopTimeout = 500 * time.Millisecond
		o.NewOutput = func(map[string]any, *slog.Logger) (output.Output, error) { return &failingOutput{}, nil }
	})
	h.factory.burst = 200 // more than the queue holds: Run blocks in Send
	a := h.agent
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "broken"}, proto.UnitLogLevel_INFO)
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	// The queue fills behind the stuck output: DEGRADED with the figures.
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	if !strings.Contains(o.Message, "publish queue full") || !strings.Contains(o.Message, "(64/64 queued)") {
		t.Fatalf("message %q", o.Message)
	}
	start := time.Now()
	h.cancel()
	select {
	case err := <-h.done:
		h.ended = true
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung with a stuck output")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stop took %v", d)
	}
}

func TestCheckinStreamDropReconnects(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("out.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	a.mu.Lock()
	a.dropNext = true
	before := a.connects
	a.mu.Unlock()
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0, 81.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 10*time.Second)
	a.mu.Lock()
	after := a.connects
	a.mu.Unlock()
	if after <= before {
		t.Fatalf("connects %d -> %d", before, after)
	}
	if h.factory.get("nt-1").reconfs.Load() != 1 {
		t.Fatal("config change after reconnect not applied")
	}
}

func TestDropsSinceDegradesPastTheFloor(t *testing.T) {
	prev := []capture.DropRow{{Layer: "redis", Reason: "queue_limit", Count: 5}}
	cur := []capture.DropRow{
		{Layer: "redis", Reason: "queue_limit", Count: 1005},
		{Layer: "http", Reason: "gap", Count: 3},
		{Layer: "processors", Reason: "drop_event", Count: 1e6},
		{Layer: "kernel", Reason: "dropped_by_kernel", Count: 1e6},
	}
	msg := dropsSince(prev, cur, 5*time.Second)
	if msg != "dropped in the last 5s: redis queue_limit 1000, http gap 3 (see diagnostics: capture.dropped)" {
		t.Errorf("message %q", msg)
	}
	if m := dropsSince(cur, cur, 5*time.Second); m != "" {
		t.Errorf("no change gave %q", m)
	}
	small := []capture.DropRow{{Layer: "tcp", Reason: "gap_bytes", Count: 90000}, {Layer: "dns", Reason: "response_without_query", Count: 9}}
	if m := dropsSince(nil, small, 5*time.Second); m != "" {
		t.Errorf("below the floor gave %q", m)
	}
}
