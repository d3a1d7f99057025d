package capture

// Building a capture: one stream-to-instance builder (newStream) shared by
// the first build and by reconfiguration, and the shards of each capture.

import (
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"log/slog"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/processors"
)

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
	states := streamStates(in)
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
	if err := w.setHost(pub, c); err != nil {
		return nil, nil, nil, err
	}
	// Processes on this host say nothing about a replayed capture.
	if st.MonitorProcs && c.Interface.File == "" {
		pub.procMon = sharedProcMonitor()
		pub.procNamer = newProcNamer(st.MonitoredProcs)
	}
	if st.Type == config.TypeFlow || st.Type == config.TypeICMP {
		return pub, nil, nil, nil
	}
	spec, _ := protocol.Lookup(st.Type)
	common, opts, serr := protocol.SplitCommon(spec, st.Options)
	if serr == nil {
		common.KeepNull = common.KeepNull || st.KeepNull
		common.Shards = workersOf(c.Interface)
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
	src, err := openSource(c.Interface, filter, n == 1)
	if err != nil {
		return nil, err
	}
	// ignore_outgoing is applied per transaction (streamPublisher), not by
	// a direction filter here: the outgoing half of every conversation the
	// host serves must still be decoded.
	var d *dispatcher
	if n > 1 {
		d = newDispatcher(src, c.Interface, filter, n)
	}
	lopts := linkOptions(c.Interface)
	lopts.Interfaces = multiInterface(src)
	names := namesOf(src)
	for i, run := range runs {
		// Events name the interface their packets came in on.
		run.names = names
		for _, p := range run.pubs {
			p.ifNames = names
		}
		dec, err := link.NewDecoder(src.LinkType(), shareLink(lopts, n))
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
	run.asm = newTCPAssembler(func(conn *protocol.Conn) protocol.TCPParser { return run.cur.NewTCPParser(conn) }, workersOf(c.Interface))
	run.eng.TCP = run.asm
	run.cur = run.eng
	if flowsOn {
		h, err := newFlows(flowStream, run.pubs[flowStream.ID], workersOf(c.Interface))
		if err != nil {
			failStream(states, flowStream, fmt.Errorf("stream %s (flow): %w", flowStream.ID, err))
			flowsOn = false
		} else {
			run.eng.Flows, run.flowStream = h, flowStream
		}
	}
	if icmpOn {
		h, err := newICMP(icmpStream, run.pubs[icmpStream.ID], workersOf(c.Interface))
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

// setHost gives a publisher what it needs to know about the capturing
// host: its addresses (local_ips, or the host's own for a live capture),
// ignore_outgoing and the agent.* and host.* members.
func (w *Worker) setHost(pub *streamPublisher, c *config.Capture) error {
	pub.host = w.opts.Host
	if pub.host == nil {
		pub.host = hostmeta.Default()
	}
	if len(c.Interface.LocalIPs) > 0 {
		set, err := hostmeta.ParseAddrs(c.Interface.LocalIPs)
		if err != nil {
			return fmt.Errorf("%s: local_ips: %w", c.Interface.Key(), err)
		}
		pub.local = set
	} else {
		pub.hostLocal = c.Interface.File == ""
	}
	pub.ignoreOutgoing = c.IgnoreOutgoing
	return nil
}
