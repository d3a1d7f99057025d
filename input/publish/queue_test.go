package publish

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

// recorder is an output that keeps copies of what it was given.
type recorder struct {
	mu      sync.Mutex
	docs    []string
	batches int
	reuse   bool
	gate    chan struct{} // when set, Publish waits on it
}

func (r *recorder) Publish(_ context.Context, batch []output.Doc) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	for _, d := range batch {
		r.docs = append(r.docs, d.Index+" "+string(d.Body))
	}
	return nil
}
func (r *recorder) Close() error       { return nil }
func (r *recorder) ReusesBodies() bool { return r.reuse }

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.docs...)
}

// Every document arrives once, in order, whether sent by copy (from a
// buffer the sender overwrites at once) or by ownership, and whether or not
// the output lets the queue reuse batch memory.
func TestQueueKeepsOrderAndContent(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		rec := &recorder{reuse: reuse}
		q := NewQueue(rec, 2048)
		go q.Run(context.Background())
		var scratch []byte
		const n = 5000
		for i := 0; i < n; i++ {
			scratch = fmt.Appendf(scratch[:0], `{"n":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), i%700))
			if i%10 == 3 {
				q.Send(output.Doc{Index: "owned", Body: append([]byte(nil), scratch...)})
			} else {
				q.SendCopy("copied", scratch)
			}
			for j := range scratch {
				scratch[j] = '#' // the sender reuses its buffer at once
			}
		}
		q.Close()
		got := rec.snapshot()
		if len(got) != n {
			t.Fatalf("reuse=%v: %d documents out, want %d", reuse, len(got), n)
		}
		for i, g := range got {
			idx := "copied"
			if i%10 == 3 {
				idx = "owned"
			}
			want := fmt.Sprintf(`%s {"n":%d,"pad":"%s"}`, idx, i, bytes.Repeat([]byte("x"), i%700))
			if g != want {
				t.Fatalf("reuse=%v: document %d = %.60q..., want %.60q...", reuse, i, g, want)
			}
		}
		if rec.batches >= n/10 {
			t.Errorf("reuse=%v: %d batches for %d documents: not batching", reuse, rec.batches, n)
		}
		if q.Sent() != n || q.Depth() != 0 {
			t.Errorf("reuse=%v: sent %d depth %d", reuse, q.Sent(), q.Depth())
		}
	}
}

// A partial batch is published on the flush tick, not held until more
// documents come (live captures with little traffic).
func TestQueueFlushesIdleBatch(t *testing.T) {
	rec := &recorder{}
	q := NewQueue(rec, 1024)
	q.flushEach = 20 * time.Millisecond
	go q.Run(context.Background())
	defer q.Close()
	q.SendCopy("i", []byte(`{"a":1}`))
	deadline := time.Now().Add(2 * time.Second)
	for len(rec.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle document never published")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A stalled output stops senders once the queue bound is reached (no
// unbounded memory), and they resume when it drains.
func TestQueueBlocksWhenFull(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	q := NewQueue(rec, batchDocs) // one batch in the channel
	go q.Run(context.Background())
	done := make(chan int)
	go func() {
		for i := 0; i < 4*batchDocs; i++ {
			q.SendCopy("i", []byte(`{}`))
		}
		done <- 1
	}()
	select {
	case <-done:
		t.Fatal("senders never blocked on a stalled output")
	case <-time.After(200 * time.Millisecond):
	}
	if q.Blocked() == 0 {
		t.Error("blocked hand-offs not counted")
	}
	if d := q.Depth(); d > 3*batchDocs {
		t.Errorf("depth %d beyond the bound", d)
	}
	close(rec.gate)
	<-done
	q.Close()
	if got := len(rec.snapshot()); got != 4*batchDocs {
		t.Errorf("%d documents out, want %d", got, 4*batchDocs)
	}
}

func BenchmarkSendCopy(b *testing.B) {
	rec := discard{}
	q := NewQueue(rec, 8192)
	go q.Run(context.Background())
	doc := bytes.Repeat([]byte("x"), 1200)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for i := 0; i < b.N; i++ {
		q.SendCopy("i", doc)
	}
	q.Close()
}

type discard struct{}

func (discard) Publish(context.Context, []output.Doc) error { return nil }
func (discard) Close() error                                { return nil }
func (discard) ReusesBodies() bool                          { return true }

// deadOutput refuses every batch until its context is cancelled, as an
// Elasticsearch output does while the node is down.
type deadOutput struct{}

func (deadOutput) Publish(ctx context.Context, _ []output.Doc) error {
	<-ctx.Done()
	return ctx.Err()
}
func (deadOutput) Close() error { return nil }

// Giving up on a dead output (the shutdown deadline cancels Run's context)
// unblocks senders stuck on a full queue and counts every document that was
// never delivered: none disappear without a count.
func TestQueueGiveUpCountsUndelivered(t *testing.T) {
	q := NewQueue(deadOutput{}, batchDocs)
	ctx, cancel := context.WithCancel(context.Background())
	go q.Run(ctx)
	const n = 5*batchDocs + 17
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			q.SendCopy("i", []byte(`{}`))
		}
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("senders never blocked on a dead output")
	default:
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("senders still blocked after the queue gave up")
	}
	q.Close()
	if got := q.Undelivered(); got != n {
		t.Errorf("undelivered %d, want %d", got, n)
	}
	if q.Sent() != 0 {
		t.Errorf("sent %d to a dead output", q.Sent())
	}
}
