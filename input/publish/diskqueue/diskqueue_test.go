package diskqueue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
)

// collect is an output that records every document, optionally refusing
// batches while down is set.
type collect struct {
	mu   sync.Mutex
	docs []output.Doc
	down atomic.Bool
	hold chan struct{} // when non-nil, Publish waits on it
}

func (c *collect) Publish(ctx context.Context, batch []output.Doc) error {
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.down.Load() {
		return fmt.Errorf("output down")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range batch {
		d.Body = append([]byte(nil), d.Body...)
		c.docs = append(c.docs, d)
	}
	return nil
}
func (c *collect) Close() error { return nil }
func (c *collect) bodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s []string
	for _, d := range c.docs {
		s = append(s, string(d.Body))
	}
	return s
}

func open(t *testing.T, cfg Config, out output.Output) *Queue {
	t.Helper()
	q, err := Open(cfg, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func doc(i int) string { return fmt.Sprintf(`{"seq":%d,"pad":"%0100d"}`, i, i) }

// Documents go through segment files to the output in order with index and
// id intact, and acknowledged segments are deleted.
func TestRoundTripDeletesAckedSegments(t *testing.T) {
	dir := t.TempDir()
	out := &collect{}
	q := open(t, Config{Path: dir, MaxSize: 1 << 20, SegmentSize: 4096, ReadAhead: 7}, out)
	go q.Run(context.Background())
	for i := range 1000 {
		if i%2 == 0 {
			q.Send(output.Doc{Index: "logs-a", ID: fmt.Sprint("id", i), Body: []byte(doc(i))})
		} else {
			q.SendCopy("logs-b", []byte(doc(i)))
		}
	}
	q.Close()
	got := out.bodies()
	if len(got) != 1000 {
		t.Fatalf("got %d documents, want 1000", len(got))
	}
	for i, b := range got {
		if b != doc(i) {
			t.Fatalf("doc %d = %s", i, b)
		}
	}
	if d := out.docs[10]; d.Index != "logs-a" || d.ID != "id10" {
		t.Errorf("doc 10 = %+v", d)
	}
	if d := out.docs[11]; d.Index != "logs-b" || len(d.ID) != 20 || d.ID[:12] != out.docs[13].ID[:12] || d.ID == out.docs[13].ID {
		t.Errorf("doc 11 = %+v", d)
	}
	if q.Sent() != 1000 || q.Depth() != 0 {
		t.Errorf("sent %d depth %d", q.Sent(), q.Depth())
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("%d segment files left, want the one being written: %v", len(segs), segs)
	}
}

// With the output down, Close returns after the first failed attempt and
// the documents stay on disk; a new queue over the same directory delivers
// every one of them exactly once after the ack pointer.
func TestRestartResumesAfterAckPointer(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Path: dir, MaxSize: 1 << 20, SegmentSize: 8192, ReadAhead: 50, RetryInterval: 10 * time.Millisecond}
	out := &collect{}
	q := open(t, cfg, out)
	go q.Run(context.Background())
	for i := range 300 {
		q.SendCopy("x", []byte(doc(i)))
	}
	for q.Depth() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	out.down.Store(true)
	for i := 300; i < 500; i++ {
		q.SendCopy("x", []byte(doc(i)))
	}
	q.Close()
	if q.Depth() != 200 {
		t.Fatalf("depth after close with the output down = %d, want 200", q.Depth())
	}
	st := q.QueueState()
	if st["events_unacked"].(int64) != 200 || st["bytes_unacked"].(int64) == 0 || st["oldest_unacked"] == nil {
		t.Errorf("state %v", st)
	}

	out2 := &collect{}
	q2 := open(t, cfg, out2)
	if q2.Depth() != 200 {
		t.Fatalf("recovered %d records, want 200", q2.Depth())
	}
	go q2.Run(context.Background())
	q2.Close()
	got := out2.bodies()
	if len(got) != 200 || got[0] != doc(300) || got[199] != doc(499) {
		t.Fatalf("after restart got %d documents (first %q)", len(got), first(got))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// A full queue blocks senders (counted) until the output acknowledges, and
// nothing is lost.
func TestFullQueueBlocksSenders(t *testing.T) {
	out := &collect{hold: make(chan struct{})}
	q := open(t, Config{Path: t.TempDir(), MaxSize: 4096, SegmentSize: 1024, ReadAhead: 4}, out)
	go q.Run(context.Background())
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			q.SendCopy("x", []byte(doc(i)))
			sent.Add(1)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	n := sent.Load()
	if n >= 200 || n == 0 {
		t.Fatalf("%d of 200 sends returned with the output stalled; want some, blocked on 4 KiB", n)
	}
	if q.Blocked() == 0 || !q.Full() || q.QueueState()["full"] != true {
		t.Errorf("blocked %d full %v", q.Blocked(), q.Full())
	}
	close(out.hold)
	<-done
	q.Close()
	if got := len(out.bodies()); got != 200 {
		t.Errorf("delivered %d, want 200", got)
	}
	if q.Undelivered() != 0 {
		t.Errorf("undelivered %d", q.Undelivered())
	}
}

// A flipped byte fails the record's checksum: the records before it are
// delivered, the corruption is counted and described, the next segment is
// read, and nothing panics. A torn tail (a cut write) is the same.
func TestCorruptSegmentIsReported(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Path: dir, MaxSize: 1 << 20, SegmentSize: 2048, RetryInterval: 10 * time.Millisecond}
	out := &collect{}
	out.down.Store(true)
	q := open(t, cfg, out)
	go q.Run(context.Background())
	for i := range 60 {
		q.SendCopy("x", []byte(doc(i)))
	}
	q.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(segs))
	}
	// Corrupt the 3rd record of the first segment, cut the second segment
	// mid-record.
	raw, _ := os.ReadFile(segs[0])
	recLen := len(encode(nil, 0, "x", []byte("0123456789abcdefghi"), []byte(doc(0))))
	perSeg := len(raw) / recLen
	raw[2*recLen+20] ^= 0xff
	if err := os.WriteFile(segs[0], raw, 0o640); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(segs[1])
	if err := os.Truncate(segs[1], info.Size()-10); err != nil {
		t.Fatal(err)
	}

	out2 := &collect{}
	q2 := open(t, cfg, out2)
	go q2.Run(context.Background())
	q2.Close()
	got := out2.bodies()
	want := 60 - (perSeg - 2) - 1
	if len(got) != want {
		t.Errorf("delivered %d, want %d (2 before the flipped byte, all but the torn last of segment 2, the rest)", len(got), want)
	}
	if q2.Corrupt() != 2 {
		t.Errorf("corrupt = %d, want 2", q2.Corrupt())
	}
	st := q2.QueueState()
	if s, _ := st["last_corruption"].(string); s == "" {
		t.Errorf("no corruption reported: %v", st)
	}
	// Every record not delivered is counted: the ones after the flipped
	// byte were lost with it.
	if q2.Undelivered() != uint64(60-want) {
		t.Errorf("undelivered %d, want %d", q2.Undelivered(), 60-want)
	}
}

// A garbage ack pointer replays from the oldest segment (duplicates, not
// loss) and says so.
func TestBadAckPointerReplays(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Path: dir, MaxSize: 1 << 20, SegmentSize: 1 << 20}
	q := open(t, cfg, &collect{})
	go q.Run(context.Background())
	for i := range 10 {
		q.SendCopy("x", []byte(doc(i)))
	}
	q.Close()
	if err := os.WriteFile(filepath.Join(dir, ackFile), []byte("junk"), 0o640); err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	q2 := open(t, cfg, out)
	go q2.Run(context.Background())
	q2.Close()
	if n := len(out.bodies()); n != 10 {
		t.Errorf("replayed %d, want 10", n)
	}
	if s, _ := q2.QueueState()["last_corruption"].(string); s == "" {
		t.Error("bad ack pointer not reported")
	}
}

func TestFromConfig(t *testing.T) {
	out := &collect{}
	p, err := FromConfig(map[string]any{"mem": map[string]any{"events": 100, "flush.min_events": 10, "flush": map[string]any{"timeout": "50ms"}}}, out, 8192, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.(*publish.Queue).Capacity() != 100 {
		t.Errorf("capacity %d", p.Capacity())
	}
	dir := t.TempDir()
	p, err = FromConfig(map[string]any{"disk.path": dir, "disk.max_size": "1MiB", "disk.segment_size": "64KiB", "disk.retry_interval": "2s"}, out, 8192, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := p.(*Queue)
	if d.cfg.MaxSize != 1<<20 || d.cfg.SegmentSize != 64<<10 || d.cfg.RetryInterval != 2*time.Second || d.cfg.ReadAhead != 512 {
		t.Errorf("config %+v", d.cfg)
	}
	go d.Run(context.Background())
	d.Close()
	for _, bad := range []map[string]any{
		{"disk": map[string]any{"path": dir, "maxsize": 1}},
		{"mem.events": 1, "disk.path": dir},
		{"disk.max_size": "1MB"},
		{"disk.path": dir, "max_size": "10 parsecs"},
		{"disk.path": dir, "disk.max_size": "1MB", "disk.segment_size": "2MB"},
		{"spool": 1},
	} {
		if _, err := FromConfig(bad, out, 1, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// FuzzSegment: whatever bytes a segment file holds (a disk error, another
// program, a torn write), opening the queue and draining it counts what it
// cannot read and never panics or hangs.
func FuzzSegment(f *testing.F) {
	good := encode(nil, 1, "logs-x", []byte("id1"), []byte(`{"a":1}`))
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good[:5]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 0)), raw, 0o640); err != nil {
			t.Fatal(err)
		}
		out := &collect{}
		q, err := Open(Config{Path: dir, MaxSize: 1 << 30, SegmentSize: 1 << 20}, out, nil)
		if err != nil {
			t.Fatal(err)
		}
		go q.Run(context.Background())
		q.Close()
		if q.Depth() != 0 {
			t.Fatalf("%d records left after draining to a working output", q.Depth())
		}
	})
}
