package capture

// The run loop: one goroutine per shard reads its source (the capture, or
// the dispatcher's batches), decodes and feeds the engine.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
)

// Run captures until ctx ends or every source is exhausted (pcap files).
// Pending transactions and flows are flushed before it returns.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	w.runCtx = ctx
	w.running = true
	w.finished = make(chan struct{})
	for _, r := range w.runs {
		w.start(ctx, r)
	}
	w.mu.Unlock()
	w.wg.Wait()
	w.mu.Lock()
	w.running = false
	close(w.finished)
	var errs []error
	for _, r := range w.runs {
		if p := r.fatal.Load(); p != nil {
			errs = append(errs, p)
		}
		if e, _ := r.readErr.Load().(error); e != nil {
			errs = append(errs, e)
		}
	}
	w.mu.Unlock()
	return errors.Join(errs...)
}

func (w *Worker) start(ctx context.Context, r *captureRun) {
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.done = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(r.done)
		defer r.src.Close()
		r.loop(rctx, w.log)
	}()
	if r.disp != nil {
		r.disp.startOnce(ctx, &w.wg)
	}
}

func (r *captureRun) loop(ctx context.Context, log *slog.Logger) {
	st := &readState{live: r.cfg.Interface.File == "", loops: r.cfg.Interface.Loop, checkEvery: 4095}
	if !st.live && !r.cfg.Interface.TopSpeed {
		// A file replayed at its recorded pace may take seconds for 4096
		// packets: look at ctx on every one, or a stop would wait for them.
		st.checkEvery = 0
	}
	if _, ok := r.src.(*shardSource); ok {
		st.loops = 0 // the dispatcher replays the file
	}
	defer r.publishSnapshot()
	// A parser panic is recovered here, per run of the read loop, not per
	// packet: the connection is taken out of decoding and reading resumes.
	for !r.guard(log, func() { r.read(ctx, log, st) }) {
	}
	if r.fatal.Load() != nil {
		return // state may be corrupt: publish nothing more from it
	}
	for !r.guard(log, func() { r.cur.Flush(r.flushTime()) }) {
	}
}

// readState is the read loop's own state, kept across a recovered panic.
type readState struct {
	pkt      link.Packet
	live     bool
	loops    int
	lastWall time.Time
	lastTick time.Time // packet time of the last timer run
	n        uint64
	// checkEvery+1 packets pass between looks at ctx (a power of two).
	checkEvery uint64
}

func (r *captureRun) read(ctx context.Context, log *slog.Logger, st *readState) {
	for ; ; st.n++ {
		// A reconfiguration waits for its plan: checked before every
		// packet (one atomic load) and after every read timeout, so it is
		// applied promptly whatever the packet rate.
		if r.pending.Load() {
			r.pending.Store(false)
			select {
			case p := <-r.plans:
				r.applyPlan(p)
			default:
			}
		}
		if st.n&4095 == 0 {
			r.publishSnapshot()
		}
		if st.n&st.checkEvery == 0 && ctx.Err() != nil {
			return
		}
		data, ci, err := r.src.Next()
		if err != nil {
			if err == errTick {
				r.cur.Tick(r.src.(*shardSource).tickAt)
				continue
			}
			if errors.Is(err, ErrTimeout) {
				if ctx.Err() != nil {
					return
				}
				// Idle live capture: advance timers by wall time so
				// transactions and flows still expire.
				now := time.Now()
				if now.Sub(st.lastWall) >= time.Second {
					st.lastWall = now
					r.cur.Tick(now)
					r.publishSnapshot()
				}
				continue
			}
			if !st.live && st.loops > 1 && errors.Is(err, io.EOF) {
				st.loops--
				src, oerr := OpenSource(r.cfg.Interface, r.curFilter)
				if oerr == nil {
					r.src.Close()
					r.src = src
					continue
				}
				err = oerr
			}
			if !errors.Is(err, io.EOF) {
				r.readErr.Store(fmt.Errorf("%s: %w", r.cfg.Interface.Key(), err))
				log.Warn("capture read ended", "source", r.cfg.Interface.Key(), "error", err)
			}
			return
		}
		r.packets.Add(1)
		r.bytes.Add(uint64(ci.Length))
		ok, derr := r.dec.Decode(data, ci, &st.pkt)
		if derr != nil {
			r.decodeErrors.Add(1)
		} else if ok {
			r.cur.Packet(&st.pkt)
		}
		if !ok && st.pkt.Tunnel.N > 0 {
			// The tunnel was opened but its content did not decode
			// (an inner fragment awaiting the rest, ARP in VXLAN, a
			// layer nested too deep): its carriers still count in
			// their underlay flows.
			if u, isU := r.cur.Flows.(underlayCounter); isU {
				u.Underlay(&st.pkt)
			}
		}
		if r.disp == nil {
			// The engine's timers run on every frame's time, decoded
			// or not: the rule the dispatcher of a sharded capture
			// applies (it cannot know what decodes), so that any
			// worker count expires and reports at the same points.
			ts := ci.Timestamp
			r.lastFrame = ts
			if ts.Sub(st.lastTick) >= time.Second {
				st.lastTick = ts
				r.cur.Tick(ts)
			}
		}
	}
}

// underlayCounter is the flow table's entry for the tunnel carriers of a
// frame whose inner packet did not decode (flows.Table.Underlay).
type underlayCounter interface{ Underlay(p *link.Packet) }

// flushTime is the time pending state is flushed at: packet time for a
// replayed file, the wall clock for a live capture.
func (r *captureRun) flushTime() time.Time {
	now := r.cur.Now()
	if ss, ok := r.src.(*shardSource); ok && !ss.end.IsZero() {
		now = ss.end // the input's last frame, which another shard may have had
	} else if !r.lastFrame.IsZero() {
		now = r.lastFrame
	}
	if r.cfg.Interface.File == "" || now.IsZero() {
		now = time.Now()
	}
	return now
}
