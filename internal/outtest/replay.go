package outtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
)

// SeqStreams are the streams SeqReplay runs: the sample capture's DNS,
// HTTP, ICMP and flows.
var SeqStreams = []string{"dns", "http", "icmp", "flow"}

// seqScript numbers the documents of one stream: test.stream names the
// stream, test.seq counts from 1. Each stream has its own processor chain,
// so its own counter.
const seqScript = `var n = 0; function process(e) { n++; e.Put("test.seq", n); e.Put("test.stream", %q); }`

// SamplePcap is the repository's mixed sample capture.
func SamplePcap() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "_dev", "pcaps", "sample.pcap")
}

// Replay is a capture replay in progress (see SeqReplay).
type Replay struct {
	mu       sync.Mutex
	produced map[string]int // highest test.seq per stream, as sent
	Sent     atomic.Int64
	done     chan struct{}
	err      error
	Queue    *publish.Queue
}

// SeqReplay starts pcap, looped loops times at top speed, through the
// production pipeline: a capture worker whose streams (SeqStreams) each
// run a script processor adding test.stream and test.seq, then a memory
// publish queue of queueSize documents, then out. Wait returns once the
// queue handed everything to out (or failed the test).
func SeqReplay(t *testing.T, pcap string, loops, queueSize int, out output.Output) *Replay {
	t.Helper()
	var streams []any
	for _, id := range SeqStreams {
		streams = append(streams, map[string]any{"id": id, "type": id,
			"interface":  map[string]any{"file": pcap, "top_speed": true, "loop": loops},
			"processors": []any{map[string]any{"script": map[string]any{"lang": "javascript", "source": fmt.Sprintf(seqScript, id)}}}})
	}
	in, err := config.Parse(map[string]any{"id": "seq-replay", "type": "packet", "streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	r := &Replay{produced: map[string]int{}, done: make(chan struct{}), Queue: publish.NewQueue(out, queueSize)}
	w, err := capture.New(in, seqSink{r}, capture.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(context.Background())
	go r.Queue.Run(qctx)
	go func() {
		defer close(r.done)
		defer cancel()
		r.err = w.Run(context.Background())
		r.Queue.Close()
	}()
	return r
}

// Running reports whether the capture (or the queue's flush) is still
// going.
func (r *Replay) Running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Wait waits for the replay to end, at most limit, and returns how many
// documents each stream produced.
func (r *Replay) Wait(t *testing.T, limit time.Duration) map[string]int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		t.Fatalf("replay not done after %v: %d documents sent, %d queued, last error %q", limit, r.Sent.Load(), r.Queue.Depth(), r.Queue.LastError())
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.produced) == 0 {
		t.Fatal("the capture produced no documents")
	}
	return r.produced
}

type seqSink struct{ r *Replay }

func (s seqSink) Send(d output.Doc) {
	s.note(d.Body)
	s.r.Queue.Send(d)
}

func (s seqSink) SendCopy(index string, body []byte) {
	s.note(body)
	s.r.Queue.SendCopy(index, body)
}

func (s seqSink) note(body []byte) {
	var m struct {
		Test struct {
			Stream string `json:"stream"`
			Seq    int    `json:"seq"`
		} `json:"test"`
	}
	_ = json.Unmarshal(body, &m)
	s.r.mu.Lock()
	if m.Test.Seq > s.r.produced[m.Test.Stream] {
		s.r.produced[m.Test.Stream] = m.Test.Seq
	}
	s.r.mu.Unlock()
	s.r.Sent.Add(1)
}

// CheckSeq fails the test unless docs hold every (test.stream, test.seq)
// that produced says was made exactly once, and nothing else.
func CheckSeq(t *testing.T, produced map[string]int, docs []map[string]any) {
	t.Helper()
	seen := map[string]map[int]int{}
	total := 0
	for _, d := range docs {
		tm, _ := d["test"].(map[string]any)
		st, _ := tm["stream"].(string)
		f, _ := tm["seq"].(float64)
		if seen[st] == nil {
			seen[st] = map[int]int{}
		}
		seen[st][int(f)]++
	}
	var bad []string
	for st, n := range produced {
		total += n
		missing, dup := 0, 0
		for i := 1; i <= n; i++ {
			switch c := seen[st][i]; {
			case c == 0:
				missing++
			case c > 1:
				dup += c - 1
			}
		}
		extra := 0
		for i := range seen[st] {
			if i < 1 || i > n {
				extra++
			}
		}
		if missing+dup+extra > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d of %d missing, %d duplicates, %d unknown seq", st, missing, n, dup, extra))
		}
	}
	for st := range seen {
		if _, ok := produced[st]; !ok {
			bad = append(bad, fmt.Sprintf("documents of unknown stream %q", st))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("%d documents received for %d produced: %s", len(docs), total, strings.Join(bad, "; "))
	}
}

// OutageLength is how long the outage tests cut their output: 60s, or
// NT_OUTAGE (a duration) for a quick local run.
func OutageLength(t *testing.T) time.Duration {
	t.Helper()
	if s := os.Getenv("NT_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("NT_OUTAGE: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// Outage is what happened around a cut.
type Outage struct {
	AtCut, BeforeRestore output.Stats
	SentAtCut            int64
	// Resumed is how long after the restore the output published again.
	Resumed time.Duration
}

// CutDuring cuts the output with cut once it has published at least
// after documents while r is still running, keeps it cut for length,
// calls restore and measures how long the output takes to publish again.
// It fails the test when the replay ended before the cut (it would not be
// in the middle) or anything was published while cut.
func CutDuring(t *testing.T, r *Replay, out output.StatsReporter, after uint64, length time.Duration, cut, restore func()) Outage {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for out.Stats().Published < after {
		if time.Now().After(deadline) || !r.Running() {
			t.Fatalf("the output published %d documents (replay running: %v)", out.Stats().Published, r.Running())
		}
		time.Sleep(time.Millisecond)
	}
	cut()
	var o Outage
	o.SentAtCut = r.Sent.Load()
	if !r.Running() {
		t.Fatal("the replay ended before the cut")
	}
	// Acknowledgements already on the wire may still land.
	time.Sleep(2 * time.Second)
	o.AtCut = out.Stats()
	time.Sleep(length - 2*time.Second)
	o.BeforeRestore = out.Stats()
	if o.BeforeRestore.Published != o.AtCut.Published {
		t.Fatalf("published %d documents while cut", o.BeforeRestore.Published-o.AtCut.Published)
	}
	if o.BeforeRestore.Retries == o.AtCut.Retries && o.BeforeRestore.LastError == "" {
		t.Errorf("no retries nor error while cut: %+v", o.BeforeRestore)
	}
	restore()
	start := time.Now()
	for out.Stats().Published == o.BeforeRestore.Published && time.Since(start) < 2*length {
		time.Sleep(5 * time.Millisecond)
	}
	o.Resumed = time.Since(start)
	return o
}

// Check fails the test unless the output published again within
// maxResumed of the restore and the capture had not sent everything at the
// cut (so the cut was in the middle of the replay); it returns how many
// documents the replay produced.
func (o Outage) Check(t *testing.T, produced map[string]int, maxResumed time.Duration) int {
	t.Helper()
	if o.Resumed > maxResumed {
		t.Errorf("publishing again %v after the restore (at most %v)", o.Resumed, maxResumed)
	}
	total := 0
	for _, n := range produced {
		total += n
	}
	if o.SentAtCut >= int64(total) {
		t.Fatalf("the capture had sent all %d documents at the cut", total)
	}
	return total
}

// SmallDisk mounts a tmpfs of size (e.g. "2m") on a new directory, a
// filesystem that really fills up; it skips the test when it cannot mount
// (not root, or a container without CAP_SYS_ADMIN).
func SmallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test needs root to mount a small tmpfs (run as root, e.g. in CI)")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("disk-full test: cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
