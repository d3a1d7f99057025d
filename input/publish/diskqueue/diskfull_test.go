package diskqueue

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// fill sends documents from a goroutine until one blocks on the full disk,
// and returns how many went in and a channel closed when all n returned.
func fill(t *testing.T, q *Queue, n int) (*atomic.Int64, chan struct{}) {
	t.Helper()
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			q.SendCopy("x", []byte(doc(i)+strings.Repeat(" ", 900)))
			sent.Add(1)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for q.QueueState()["disk_full"] != true {
		if time.Now().After(deadline) {
			t.Fatalf("no disk full after %d documents: %v", sent.Load(), q.QueueState())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &sent, done
}

// One segment larger than the disk (segment_size 16 MiB on 1 MiB): the
// write that fails finishes the segment, so once the output acknowledges
// it the file is deleted and the held write goes into a new segment.
// Without that the half-written segment, never finished, was never freed.
func TestDiskFullSegmentLargerThanDisk(t *testing.T) {
	dir := filepath.Join(outtest.SmallDisk(t, "1m"), "q")
	out := &collect{}
	out.down.Store(true)
	q := open(t, Config{Path: dir, MaxSize: 64 << 20, SegmentSize: 16 << 20, ReadAhead: 64, RetryInterval: 20 * time.Millisecond, MaxRetryInterval: 50 * time.Millisecond}, out)
	go q.Run(context.Background())
	const n = 3000 // about 3 MiB
	sent, done := fill(t, q, n)
	st := q.QueueState()
	if we, _ := st["write_error"].(string); !strings.Contains(we, dir) || !strings.Contains(we, "no space left") {
		t.Errorf("write_error %q", we)
	}
	held := sent.Load()
	time.Sleep(200 * time.Millisecond)
	if sent.Load() != held || held == 0 || held >= n {
		t.Fatalf("sends %d then %d with the disk full", held, sent.Load())
	}
	out.down.Store(false)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("sends still held after the output came back: %v", q.QueueState())
	}
	q.Close()
	got := out.bodies()
	if len(got) != n {
		t.Fatalf("delivered %d of %d", len(got), n)
	}
	for i, b := range got {
		if !strings.HasPrefix(b, doc(i)) {
			t.Fatalf("document %d is %.40s", i, b)
		}
	}
	if st := q.QueueState(); st["disk_full"] != false || q.Undelivered() != 0 {
		t.Fatalf("after recovery: %v", st)
	}
	t.Logf("disk full after %d documents (%v segments); all %d delivered once", held, st["segments"], n)
}

// Stopped while the disk is full and the output down: the document held in
// Send is counted as dropped with its reason; the ones written stay on disk.
func TestDiskFullAtStopIsCounted(t *testing.T) {
	dir := filepath.Join(outtest.SmallDisk(t, "1m"), "q")
	out := &collect{}
	out.down.Store(true)
	q := open(t, Config{Path: dir, MaxSize: 64 << 20, SegmentSize: 256 << 10, RetryInterval: 20 * time.Millisecond, MaxRetryInterval: 50 * time.Millisecond}, out)
	ctx, cancel := context.WithCancel(context.Background())
	go q.Run(ctx)
	sent, done := fill(t, q, 3000)
	cancel() // a shutdown deadline: nobody reads any more
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a sender held on the full disk did not return at stop")
	}
	st := q.QueueState()
	r := st["dropped_by_reason"].(map[string]uint64)
	if r["unwritable_at_close"] != 1 || q.Undelivered() != uint64(3000)-uint64(st["events_unacked"].(int64)) {
		t.Fatalf("sent %d; state %v", sent.Load(), st)
	}
}
