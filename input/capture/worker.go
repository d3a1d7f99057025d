package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/processors"
)

// Options tune a worker.
type Options struct {
	// AgentExtra is pre-encoded JSON members added to every document
	// (elastic_agent.*, agent.id) under Elastic Agent; nil standalone.
	AgentExtra []byte
	Logger     *slog.Logger
}

// Worker runs every capture of one packet input.
type Worker struct {
	sink Sink
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	in       *config.Input
	runs     []*captureRun
	states   map[string]StreamState
	runCtx   context.Context
	running  bool
	wg       sync.WaitGroup
	finished chan struct{}
}

// captureRun is one sniffer with its decoding pipeline.
type captureRun struct {
	cfg    *config.Capture
	src    Source
	dec    *link.Decoder
	eng    *engine.Engine
	filter string
	pubs   map[string]*streamPublisher // by stream id
	// protoNames[i] is the stream type of eng.Instances()[i].
	protoNames []string
	cancel     context.CancelFunc
	done       chan struct{}

	packets, bytes, decodeErrors atomic.Uint64
	readErr                      atomic.Value // error
	// snap is the decoder's and assembler's counters, copied by the capture
	// goroutine (which owns them) every few thousand packets and at the end,
	// so other goroutines read them without racing.
	snap atomic.Pointer[layerSnapshot]
}

type layerSnapshot struct {
	dec                link.Stats
	tcp                tcp.Stats
	pcapRecv, pcapDrop uint64
	pcapIfDrop         uint64
	hasPcap            bool
}

// publishSnapshot runs on the capture goroutine, which owns the decoder,
// the assembler and the libpcap handle (pcap_stats on a handle another
// thread reads or has closed is not safe).
func (r *captureRun) publishSnapshot() {
	s := &layerSnapshot{dec: r.dec.Stats()}
	s.pcapRecv, s.pcapDrop, s.pcapIfDrop, s.hasPcap = r.src.PcapStats()
	if a, ok := r.eng.TCP.(*tcp.Assembler); ok {
		s.tcp = a.Stats()
	}
	r.snap.Store(s)
}

// New validates the input, builds every capture and opens its interface, so
// that a bad device, BPF filter or permission problem is reported before
// Run. Invalid streams are left out and reported by StreamStates.
func New(in *config.Input, sink Sink, opts Options) (*Worker, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Worker{sink: sink, opts: opts, log: opts.Logger, in: in}
	runs, states, err := w.build(in)
	if err != nil {
		return nil, err
	}
	w.runs, w.states = runs, states
	return w, nil
}

func (w *Worker) build(in *config.Input) ([]*captureRun, map[string]StreamState, error) {
	states := map[string]StreamState{}
	for _, st := range in.Streams {
		switch {
		case st.Err != nil:
			states[st.ID] = StreamState{Status: "FAILED", Error: st.Err.Error()}
		case !st.Enabled:
			states[st.ID] = StreamState{Status: "STOPPED"}
		default:
			states[st.ID] = StreamState{Status: "HEALTHY"}
		}
	}
	var runs []*captureRun
	for _, c := range in.Captures {
		run, err := w.buildCapture(in, c, states)
		if err != nil {
			for _, r := range runs {
				r.src.Close()
			}
			return nil, nil, err
		}
		if run != nil {
			runs = append(runs, run)
		}
	}
	if len(runs) == 0 {
		var firstErr string
		for _, st := range in.Streams {
			if s := states[st.ID]; s.Status == "FAILED" {
				firstErr = s.Error
				break
			}
		}
		if firstErr != "" {
			return nil, nil, errors.New(firstErr)
		}
		return nil, nil, errors.New("no enabled streams: enable at least one protocol or flows")
	}
	return runs, states, nil
}

func (w *Worker) buildCapture(in *config.Input, c *config.Capture, states map[string]StreamState) (*captureRun, error) {
	run := &captureRun{cfg: c, pubs: map[string]*streamPublisher{}}
	var insts []*protocol.Instance
	var flowsOn, icmpOn bool
	var flowStream, icmpStream *config.Stream
	failStream := func(st *config.Stream, err error) {
		st.Err = err
		states[st.ID] = StreamState{Status: "FAILED", Error: err.Error()}
	}
	for _, st := range c.Streams {
		pub, err := newStreamPublisher(st, in.Processors, w.sink, w.opts.AgentExtra, w.log)
		if err != nil {
			failStream(st, err)
			continue
		}
		if nets := c.Interface.InternalNetworks; len(nets) > 0 {
			set, err := processors.ParseNetworks(nets)
			if err != nil {
				return nil, fmt.Errorf("%s: internal_networks: %w", c.Interface.Key(), err)
			}
			pub.internal = set
		}
		// Processes on this host say nothing about a replayed capture.
		if st.MonitorProcs && c.Interface.File == "" {
			pub.procMon = sharedProcMonitor()
		}
		switch st.Type {
		case config.TypeFlow:
			flowsOn, flowStream = true, st
		case config.TypeICMP:
			icmpOn, icmpStream = true, st
		default:
			spec, _ := protocol.Lookup(st.Type)
			common, opts, err := protocol.SplitCommon(spec, st.Options)
			if err == nil {
				common.KeepNull = common.KeepNull || st.KeepNull
				var inst *protocol.Instance
				inst, err = spec.New(common, opts, pub)
				if err == nil {
					insts = append(insts, inst)
					run.protoNames = append(run.protoNames, st.Type)
				}
			}
			if err != nil {
				failStream(st, fmt.Errorf("stream %s (%s): %w", st.ID, st.Type, err))
				continue
			}
		}
		run.pubs[st.ID] = pub
	}
	run.eng = engine.New(insts)
	if len(insts) > 0 {
		run.eng.TCP = newTCPAssembler(run.eng)
	}
	if flowsOn {
		h, err := newFlows(flowStream, run.pubs[flowStream.ID])
		if err != nil {
			failStream(flowStream, fmt.Errorf("stream %s (flow): %w", flowStream.ID, err))
			flowsOn = false
		} else {
			run.eng.Flows = h
		}
	}
	if icmpOn {
		h, err := newICMP(icmpStream, run.pubs[icmpStream.ID])
		if err != nil {
			failStream(icmpStream, fmt.Errorf("stream %s (icmp): %w", icmpStream.ID, err))
			icmpOn = false
		} else {
			run.eng.ICMP = h
		}
	}
	if len(insts) == 0 && !flowsOn && !icmpOn {
		return nil, nil
	}
	filter := c.Interface.BPFFilter
	if filter == "" {
		filter = BuildFilter(UsesOf(insts), icmpOn, flowsOn, c.Interface.WithVLANs)
	}
	run.filter = filter
	src, err := OpenSource(c.Interface, filter)
	if err != nil {
		return nil, err
	}
	if c.IgnoreOutgoing {
		if err := SetDirectionIn(src); err != nil {
			src.Close()
			return nil, fmt.Errorf("ignore_outgoing on %s: %w", c.Interface.Device, err)
		}
	}
	dec, err := link.NewDecoder(src.LinkType(), link.Options{})
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("%s: %w", c.Interface.Key(), err)
	}
	run.src, run.dec = src, dec
	return run, nil
}

// Filters returns the BPF filter of each capture (diagnostics, tests).
func (w *Worker) Filters() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.runs))
	for i, r := range w.runs {
		out[i] = r.filter
	}
	return out
}

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
}

func (r *captureRun) loop(ctx context.Context, log *slog.Logger) {
	var pkt link.Packet
	live := r.cfg.Interface.File == ""
	loops := r.cfg.Interface.Loop
	var lastWall time.Time
	defer r.publishSnapshot()
	for n := uint64(0); ; n++ {
		if n&4095 == 0 {
			r.publishSnapshot()
			if ctx.Err() != nil {
				break
			}
		}
		data, ci, err := r.src.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				if ctx.Err() != nil {
					break
				}
				// Idle live capture: advance timers by wall time so
				// transactions and flows still expire.
				now := time.Now()
				if now.Sub(lastWall) >= time.Second {
					lastWall = now
					r.eng.Tick(now)
					r.publishSnapshot()
				}
				continue
			}
			if !live && loops > 1 && errors.Is(err, io.EOF) {
				loops--
				src, oerr := OpenSource(r.cfg.Interface, r.filter)
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
			break
		}
		r.packets.Add(1)
		r.bytes.Add(uint64(ci.Length))
		ok, derr := r.dec.Decode(data, ci, &pkt)
		if derr != nil {
			r.decodeErrors.Add(1)
			continue
		}
		if !ok {
			continue
		}
		r.eng.Packet(&pkt)
	}
	now := r.eng.Now()
	if live || now.IsZero() {
		now = time.Now()
	}
	r.eng.Flush(now)
}

// Reconfigure applies a new configuration. When only stream metadata
// (tags, processors, data stream, fields) changed, the running captures keep
// their connections and pending transactions and just publish with the new
// settings; a capture whose protocols, options or interface changed is
// flushed and rebuilt.
func (w *Worker) Reconfigure(in *config.Input) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sameCaptures(w.in, in) {
		for _, c := range in.Captures {
			for _, r := range w.runs {
				if r.cfg.Interface.Key() != c.Interface.Key() {
					continue
				}
				for _, st := range c.Streams {
					if p := r.pubs[st.ID]; p != nil {
						if err := p.configure(st, in.Processors, w.opts.AgentExtra); err != nil {
							return err
						}
					}
				}
			}
		}
		w.in = in
		return nil
	}
	runs, states, err := w.build(in)
	if err != nil {
		return err
	}
	for _, r := range w.runs {
		if r.cancel != nil {
			r.cancel()
			<-r.done
		} else {
			r.src.Close()
		}
	}
	w.in, w.runs, w.states = in, runs, states
	if w.running {
		for _, r := range runs {
			w.start(w.runCtx, r)
		}
	}
	return nil
}

// sameCaptures reports whether two inputs capture the same way: same
// interfaces, same streams with the same protocol options.
func sameCaptures(a, b *config.Input) bool {
	if len(a.Captures) != len(b.Captures) {
		return false
	}
	for i := range a.Captures {
		ca, cb := a.Captures[i], b.Captures[i]
		if !reflect.DeepEqual(ca.Interface, cb.Interface) || ca.IgnoreOutgoing != cb.IgnoreOutgoing || len(ca.Streams) != len(cb.Streams) {
			return false
		}
		for j := range ca.Streams {
			sa, sb := ca.Streams[j], cb.Streams[j]
			if sa.ID != sb.ID || sa.Type != sb.Type || sa.KeepNull != sb.KeepNull || !reflect.DeepEqual(sa.Options, sb.Options) {
				return false
			}
		}
	}
	return true
}

// StreamStates reports each stream's health.
func (w *Worker) StreamStates() map[string]StreamState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]StreamState, len(w.states))
	for k, v := range w.states {
		out[k] = v
	}
	return out
}

// Stats snapshots the counters.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Stats{Protocols: map[string]ProtocolCounters{}}
	for _, r := range w.runs {
		s.Packets += r.packets.Load()
		s.Bytes += r.bytes.Load()
		s.DecodeErrors += r.decodeErrors.Load()
		snap := r.snap.Load()
		if snap == nil {
			snap = &layerSnapshot{}
		}
		if snap.hasPcap {
			s.PcapReceived += snap.pcapRecv
			s.PcapDropped += snap.pcapDrop
			s.PcapIfDropped += snap.pcapIfDrop
		}
		ds := snap.dec
		s.Decode.Decoded += ds.Decoded
		s.Decode.Truncated += ds.Truncated
		s.Decode.UnsupportedLink += ds.UnsupportedLink
		s.Decode.UnsupportedNetwork += ds.UnsupportedNetwork
		s.Decode.UnsupportedTransport += ds.UnsupportedTransport
		s.Decode.FragmentsPending += ds.FragmentsPending
		s.Decode.FragmentsReassembled += ds.FragmentsReassembled
		s.Decode.FragmentsDropped += ds.FragmentsDropped
		{
			ts := snap.tcp
			s.ActiveTCPConns += int(ts.Active)
			s.TCP.Packets += ts.Packets
			s.TCP.Connections += ts.Connections
			s.TCP.Ignored += ts.Ignored
			s.TCP.Active += ts.Active
			s.TCP.Closed += ts.Closed
			s.TCP.Expired += ts.Expired
			s.TCP.Evicted += ts.Evicted
			s.TCP.Retransmits += ts.Retransmits
			s.TCP.OutOfOrder += ts.OutOfOrder
			s.TCP.Gaps += ts.Gaps
			s.TCP.GapBytes += ts.GapBytes
			s.TCP.BufferDrops += ts.BufferDrops
			s.TCP.TailOverflows += ts.TailOverflows
			s.TCP.Buffered += ts.Buffered
		}
		for i, name := range r.protoNames {
			c := r.eng.CountersOf(i)
			pc := s.Protocols[name]
			pc.Packets += c.Packets.Load()
			pc.Bytes += c.Bytes.Load()
			inst := r.eng.Instances()[i]
			for _, part := range []any{inst.TCP, inst.UDP} {
				if ec, ok := part.(protocol.ErrorCounter); ok {
					pc.ParseErrors += ec.ParseErrors()
					break // one object often serves both transports
				}
			}
			s.Protocols[name] = pc
		}
		for _, p := range r.pubs {
			pc := s.Protocols[p.typ]
			pc.Transactions += p.events.Load()
			s.Protocols[p.typ] = pc
			s.Events += p.events.Load()
			s.DroppedEvents += p.dropped.Load()
		}
	}
	return s
}

// Input returns the configuration in force.
func (w *Worker) Input() *config.Input {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.in
}
