package capture

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// PanicError is a panic from outside the protocol parsers (link decoding,
// reassembly bookkeeping, flows): the capture stops, what is queued is
// still delivered, and the process reports it and fails.
type PanicError struct {
	Source string
	Value  any
	Stack  []byte
}

// Summary is the error without the stack, for a unit status message.
func (e *PanicError) Summary() string {
	return fmt.Sprintf("%s: internal error (panic: %v)", e.Source, e.Value)
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s: internal error (panic: %v); please report it with this stack:\n%s", e.Source, e.Value, e.Stack)
}

// guard runs fn, recovering a panic. A panic in a protocol parser takes
// that connection (TCP) or datagram (UDP) out of decoding, is counted,
// logged with its stack the first time for that protocol, and turns the
// protocol's streams DEGRADED; guard then returns false so the caller runs
// fn again and every other connection keeps decoding. Any other panic is
// kept as r.fatal and guard returns true, as it does when fn returns.
func (r *captureRun) guard(log *slog.Logger, fn func()) (done bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		stack := debug.Stack()
		proto, where := "", ""
		if c, ok := r.asm.Quarantine(); ok {
			proto = r.cur.TCPProtocolOf(c)
			where = fmt.Sprintf("connection %s -> %s taken out of decoding", c.Client, c.Server)
		} else if name, ok := r.cur.QuarantineUDP(); ok {
			proto, where = name, "datagram dropped"
		}
		if proto == "" {
			r.fatal.Store(&PanicError{Source: r.cfg.Interface.Key(), Value: v, Stack: stack})
			log.Error("capture stopped by an internal error", "source", r.cfg.Interface.Key(), "panic", fmt.Sprint(v), "stack", string(stack))
			done = true
			return
		}
		n := r.panics.Add(1)
		if r.loggedFor == nil {
			r.loggedFor = map[string]bool{}
		}
		if !r.loggedFor[proto] {
			r.loggedFor[proto] = true
			log.Error("protocol parser panicked; decoding goes on without that connection",
				"protocol", proto, "where", where, "panic", fmt.Sprint(v), "stack", string(stack))
		}
		if r.onPanic != nil {
			r.onPanic(proto, fmt.Sprintf("%s parser panicked %d time(s) (last: %v; %s); see the log for the stack", proto, n, v, where))
		}
		done = false
	}()
	fn()
	return true
}

// degradeProtocol marks the streams of proto on run DEGRADED with msg.
func (w *Worker) degradeProtocol(run *captureRun, proto, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range run.cfg.Streams {
		if st.Type == proto {
			if s := w.states[st.ID]; s.Status == "HEALTHY" || s.Status == "DEGRADED" {
				w.states[st.ID] = StreamState{Status: "DEGRADED", Error: msg}
			}
		}
	}
}
