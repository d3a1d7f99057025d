package capture

// Live reconfiguration: metadata only, in place (each shard keeps its
// sniffer, reassembler and unchanged protocols), or a full rebuild.

import (
	"errors"
	"fmt"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
)

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
	plan := planReconfigure(w.in, in)
	switch plan.kind {
	case keepAll:
		return w.reconfigureMetadata(in)
	case inPlace:
		if ok, err := w.reconfigureInPlace(in, plan); ok || err != nil {
			return err
		}
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

// reconfigureMetadata re-configures every publisher with its stream's new
// metadata; the engines are untouched. Called with w.mu held.
func (w *Worker) reconfigureMetadata(in *config.Input) error {
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
	// A stream the config leaves healthy keeps the state it has (a build
	// failure stays reported); one it disables or invalidates says so.
	states := streamStates(in)
	for id, st := range states {
		if prev, ok := w.states[id]; ok && st.Status == "HEALTHY" {
			states[id] = prev
		}
	}
	w.in, w.states = in, states
	return nil
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

// reconfigureInPlace applies in to the running captures when every capture
// keeps its interface: the sniffer, link decoder and TCP reassembler stay,
// so the open connections and pending transactions of unchanged protocols
// carry on; new instances are built only for added or changed streams. It
// returns false (and changes nothing) when the captures cannot be kept.
// Called with w.mu held.
func (w *Worker) reconfigureInPlace(in *config.Input, plan reconfigPlan) (bool, error) {
	old := w.in
	// Every shard of a capture gets its own plan (its own new instances
	// and publishers): shards share nothing.
	var runs []*captureRun
	var capOf []int // index in in.Captures of runs[k]
	for i, c := range in.Captures {
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

	states := streamStates(in)
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
		c, oc, cp := in.Captures[capOf[k]], old.Captures[capOf[k]], plan.captures[capOf[k]]
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
			// Kept by the plan, and it runs (a stream whose build failed
			// has no publisher: it is built again).
			if cp.keep[st.ID] && r.pubs[st.ID] != nil {
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
			if pub != nil {
				pub.ifNames = r.names
			}
			if serr != nil {
				failStream(states, st, serr)
				continue
			}
			switch st.Type {
			case config.TypeFlow:
				h, err := newFlows(st, pub, workersOf(c.Interface))
				if err != nil {
					failStream(states, st, fmt.Errorf("stream %s (flow): %w", st.ID, err))
					continue
				}
				p.plan.flows, p.flowStream = h, st
			case config.TypeICMP:
				h, err := newICMP(st, pub, workersOf(c.Interface))
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
