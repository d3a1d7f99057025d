package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
	"github.com/network-traffic/network-traffic/input/publish/diskqueue"
)

// switchQueue is the pipeline every input unit sends into. The output
// unit's `queue.*` settings (Fleet's advanced YAML: queue.mem.*,
// queue.disk.*) pick the queue behind it, and a policy change swaps it
// while the capture keeps running: new documents go to the new queue, the
// old one drains into the output (a disk queue that cannot drain keeps the
// rest on disk for the next start with the same path) and is closed.
type switchQueue struct {
	mu  sync.RWMutex // held for reading by every Send
	p   publish.Pipeline
	fp  string // fingerprint of the queue section p was built from
	err string // why the configured queue could not be opened

	swapMu sync.Mutex // one swap (or Close) at a time
	ctx    context.Context
	wg     sync.WaitGroup
	closed chan struct{}
	once   sync.Once
	// Counters of queues swapped out, so totals never go backwards.
	base struct{ blocked, sent, failures, undelivered uint64 }
}

func newSwitchQueue(p publish.Pipeline) *switchQueue {
	return &switchQueue{p: p, closed: make(chan struct{})}
}

func (s *switchQueue) Send(d output.Doc) {
	s.mu.RLock()
	s.p.Send(d)
	s.mu.RUnlock()
}

func (s *switchQueue) SendCopy(index string, body []byte) {
	s.mu.RLock()
	s.p.SendCopy(index, body)
	s.mu.RUnlock()
}

func (s *switchQueue) current() publish.Pipeline {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.p
}

// begin starts the current queue with ctx (which later queues get too);
// it must be called before any swap.
func (s *switchQueue) begin(ctx context.Context) {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	if s.ctx == nil {
		s.ctx = ctx
		s.start(s.current())
	}
}

// Run runs the current queue and every later one until Close.
func (s *switchQueue) Run(ctx context.Context) {
	s.begin(ctx)
	<-s.closed
	s.wg.Wait()
}

func (s *switchQueue) start(p publish.Pipeline) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); p.Run(s.ctx) }()
}

// swap builds the queue qc describes (its section's fingerprint fp) and
// installs it once no Send is in the old queue, then drains and closes the
// old one. A disk queue replacing one over the same directory waits for the
// old one to close first (senders are held meanwhile): two queues must
// never share segment files. It may block while the old queue drains:
// call it off the manager loop.
func (s *switchQueue) swap(qc diskqueue.QueueConfig, fp string, out output.Output, log *slog.Logger) {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	select {
	case <-s.closed:
		return
	default:
	}
	old := s.current()
	open := func() publish.Pipeline {
		p, err := qc.Open(out, log)
		if err != nil {
			// Validated already; this is the directory (permissions, a
			// full disk). Keep capturing into memory and say so.
			log.Error("cannot open the queue, using a memory queue", "error", err)
			s.mu.Lock()
			s.err = "queue: " + err.Error()
			s.mu.Unlock()
			return publish.NewQueue(out, qc.Mem.Events)
		}
		s.mu.Lock()
		s.err = ""
		s.mu.Unlock()
		return p
	}
	var p publish.Pipeline
	if d, ok := old.(*diskqueue.Queue); ok && qc.Disk != nil && filepath.Clean(d.Path()) == filepath.Clean(qc.Disk.Path) {
		s.mu.Lock() // hold senders until the new queue is in place
		old.Close()
		s.mu.Unlock()
		p = open()
		s.start(p)
		s.mu.Lock()
		s.p, s.fp = p, fp
	} else {
		p = open()
		s.start(p)
		s.mu.Lock()
		s.p, s.fp = p, fp
		s.mu.Unlock()
		old.Close()
		s.mu.Lock()
	}
	s.base.blocked += old.Blocked()
	s.base.sent += old.Sent()
	s.base.failures += old.Failures()
	s.base.undelivered += old.Undelivered()
	s.mu.Unlock()
}

func (s *switchQueue) fingerprint() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fp
}

// Close closes the current queue (waiting for a swap in progress).
func (s *switchQueue) Close() {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	s.current().Close()
	s.once.Do(func() { close(s.closed) })
}

func (s *switchQueue) SetOutput(out output.Output) output.Output {
	return s.current().SetOutput(out)
}
func (s *switchQueue) Output() output.Output { return s.current().Output() }
func (s *switchQueue) Depth() int            { return s.current().Depth() }
func (s *switchQueue) Capacity() int         { return s.current().Capacity() }
func (s *switchQueue) LastError() string     { return s.current().LastError() }

func (s *switchQueue) Blocked() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base.blocked + s.p.Blocked()
}

func (s *switchQueue) Sent() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base.sent + s.p.Sent()
}

func (s *switchQueue) Failures() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base.failures + s.p.Failures()
}

func (s *switchQueue) Undelivered() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base.undelivered + s.p.Undelivered()
}

// QueueState is the current queue's state (type mem or disk).
func (s *switchQueue) QueueState() map[string]any {
	p := s.current()
	st := map[string]any{"type": "mem", "events": p.Depth(), "capacity": p.Capacity()}
	if r, ok := p.(publish.StateReporter); ok {
		st = r.QueueState()
	}
	s.mu.RLock()
	if s.err != "" {
		st["error"] = s.err
	}
	s.mu.RUnlock()
	return st
}

// full reports a disk queue at max_size, with its state.
func (s *switchQueue) full() (bool, map[string]any) {
	st := s.QueueState()
	f, _ := st["full"].(bool)
	return f, st
}

var _ publish.Pipeline = (*switchQueue)(nil)
