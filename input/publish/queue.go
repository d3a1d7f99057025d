// Package publish moves encoded documents from capture workers to an output
// through one bounded queue. Capture blocks when the queue is full, so a slow
// output turns into libpcap drops (counted) rather than unbounded memory.
//
// Documents travel in batches: senders fill the current batch under a mutex
// and hand it to the output goroutine through a channel only when it is full
// (or when the output goroutine finds it idle on its flush tick). One channel
// operation and one wake-up per few hundred documents instead of one per
// document. SendCopy copies a document into the batch's own buffer, and that
// buffer is reused once the output has written the batch if the output says
// it keeps no reference to document bodies (see BodyReuser): no allocation
// per document.
package publish

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

// BodyReuser is implemented by outputs that are done with every Doc.Body
// when Publish returns (they copied or wrote the bytes), so the queue may
// reuse the memory for the next batch. Outputs that do not implement it get
// fresh memory for every batch.
type BodyReuser interface {
	ReusesBodies() bool
}

const (
	// batchDocs and batchBytes bound one batch. 128 KiB (about a hundred
	// typical documents) keeps a full queue within 2 MiB: whatever the
	// queue holds is live heap, which GOGC multiplies into RSS.
	batchDocs  = 512
	batchBytes = 128 << 10
	// keepBytes: a batch buffer that grew beyond this (one huge document)
	// is not kept for reuse.
	keepBytes = 4 * batchBytes
)

// batch is a run of documents; with SendCopy their bodies live in buf.
type batch struct {
	docs []output.Doc
	buf  []byte
}

// Queue is a capture.Sink in front of an Output.
type Queue struct {
	ch        chan *batch // full batches, oldest first
	free      chan *batch // emptied batches for reuse
	capacity  int         // documents
	batchDocs int         // documents per batch
	flushEach time.Duration
	conf      MemConfig // as configured, defaults filled in

	fill sync.Mutex // guards cur
	cur  *batch     // the batch senders are filling

	mu  sync.Mutex
	out output.Output

	closeOnce sync.Once
	done      chan struct{}

	waiting  atomic.Int64  // documents in batches in ch
	blocked  atomic.Uint64 // batch hand-offs that found the queue full
	sent     atomic.Uint64
	failures atomic.Uint64
	// undelivered counts documents given up on because Run's context was
	// cancelled (a shutdown deadline) before the output accepted them.
	undelivered atomic.Uint64
	lastError   atomic.Value // string
}

// NewQueue makes a queue holding at most size documents waiting for the
// output (in whole batches: with less than one batch's worth, batches are
// smaller), besides the batch being written and the one being filled.
func NewQueue(out output.Output, size int) *Queue {
	return NewQueueWith(out, MemConfig{Events: size})
}

// MemConfig is Beats' queue.mem: events is the bound, flush.min_events the
// batch size handed to the output (at most 512 documents or 128 KiB),
// flush.timeout how long a partial batch may wait. Zero values take the
// defaults (4096 events, 512, 1s).
type MemConfig struct {
	Events       int
	MinEvents    int
	FlushTimeout time.Duration
}

// NewQueueWith makes a memory queue from a queue.mem configuration.
func NewQueueWith(out output.Output, c MemConfig) *Queue {
	size := c.Events
	if size <= 0 {
		size = 4096
	}
	per := min(batchDocs, size)
	if c.MinEvents > 0 {
		per = min(per, c.MinEvents)
	}
	flush := c.FlushTimeout
	if flush <= 0 {
		flush = time.Second
	}
	n := max(size/per, 1)
	minEvents := c.MinEvents
	if minEvents <= 0 {
		minEvents = per
	}
	return &Queue{
		conf:      MemConfig{Events: size, MinEvents: minEvents, FlushTimeout: flush},
		ch:        make(chan *batch, n),
		free:      make(chan *batch, n+2),
		capacity:  size,
		batchDocs: per,
		flushEach: flush,
		out:       out,
		done:      make(chan struct{}),
	}
}

func (q *Queue) newBatch() *batch {
	select {
	case b := <-q.free:
		return b
	default:
		return &batch{docs: make([]output.Doc, 0, q.batchDocs)}
	}
}

// Send enqueues a document (the output owns its Body), waiting while the
// queue is full.
func (q *Queue) Send(d output.Doc) {
	q.fill.Lock()
	if q.cur == nil {
		q.cur = q.newBatch()
	}
	q.cur.docs = append(q.cur.docs, d)
	q.handOffLocked(false)
}

// SendCopy enqueues a copy of body, so the caller may reuse it at once.
// The copy lives in the batch's buffer: no allocation per document.
func (q *Queue) SendCopy(index string, body []byte) {
	q.fill.Lock()
	if q.cur == nil {
		q.cur = q.newBatch()
	}
	b := q.cur
	if len(b.docs) > 0 && len(b.buf)+len(body) > cap(b.buf) {
		// Does not fit: growing buf would move the bytes the earlier
		// documents point at. Hand over what we have, start a new batch.
		q.handOffLocked(true)
		q.fill.Lock()
		if q.cur == nil {
			q.cur = q.newBatch()
		}
		b = q.cur
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, max(batchBytes, len(body)))
	}
	start := len(b.buf)
	b.buf = append(b.buf, body...)
	// The three-index slice keeps a later append from writing into it.
	b.docs = append(b.docs, output.Doc{Index: index, Body: b.buf[start:len(b.buf):len(b.buf)]})
	q.handOffLocked(false)
}

// handOffLocked passes the current batch to the output goroutine when it is
// full (or always with force), then releases q.fill. The first attempt is
// made under the lock so batches enter the channel in the order they were
// filled; when the channel is full the sender waits outside the lock.
func (q *Queue) handOffLocked(force bool) {
	b := q.cur
	if b == nil || len(b.docs) == 0 || (!force && len(b.docs) < q.batchDocs && len(b.buf) < batchBytes) {
		q.fill.Unlock()
		return
	}
	q.cur = nil
	n := int64(len(b.docs)) // b belongs to the output goroutine once sent
	select {
	case q.ch <- b:
		q.waiting.Add(n)
		q.fill.Unlock()
		return
	default:
	}
	// Full. While this sender waits the channel stays full (a receive
	// hands the waiting batch straight into the buffer), so the flush tick,
	// which only takes the partial batch from an empty channel, cannot
	// overtake it.
	q.blocked.Add(1)
	q.fill.Unlock()
	q.ch <- b
	q.waiting.Add(n)
}

// takeIdle returns the partial batch when nothing older is waiting in the
// channel (so documents keep their order), else nil.
func (q *Queue) takeIdle() *batch {
	q.fill.Lock()
	defer q.fill.Unlock()
	if len(q.ch) > 0 || q.cur == nil || len(q.cur.docs) == 0 {
		return nil
	}
	b := q.cur
	q.cur = nil
	return b
}

// SetOutput swaps the destination; the batch in flight finishes on the old one.
func (q *Queue) SetOutput(out output.Output) output.Output {
	q.mu.Lock()
	defer q.mu.Unlock()
	old := q.out
	q.out = out
	return old
}

// Output returns the current destination.
func (q *Queue) Output() output.Output {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.out
}

// Depth is the number of documents waiting: in full batches for the output
// and in the batch being filled.
func (q *Queue) Depth() int {
	q.fill.Lock()
	n := q.waiting.Load()
	if q.cur != nil {
		n += int64(len(q.cur.docs))
	}
	q.fill.Unlock()
	return int(max(n, 0)) // a receive may be counted before its send
}

// QueueState is the queue's type, depth and settings (queue.mem as
// configured, defaults filled in), for diagnostics and -stats-json.
// batch_max_events is the batch size actually handed to the output:
// flush.min_events, capped at 512 documents (and 128 KiB) per batch so a
// full queue stays a few MiB of heap.
func (q *Queue) QueueState() map[string]any {
	return map[string]any{
		"type":             "mem",
		"events":           q.Depth(),
		"capacity":         q.capacity,
		"batch_max_events": q.batchDocs,
		"settings": map[string]any{
			"events":           q.conf.Events,
			"flush.min_events": q.conf.MinEvents,
			"flush.timeout":    q.conf.FlushTimeout.String(),
		},
	}
}

// Capacity is the queue bound.
func (q *Queue) Capacity() int { return q.capacity }

// Blocked counts batch hand-offs that had to wait for room.
func (q *Queue) Blocked() uint64 { return q.blocked.Load() }

// Sent counts documents handed to the output successfully.
func (q *Queue) Sent() uint64 { return q.sent.Load() }

// Failures counts Publish calls that returned an error.
func (q *Queue) Failures() uint64 { return q.failures.Load() }

// Undelivered counts documents dropped unpublished because the queue was
// told to give up (its Run context cancelled) while they waited or were in
// flight: what a shutdown deadline cost.
func (q *Queue) Undelivered() uint64 { return q.undelivered.Load() }

// LastError is the last Publish error, "" if none.
func (q *Queue) LastError() string {
	s, _ := q.lastError.Load().(string)
	return s
}

// Run drains the queue into the output until Close is called and the queue
// is empty. Publish errors are retried (the output decides what is
// permanent), so documents are not lost to a brief outage. A partial batch
// is published after at most flushEach of idleness.
func (q *Queue) Run(ctx context.Context) {
	defer close(q.done)
	ticker := time.NewTicker(q.flushEach)
	defer ticker.Stop()
	for {
		select {
		case b, ok := <-q.ch:
			if !ok {
				return
			}
			q.waiting.Add(-int64(len(b.docs)))
			q.flush(ctx, b)
		case <-ticker.C:
			if b := q.takeIdle(); b != nil {
				q.flush(ctx, b)
			}
		}
	}
}

func (q *Queue) flush(ctx context.Context, b *batch) {
	var out output.Output
	for attempt := 0; ; attempt++ {
		out = q.Output()
		if ctx.Err() != nil {
			// Given up (shutdown deadline): drain without publishing so
			// blocked senders return, and count what is lost.
			q.undelivered.Add(uint64(len(b.docs)))
			break
		}
		err := out.Publish(ctx, b.docs)
		if err == nil {
			q.sent.Add(uint64(len(b.docs)))
			q.lastError.Store("")
			break
		}
		q.failures.Add(1)
		q.lastError.Store(err.Error())
		if ctx.Err() != nil {
			q.undelivered.Add(uint64(len(b.docs)))
			break
		}
		backoff := time.Duration(1<<min(attempt, 5)) * 100 * time.Millisecond
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
	clear(b.docs)
	b.docs = b.docs[:0]
	if r, ok := out.(BodyReuser); !ok || !r.ReusesBodies() || cap(b.buf) > keepBytes {
		b.buf = nil // the output may still hold the bodies
	}
	b.buf = b.buf[:0]
	select {
	case q.free <- b:
	default:
	}
}

// Close stops accepting documents, waits until everything queued has been
// handed to the output, then returns. Senders must have stopped.
func (q *Queue) Close() {
	q.closeOnce.Do(func() {
		q.fill.Lock()
		b := q.cur
		q.cur = nil
		q.fill.Unlock()
		if b != nil && len(b.docs) > 0 {
			n := int64(len(b.docs)) // b belongs to the output goroutine once sent
			q.ch <- b
			q.waiting.Add(n)
		}
		close(q.ch)
	})
	<-q.done
}
