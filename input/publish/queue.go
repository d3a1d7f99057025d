// Package publish moves encoded documents from capture workers to an output
// through one bounded queue. Capture blocks when the queue is full, so a slow
// output turns into libpcap drops (counted) rather than unbounded memory.
package publish

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
)

// Queue is a capture.Sink in front of an Output.
type Queue struct {
	ch        chan output.Doc
	batchSize int
	flushEach time.Duration

	mu  sync.Mutex
	out output.Output

	closeOnce sync.Once
	done      chan struct{}

	blocked   atomic.Uint64 // Sends that found the queue full
	sent      atomic.Uint64
	failures  atomic.Uint64
	lastError atomic.Value // string
}

// NewQueue makes a queue holding at most size documents.
func NewQueue(out output.Output, size int) *Queue {
	if size <= 0 {
		size = 4096
	}
	batch := 512
	if batch > size {
		batch = size
	}
	return &Queue{
		ch:        make(chan output.Doc, size),
		batchSize: batch,
		flushEach: time.Second,
		out:       out,
		done:      make(chan struct{}),
	}
}

// Send enqueues a document, waiting while the queue is full.
func (q *Queue) Send(d output.Doc) {
	select {
	case q.ch <- d:
	default:
		q.blocked.Add(1)
		q.ch <- d
	}
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

// Depth is the number of queued documents.
func (q *Queue) Depth() int { return len(q.ch) }

// Capacity is the queue bound.
func (q *Queue) Capacity() int { return cap(q.ch) }

// Blocked counts Sends that had to wait for room.
func (q *Queue) Blocked() uint64 { return q.blocked.Load() }

// Sent counts documents handed to the output successfully.
func (q *Queue) Sent() uint64 { return q.sent.Load() }

// Failures counts Publish calls that returned an error.
func (q *Queue) Failures() uint64 { return q.failures.Load() }

// LastError is the last Publish error, "" if none.
func (q *Queue) LastError() string {
	s, _ := q.lastError.Load().(string)
	return s
}

// Run drains the queue into the output until Close is called and the queue
// is empty. Publish errors are retried (the output decides what is
// permanent), so documents are not lost to a brief outage.
func (q *Queue) Run(ctx context.Context) {
	defer close(q.done)
	batch := make([]output.Doc, 0, q.batchSize)
	ticker := time.NewTicker(q.flushEach)
	defer ticker.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for attempt := 0; ; attempt++ {
			out := q.Output()
			err := out.Publish(ctx, batch)
			if err == nil {
				q.sent.Add(uint64(len(batch)))
				q.lastError.Store("")
				break
			}
			q.failures.Add(1)
			q.lastError.Store(err.Error())
			if ctx.Err() != nil {
				break
			}
			backoff := time.Duration(1<<min(attempt, 5)) * 100 * time.Millisecond
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
		}
		clear(batch)
		batch = batch[:0]
	}
	for {
		select {
		case d, ok := <-q.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, d)
			if len(batch) >= q.batchSize {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// Close stops accepting documents, waits until everything queued has been
// handed to the output, then returns. Senders must have stopped.
func (q *Queue) Close() {
	q.closeOnce.Do(func() { close(q.ch) })
	<-q.done
}
