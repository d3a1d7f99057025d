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
	// lastFrame is the time of the last frame read (unsharded), which
	// the end of a file is flushed at.
	lastFrame time.Time
	// disp, on a sharded capture, is the reader feeding this shard (src
	// is then its shardSource).
	disp *dispatcher
	// flowStream and icmpStream are the configs behind eng.Flows and
	// eng.ICMP, to tell on reconfiguration whether they changed.
	flowStream, icmpStream *config.Stream

	// asm is the TCP reassembler; it outlives engine swaps, and its factory
	// asks cur, so new connections get the parsers of the engine in force.
	asm *tcp.Assembler
	// cur and curFilter are the engine and BPF filter the capture goroutine
	// works with. Once the goroutine runs only it touches them (eng and
	// filter above are the copies Stats reads under Worker.mu); a
	// reconfiguration hands it a plan through plans and waits.
	cur       *engine.Engine
	curFilter string
	plans     chan *swapPlan
	pending   atomic.Bool

	packets, bytes, decodeErrors atomic.Uint64
	readErr                      atomic.Value // error
	// panics counts parser panics recovered; fatal is a panic from outside
	// the parsers, which ends the capture (see guard).
	panics    atomic.Uint64
	fatal     atomic.Pointer[PanicError]
	onPanic   func(protocol string, msg string)
	loggedFor map[string]bool // protocols whose first panic was logged
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
	// flowDrops and icmpDrops come from tables only this goroutine may read.
	flowDrops, icmpDrops []protocol.Drop
	ring                 *RingInfo
}

// publishSnapshot runs on the capture goroutine, which owns the decoder,
// the assembler and the libpcap handle (pcap_stats on a handle another
// thread reads or has closed is not safe).
func (r *captureRun) publishSnapshot() {
	s := &layerSnapshot{dec: r.dec.Stats()}
	s.pcapRecv, s.pcapDrop, s.pcapIfDrop, s.hasPcap = r.src.PcapStats()
	if rr, ok := r.src.(ringReporter); ok {
		s.ring = rr.Ring()
	}
	s.tcp = r.asm.Stats()
	s.flowDrops = protocolDrops(r.cur.Flows)
	s.icmpDrops = protocolDrops(r.cur.ICMP)
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
		shards, err := w.buildCapture(in, c, states)
		if err != nil {
			for _, r := range runs {
				r.src.Close()
			}
			return nil, nil, err
		}
		runs = append(runs, shards...)
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

// newStream builds the publisher of a stream and, for a protocol stream,
// its protocol instance. A stream error (bad option) is returned as
// streamErr, a capture error (bad internal_networks) as err.
func (w *Worker) newStream(in *config.Input, c *config.Capture, st *config.Stream) (pub *streamPublisher, inst *protocol.Instance, streamErr, err error) {
	pub, streamErr = newStreamPublisher(st, in.Processors, w.sink, w.opts.AgentExtra, w.log)
	if streamErr != nil {
		return nil, nil, streamErr, nil
	}
	if nets := c.Interface.InternalNetworks; len(nets) > 0 {
		set, err := processors.ParseNetworks(nets)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: internal_networks: %w", c.Interface.Key(), err)
		}
		pub.internal = set
	}
	// Processes on this host say nothing about a replayed capture.
	if st.MonitorProcs && c.Interface.File == "" {
		pub.procMon = sharedProcMonitor()
	}
	if st.Type == config.TypeFlow || st.Type == config.TypeICMP {
		return pub, nil, nil, nil
	}
	spec, _ := protocol.Lookup(st.Type)
	common, opts, serr := protocol.SplitCommon(spec, st.Options)
	if serr == nil {
		common.KeepNull = common.KeepNull || st.KeepNull
		inst, serr = spec.New(common, opts, pub)
	}
	if serr != nil {
		return nil, nil, fmt.Errorf("stream %s (%s): %w", st.ID, st.Type, serr), nil
	}
	return pub, inst, nil, nil
}

func failStream(states map[string]StreamState, st *config.Stream, err error) {
	st.Err = err
	states[st.ID] = StreamState{Status: "FAILED", Error: err.Error()}
}

// buildCapture builds the shards of one capture (workersOf its interface)
// and opens its source. It returns nil when the capture has no valid
// stream.
func (w *Worker) buildCapture(in *config.Input, c *config.Capture, states map[string]StreamState) ([]*captureRun, error) {
	n := workersOf(c.Interface)
	var runs []*captureRun
	for i := 0; i < n; i++ {
		run, err := w.buildShard(in, c, states)
		if err != nil || run == nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	filter := runs[0].filter
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
	var d *dispatcher
	if n > 1 {
		d = newDispatcher(src, c.Interface, filter, n)
	}
	for i, run := range runs {
		dec, err := link.NewDecoder(src.LinkType(), linkOptions(c.Interface))
		if err != nil {
			src.Close()
			return nil, fmt.Errorf("%s: %w", c.Interface.Key(), err)
		}
		run.dec = dec
		// Timers run on frame time, from the read loop (unsharded) or
		// the dispatcher (sharded), not from the engine's decoded packets.
		run.eng.TickEvery = noTick
		if d == nil {
			run.src = src
			continue
		}
		run.src, run.disp = d.shards[i], d
	}
	return runs, nil
}

// buildShard builds the decoding pipeline of one shard of a capture, all
// but its source. It returns nil when the capture has no valid stream.
func (w *Worker) buildShard(in *config.Input, c *config.Capture, states map[string]StreamState) (*captureRun, error) {
	run := &captureRun{cfg: c, pubs: map[string]*streamPublisher{}, plans: make(chan *swapPlan, 1)}
	run.onPanic = func(proto, msg string) { w.degradeProtocol(run, proto, msg) }
	var insts []*protocol.Instance
	var flowsOn, icmpOn bool
	var flowStream, icmpStream *config.Stream
	for _, st := range c.Streams {
		pub, inst, serr, err := w.newStream(in, c, st)
		if err != nil {
			return nil, err
		}
		if serr != nil {
			failStream(states, st, serr)
			continue
		}
		switch st.Type {
		case config.TypeFlow:
			flowsOn, flowStream = true, st
		case config.TypeICMP:
			icmpOn, icmpStream = true, st
		default:
			insts = append(insts, inst)
			run.protoNames = append(run.protoNames, st.Type)
		}
		run.pubs[st.ID] = pub
	}
	run.eng = engine.New(insts)
	// The reassembler exists even without TCP protocols, so that a
	// reconfiguration can add one without rebuilding the capture; with no
	// TCP port routed to it, it sees no packet.
	run.asm = newTCPAssembler(func(conn *protocol.Conn) protocol.TCPParser { return run.cur.NewTCPParser(conn) })
	run.eng.TCP = run.asm
	run.cur = run.eng
	if flowsOn {
		h, err := newFlows(flowStream, run.pubs[flowStream.ID])
		if err != nil {
			failStream(states, flowStream, fmt.Errorf("stream %s (flow): %w", flowStream.ID, err))
			flowsOn = false
		} else {
			run.eng.Flows, run.flowStream = h, flowStream
		}
	}
	if icmpOn {
		h, err := newICMP(icmpStream, run.pubs[icmpStream.ID])
		if err != nil {
			failStream(states, icmpStream, fmt.Errorf("stream %s (icmp): %w", icmpStream.ID, err))
			icmpOn = false
		} else {
			run.eng.ICMP, run.icmpStream = h, icmpStream
		}
	}
	if len(insts) == 0 && !flowsOn && !icmpOn {
		return nil, nil
	}
	filter := c.Interface.BPFFilter
	if filter == "" {
		filter = withTunnels(BuildFilter(UsesOf(insts), icmpOn, flowsOn, c.Interface.WithVLANs), c.Interface)
	}
	run.filter, run.curFilter = filter, filter
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
		r.disp.startOnce(&w.wg)
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

// Reconfigure applies a new configuration. When only stream metadata
// (tags, processors, data stream, fields) changed, the running captures keep
// their connections and pending transactions and just publish with the new
// settings. When the interfaces are the same but streams were added,
// removed or changed, each capture keeps its sniffer and reassembler and
// only the changed protocols are rebuilt (see reconfigureInPlace). When an
// interface changed, every capture is flushed and rebuilt.
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
	if ok, err := w.reconfigureInPlace(in); ok || err != nil {
		return err
	}
	runs, states, err := w.build(in)
	if err != nil {
		return err
	}
	// While the old captures stop and the new ones start, Run must not see
	// its WaitGroup reach zero and return (nor may Add race with its Wait):
	// hold a slot as long as a capture is still running to hand over to.
	hold := false
	if w.running {
		for _, r := range w.runs {
			if r.done != nil {
				select {
				case <-r.done:
				default:
					hold = true
				}
			}
		}
	}
	if hold {
		w.wg.Add(1)
		defer w.wg.Done()
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
	if hold {
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
	drops := map[string][]protocol.Drop{}
	disps := map[*dispatcher]bool{}
	for _, r := range w.runs {
		s.Shards++
		if r.disp != nil && !disps[r.disp] {
			disps[r.disp] = true
			s.ShardDropped += r.disp.dropped.Load()
		}
		s.Packets += r.packets.Load()
		s.Bytes += r.bytes.Load()
		s.DecodeErrors += r.decodeErrors.Load()
		s.ParserPanics += r.panics.Load()
		snap := r.snap.Load()
		if snap == nil {
			snap = &layerSnapshot{}
		}
		if snap.hasPcap {
			s.PcapReceived += snap.pcapRecv
			s.PcapDropped += snap.pcapDrop
			s.PcapIfDropped += snap.pcapIfDrop
		}
		if snap.ring != nil {
			s.Rings = append(s.Rings, *snap.ring)
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
		s.Decode.Decapsulated += ds.Decapsulated
		s.Decode.TunnelTooDeep += ds.TunnelTooDeep
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
			s.TCP.Quarantined += ts.Quarantined
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
			pd := protocolDrops(inst.TCP, inst.UDP)
			for _, d := range pd {
				pc.Drops += d.Count
			}
			drops[name] = append(drops[name], pd...)
			s.Protocols[name] = pc
		}
		drops[config.TypeFlow] = append(drops[config.TypeFlow], snap.flowDrops...)
		drops[config.TypeICMP] = append(drops[config.TypeICMP], snap.icmpDrops...)
		for _, p := range r.pubs {
			pc := s.Protocols[p.typ]
			pc.Transactions += p.events.Load()
			s.Protocols[p.typ] = pc
			s.Events += p.events.Load()
			s.DroppedEvents += p.dropped.Load()
			s.ProcessorErrors += p.procErrors.Load()
		}
	}
	s.Dropped = dropTable(&s, drops)
	return s
}

// Input returns the configuration in force.
func (w *Worker) Input() *config.Input {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.in
}

// swapPlan is a reconfiguration of one running capture, prepared by
// Reconfigure and applied by the capture goroutine between two packets, so
// the engine, the reassembler and the libpcap handle are never touched by
// two goroutines.
type swapPlan struct {
	insts       []*protocol.Instance
	flows, icmp engine.PacketHandler
	// retired are instances of removed or changed streams: their UDP side
	// is flushed (as at the end of input). Their TCP connections are left
	// to finish on the parsers they were opened with, or to expire.
	retired []*protocol.Instance
	// retiredHandlers are replaced flow tables and ICMP trackers, flushed.
	retiredHandlers []engine.PacketHandler
	filter          string // new BPF filter, when setFilter
	setFilter       bool

	eng  *engine.Engine // the engine built by applyPlan
	err  error          // a BPF filter the handle refused
	done chan struct{}
}

// applyPlan swaps the engine of the capture. It runs on the capture
// goroutine, or on the Reconfigure goroutine when no capture goroutine runs.
func (r *captureRun) applyPlan(p *swapPlan) {
	defer close(p.done)
	now := r.flushTime()
	for _, in := range p.retired {
		if in.UDP != nil {
			in.UDP.Flush()
		}
	}
	for _, h := range p.retiredHandlers {
		h.Flush(now)
	}
	eng := r.cur.WithInstances(p.insts)
	eng.Flows, eng.ICMP = p.flows, p.icmp
	r.cur, p.eng = eng, eng
	if p.setFilter {
		if fs, ok := r.src.(interface{ SetFilter(string) error }); ok {
			if err := fs.SetFilter(p.filter); err != nil {
				p.err = fmt.Errorf("%s: %w", r.cfg.Interface.Key(), err)
				return
			}
		}
		r.curFilter = p.filter
	}
}

// sameDecoding reports whether a stream decodes and publishes the same way
// in both configs, so its protocol instance and publisher can be kept
// (metadata is reapplied with configure).
func sameDecoding(a, b *config.Stream) bool {
	return a.ID == b.ID && a.Type == b.Type && a.KeepNull == b.KeepNull &&
		a.MonitorProcs == b.MonitorProcs && reflect.DeepEqual(a.Options, b.Options)
}

// reconfigureInPlace applies in to the running captures when every capture
// keeps its interface: the sniffer, link decoder and TCP reassembler stay,
// so the open connections and pending transactions of unchanged protocols
// carry on; new instances are built only for added or changed streams. It
// returns false (and changes nothing) when the captures cannot be kept.
// Called with w.mu held.
func (w *Worker) reconfigureInPlace(in *config.Input) (bool, error) {
	old := w.in
	if len(old.Captures) != len(in.Captures) {
		return false, nil
	}
	// Every shard of a capture gets its own plan (its own new instances
	// and publishers): shards share nothing.
	var runs []*captureRun
	var capOf []int // index in in.Captures of runs[k]
	for i, c := range in.Captures {
		oc := old.Captures[i]
		if !reflect.DeepEqual(oc.Interface, c.Interface) || oc.IgnoreOutgoing != c.IgnoreOutgoing {
			return false, nil
		}
		found := false
		for _, r := range w.runs {
			if r.cfg.Interface.Key() == c.Interface.Key() {
				runs, capOf = append(runs, r), append(capOf, i)
				found = true
			}
		}
		if !found {
			return false, nil // that capture did not start: build it anew
		}
	}

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
	type prepared struct {
		plan       *swapPlan
		pubs       map[string]*streamPublisher
		protoNames []string
		flowStream *config.Stream
		icmpStream *config.Stream
		filter     string
	}
	preps := make([]prepared, len(runs))
	for k, r := range runs {
		c, oc := in.Captures[capOf[k]], old.Captures[capOf[k]]
		oldStreams := map[string]*config.Stream{}
		for _, st := range oc.Streams {
			oldStreams[st.ID] = st
		}
		// The instance each kept stream runs, by stream id.
		oldInsts := map[string]*protocol.Instance{}
		oldInstList := r.eng.Instances()
		{
			k := 0
			for _, st := range oc.Streams {
				if st.Type == config.TypeFlow || st.Type == config.TypeICMP || r.pubs[st.ID] == nil {
					continue
				}
				if k < len(oldInstList) {
					oldInsts[st.ID] = oldInstList[k]
				}
				k++
			}
		}
		p := prepared{plan: &swapPlan{done: make(chan struct{})}, pubs: map[string]*streamPublisher{}}
		kept := map[*protocol.Instance]bool{}
		for _, st := range c.Streams {
			if ost, ok := oldStreams[st.ID]; ok && sameDecoding(ost, st) && r.pubs[st.ID] != nil {
				pub := r.pubs[st.ID]
				if err := pub.configure(st, in.Processors, w.opts.AgentExtra); err != nil {
					return true, err
				}
				p.pubs[st.ID] = pub
				switch st.Type {
				case config.TypeFlow:
					p.plan.flows, p.flowStream = r.eng.Flows, st
				case config.TypeICMP:
					p.plan.icmp, p.icmpStream = r.eng.ICMP, st
				default:
					inst := oldInsts[st.ID]
					kept[inst] = true
					p.plan.insts = append(p.plan.insts, inst)
					p.protoNames = append(p.protoNames, st.Type)
				}
				continue
			}
			pub, inst, serr, err := w.newStream(in, c, st)
			if err != nil {
				return true, err
			}
			if serr != nil {
				failStream(states, st, serr)
				continue
			}
			switch st.Type {
			case config.TypeFlow:
				h, err := newFlows(st, pub)
				if err != nil {
					failStream(states, st, fmt.Errorf("stream %s (flow): %w", st.ID, err))
					continue
				}
				p.plan.flows, p.flowStream = h, st
			case config.TypeICMP:
				h, err := newICMP(st, pub)
				if err != nil {
					failStream(states, st, fmt.Errorf("stream %s (icmp): %w", st.ID, err))
					continue
				}
				p.plan.icmp, p.icmpStream = h, st
			default:
				p.plan.insts = append(p.plan.insts, inst)
				p.protoNames = append(p.protoNames, st.Type)
			}
			p.pubs[st.ID] = pub
		}
		if len(p.plan.insts) == 0 && p.plan.flows == nil && p.plan.icmp == nil {
			// Nothing left to capture here: the full rebuild reports it.
			return false, nil
		}
		for _, inst := range oldInstList {
			if !kept[inst] {
				p.plan.retired = append(p.plan.retired, inst)
			}
		}
		if r.eng.Flows != nil && r.eng.Flows != p.plan.flows {
			p.plan.retiredHandlers = append(p.plan.retiredHandlers, r.eng.Flows)
		}
		if r.eng.ICMP != nil && r.eng.ICMP != p.plan.icmp {
			p.plan.retiredHandlers = append(p.plan.retiredHandlers, r.eng.ICMP)
		}
		p.filter = c.Interface.BPFFilter
		if p.filter == "" {
			p.filter = withTunnels(BuildFilter(UsesOf(p.plan.insts), p.plan.icmp != nil, p.plan.flows != nil, c.Interface.WithVLANs), c.Interface)
		}
		if p.filter != r.filter {
			p.plan.filter, p.plan.setFilter = p.filter, true
		}
		preps[k] = p
	}

	// Everything is prepared: hand each capture its plan and wait until it
	// is applied, so that when Reconfigure returns new traffic is decoded
	// with the new config.
	var errs []error
	for i, r := range runs {
		p := preps[i]
		w.applyPlan(r, p.plan)
		if p.plan.err != nil {
			errs = append(errs, p.plan.err)
		} else {
			r.filter = p.filter
		}
		r.eng, r.pubs, r.protoNames = p.plan.eng, p.pubs, p.protoNames
		r.flowStream, r.icmpStream = p.flowStream, p.icmpStream
	}
	w.in, w.states = in, states
	return true, errors.Join(errs...)
}

// applyPlan has the capture goroutine apply p and waits for it; with no
// goroutine running (not started yet, or ended) it applies p itself.
func (w *Worker) applyPlan(r *captureRun, p *swapPlan) {
	if r.done == nil {
		r.applyPlan(p)
		return
	}
	r.plans <- p
	r.pending.Store(true)
	select {
	case <-p.done:
	case <-r.done:
		select {
		case <-p.done: // applied just before the loop ended
		default:
			// The loop ended without taking it: nothing runs the
			// engine any more, so apply it here.
			select {
			case <-r.plans:
			default:
			}
			r.applyPlan(p)
		}
	}
}
