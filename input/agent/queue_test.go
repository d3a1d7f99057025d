package agent

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/proto"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/internal/outtest"
)

// The output unit's queue.disk (Fleet's advanced YAML) swaps the queue
// under running inputs: documents go through segment files; with the
// output down the queue fills, the input unit says so and its sends block;
// a working output then receives every document, the capture never
// restarted.
func TestOutputUnitQueueDisk(t *testing.T) {
	h := startHarness(t, func(o *Options) {
		o.NewOutput = func(cfg map[string]any, log *slog.Logger) (output.Output, error) {
			if cfg["type"] == "broken" {
				return &failingOutput{}, nil
			}
			return NewOutput(cfg, log)
		}
	})
	a := h.agent
	qdir := filepath.Join(h.dir, "queue")
	queue := map[string]any{"disk.path": qdir, "disk.max_size": "8KiB", "disk.segment_size": "2KiB", "disk.retry_interval": "50ms", "disk.max_retry_interval": "100ms"}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": "one.ndjson", "queue": queue}, proto.UnitLogLevel_INFO)
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st := h.queueState(); st["type"] == "disk" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue never became a disk queue: %v", h.queueState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w := h.factory.get("nt-1")
	w.emit("first")
	h.waitDocs("one.ndjson", func(d []map[string]any) bool { return countTag(d, "first") == 1 })
	if segs, _ := filepath.Glob(filepath.Join(qdir, "*.seg")); len(segs) == 0 {
		t.Fatal("no segment files")
	}

	broken := map[string]any{"type": "broken", "queue": queue}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, broken, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			w.emit(fmt.Sprint("outage-", i))
		}
	}()
	o := a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	for !strings.Contains(o.Message, "disk queue full") {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("input message %q", o.Message)
		}
		time.Sleep(50 * time.Millisecond)
		o = a.waitUnit("u1", proto.State_DEGRADED, 5*time.Second)
	}
	select {
	case <-done:
		t.Fatal("200 sends returned with the output down and 8 KiB of queue")
	default:
	}
	if st := h.queueState(); st["full"] != true || st["blocked_sends"].(float64) == 0 {
		t.Errorf("queue state %v", st)
	}

	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": "two.ndjson", "queue": queue}, proto.UnitLogLevel_INFO)
	<-done
	docs := h.waitDocs("two.ndjson", func(d []map[string]any) bool {
		n := 0
		for _, x := range d {
			if strings.HasPrefix(fmt.Sprint(x["tag"]), "outage-") {
				n++
			}
		}
		return n >= 200
	})
	seen := map[string]int{}
	for _, d := range docs {
		seen[fmt.Sprint(d["tag"])]++
	}
	for i := range 200 {
		if seen[fmt.Sprint("outage-", i)] != 1 {
			t.Fatalf("outage-%d arrived %d times", i, seen[fmt.Sprint("outage-", i)])
		}
	}
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)

	// A new max_size over the same directory: the old queue closes before
	// the new one opens its segments.
	queue["disk.max_size"] = "16KiB"
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": "three.ndjson", "queue": queue}, proto.UnitLogLevel_INFO)
	deadline = time.Now().Add(5 * time.Second)
	for h.queueState()["max_size"] != float64(16<<10) {
		if time.Now().After(deadline) {
			t.Fatalf("queue not resized: %v", h.queueState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.emit("resized")
	h.waitDocs("three.ndjson", func(d []map[string]any) bool { return countTag(d, "resized") == 1 })
	if h.factory.created.Load() != 1 || w.runs.Load() != 1 {
		t.Fatalf("workers created %d, runs %d", h.factory.created.Load(), w.runs.Load())
	}
}

// queueState reads the queue diagnostic's state.
func (h *harness) queueState() map[string]any {
	res, err := h.agent.PerformDiagnostic("u1", proto.UnitType_INPUT, proto.ActionRequest_ALL, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range res {
		if r.Name == diagQueue {
			var d map[string]any
			if err := json.Unmarshal(r.Content, &d); err != nil {
				h.t.Fatal(err)
			}
			st, _ := d["queue"].(map[string]any)
			return st
		}
	}
	return nil
}

// An Elasticsearch output unit's preset sets the publish queue: the
// running queue's settings (the queue diagnostic) are the queue.mem values
// of Elastic's "Performance tuning settings" table for each preset, a
// change of preset swaps the queue under the running input, custom goes
// back to the queue section (here none: the default queue), and a queue
// section beside a non-custom preset fails the unit naming both.
func TestOutputUnitPresetQueue(t *testing.T) {
	h := startHarness(t, nil)
	a := h.agent
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	// Documented values (Fleet: Elasticsearch output settings, performance
	// tuning): queue.mem.events, flush.min_events, flush.timeout.
	want := []struct {
		preset string
		events float64
		min    float64
		flush  string
	}{
		{"balanced", 3200, 1600, "10s"},
		{"throughput", 12800, 1600, "5s"},
		{"scale", 3200, 1600, "20s"},
		{"latency", 4100, 2050, "1s"},
	}
	es := func(preset string, extra ...any) map[string]any {
		m := map[string]any{"type": "elasticsearch", "hosts": []any{"http://127.0.0.1:9200"}, "preset": preset}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	settings := func() map[string]any {
		s, _ := h.queueState()["settings"].(map[string]any)
		return s
	}
	for _, w := range want {
		a.setUnit("packet-default", proto.UnitType_OUTPUT, es(w.preset), proto.UnitLogLevel_INFO)
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := settings()
			if s["events"] == w.events && s["flush.min_events"] == w.min && s["flush.timeout"] == w.flush {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("preset %s: queue %v, want events %v, flush.min_events %v, flush.timeout %s", w.preset, h.queueState(), w.events, w.min, w.flush)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st := h.queueState(); st["type"] != "mem" || st["capacity"] != w.events {
			t.Fatalf("preset %s: queue %v", w.preset, st)
		}
		a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	}
	// custom: the queue section decides; none is the default queue (64
	// events in this harness).
	a.setUnit("packet-default", proto.UnitType_OUTPUT, es("custom", "queue", map[string]any{"mem": map[string]any{"events": 100.0, "flush.timeout": "2s"}}), proto.UnitLogLevel_INFO)
	deadline := time.Now().Add(5 * time.Second)
	for s := settings(); s["events"] != 100.0 || s["flush.timeout"] != "2s"; s = settings() {
		if time.Now().After(deadline) {
			t.Fatalf("custom: queue %v", h.queueState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	o := a.setUnitAndWait(t, "packet-default", es("throughput", "queue", map[string]any{"disk": map[string]any{"path": filepath.Join(h.dir, "q")}}), proto.State_FAILED)
	if !strings.Contains(o.Message, "queue.disk") || !strings.Contains(o.Message, `preset "throughput"`) {
		t.Fatalf("queue.disk beside a preset: %q", o.Message)
	}
	o = a.setUnitAndWait(t, "packet-default", es("latency", "queue", map[string]any{"mem": map[string]any{"events": 10.0}}), proto.State_FAILED)
	if !strings.Contains(o.Message, "queue.mem") || !strings.Contains(o.Message, `preset "latency"`) {
		t.Fatalf("queue.mem beside a preset: %q", o.Message)
	}
	// The refused configs left the running queue alone.
	if s := settings(); s["events"] != 100.0 {
		t.Fatalf("after refused configs: queue %v", h.queueState())
	}
}

// setUnitAndWait sets a unit and waits for state want.
func (a *fakeAgent) setUnitAndWait(t *testing.T, id string, src map[string]any, want proto.State) *proto.UnitObserved {
	t.Helper()
	a.setUnit(id, proto.UnitType_OUTPUT, src, proto.UnitLogLevel_INFO)
	return a.waitUnit(id, want, 5*time.Second)
}

// queue.disk on a filesystem that fills up (a 2 MiB tmpfs, max_size far
// larger): with the output down, writes fail with ENOSPC; the sender is
// held (back-pressure, nothing dropped), the queue state says disk_full
// with the path, the input and output units are DEGRADED naming the path.
// When the output comes back it acknowledges, finished segments are
// deleted, the held writes go through, the units are HEALTHY again and
// every document arrives exactly once in the real NDJSON file output.
func TestOutputUnitQueueDiskFull(t *testing.T) {
	qdir := filepath.Join(outtest.SmallDisk(t, "2m"), "queue")
	h := startHarness(t, func(o *Options) {
		o.NewOutput = func(cfg map[string]any, log *slog.Logger) (output.Output, error) {
			if cfg["type"] == "broken" {
				return &failingOutput{}, nil
			}
			return NewOutput(cfg, log)
		}
	})
	a := h.agent
	queue := map[string]any{"disk.path": qdir, "disk.max_size": "64MiB", "disk.segment_size": "256KiB",
		"disk.retry_interval": "50ms", "disk.max_retry_interval": "100ms"}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": "one.ndjson", "queue": queue}, proto.UnitLogLevel_INFO)
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for h.queueState()["type"] != "disk" {
		if time.Now().After(deadline) {
			t.Fatalf("queue never became a disk queue: %v", h.queueState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w := h.factory.get("nt-1")
	w.emit("first")
	h.waitDocs("one.ndjson", func(d []map[string]any) bool { return countTag(d, "first") == 1 })

	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "broken", "queue": queue}, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	// About 1 KiB each: 4000 documents are twice what the tmpfs holds.
	const n = 4000
	pad := strings.Repeat("x", 1000)
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			w.emit(fmt.Sprint("full-", i, "-", pad))
			sent.Add(1)
		}
	}()
	deadline = time.Now().Add(20 * time.Second)
	for h.queueState()["disk_full"] != true {
		if time.Now().After(deadline) {
			t.Fatalf("the queue never said disk full (%d sent): %v", sent.Load(), h.queueState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := h.queueState()
	if we, _ := st["write_error"].(string); !strings.Contains(we, qdir) || !strings.Contains(we, "no space left") {
		t.Errorf("write_error %q does not name %s and the full disk", we, qdir)
	}
	for _, u := range []string{"u1", "packet-default"} {
		o := a.waitUnit(u, proto.State_DEGRADED, 5*time.Second)
		for !strings.Contains(o.Message, qdir) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: message %q does not name %s", u, o.Message, qdir)
			}
			time.Sleep(50 * time.Millisecond)
			o = a.waitUnit(u, proto.State_DEGRADED, 5*time.Second)
		}
		t.Logf("%s DEGRADED: %s", u, o.Message)
	}
	// Held, not dropped: the sender is still blocked.
	before := sent.Load()
	time.Sleep(500 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("every send returned with the disk full and the output down")
	default:
	}
	if after := sent.Load(); after != before || after >= n {
		t.Fatalf("sends went on while the disk was full: %d then %d", before, after)
	}
	if st := h.queueState(); st["dropped"] != 0.0 {
		t.Fatalf("documents dropped: %v", st)
	}
	t.Logf("disk full after %d of %d documents: %v bytes in %v segments", before, n, st["bytes_on_disk"], st["segments"])

	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": h.dir, "filename": "two.ndjson", "queue": queue}, proto.UnitLogLevel_INFO)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sends still held a minute after the output came back (%d of %d): %v", sent.Load(), n, h.queueState())
	}
	docs := h.waitDocs("two.ndjson", func(d []map[string]any) bool {
		c := 0
		for _, x := range d {
			if strings.HasPrefix(fmt.Sprint(x["tag"]), "full-") {
				c++
			}
		}
		return c >= n
	})
	seen := map[string]int{}
	for _, d := range docs {
		seen[fmt.Sprint(d["tag"])]++
	}
	for i := range n {
		if k := fmt.Sprint("full-", i, "-", pad); seen[k] != 1 {
			t.Fatalf("full-%d arrived %d times", i, seen[k])
		}
	}
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	st = h.queueState()
	if st["disk_full"] != false || st["dropped"] != 0.0 || st["write_error"] != nil {
		t.Fatalf("after recovery: %v", st)
	}
}
