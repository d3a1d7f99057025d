package capture

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/processors"
	"github.com/network-traffic/network-traffic/input/procs"
)

// Direction classifies a flow by its ends against the internal networks,
// with the values ECS and Beats use.
func Direction(internal *processors.NetworkSet, src, dst netip.Addr) string {
	if !src.IsValid() || !dst.IsValid() {
		return ""
	}
	srcIn, dstIn := internal.Contains(src), internal.Contains(dst)
	switch {
	case srcIn && dstIn:
		return "internal"
	case srcIn:
		return "outbound"
	case dstIn:
		return "inbound"
	}
	return "external"
}

// One process monitor serves every worker of the process: /proc is the
// same for all of them and scans are rate limited globally.
var (
	procMonOnce sync.Once
	procMon     *procs.Monitor
)

func sharedProcMonitor() *procs.Monitor {
	procMonOnce.Do(func() { procMon = procs.New(procs.Config{}) })
	return procMon
}

// newProcNamer turns procs.monitored into a Namer (nil when empty).
func newProcNamer(list []config.MonitoredProc) *procs.Namer {
	var ml []procs.Monitored
	for _, m := range list {
		ml = append(ml, procs.Monitored{Process: m.Process, CmdlineGrep: m.CmdlineGrep})
	}
	return procs.NewNamer(ml)
}

// ProcStats reports the shared process monitor's counters (nil if unused).
func ProcStats() any {
	if procMon == nil {
		return nil
	}
	return procMon.Stats()
}

// DocProcessor transforms or drops an encoded document (Beats processors).
type DocProcessor interface {
	Run(doc []byte) (out []byte, drop bool, err error)
}

// NewProcessors builds the processor chain of a stream from the unit's and
// the stream's processor configs. It is set by the processors wiring; nil
// chains cost nothing.
var NewProcessors func(cfgs []map[string]any) (DocProcessor, error)

// streamPublisher is the Publisher a protocol instance writes to: it
// encodes each event with the stream's metadata, runs the stream's
// processors and hands the document to the sink. One per stream, used from
// the capture goroutine only, so the writer buffer is reused without locks.
type streamPublisher struct {
	id     string
	typ    string
	target string
	meta   ecsmap.Meta
	procs  DocProcessor
	sink   Sink
	log    *slog.Logger
	w      ecsmap.Writer

	mu sync.Mutex // guards swaps of meta/procs/target by Reconfigure

	// procMon enriches events with local processes (monitor_processes on a
	// live capture); nil otherwise.
	procMon *procs.Monitor
	// procNamer names processes after procs.monitored; nil without it.
	procNamer *procs.Namer
	// internal are the capture's internal_networks; with them
	// network.direction says inbound/outbound/internal/external.
	internal *processors.NetworkSet
	// local are the addresses whose traffic is ingress to or egress from
	// this capture's host: the local_ips option, or with hostLocal the
	// host's own (from host, refreshed); nil for a file without local_ips.
	local     *hostmeta.Addrs
	hostLocal bool
	// ifNames name the capture's interfaces: the event's (Base.Iface) is
	// written as observer.ingress.interface.name; nil for any and files.
	ifNames *ifaceNames
	// ignoreOutgoing drops what this host initiated (egress).
	ignoreOutgoing bool
	// host supplies the agent.* and host.* members; snap is the snapshot
	// p.meta.Extra was rendered with (compared per event, re-rendered on
	// change); baseExtra is the stream's own members.
	host      *hostmeta.Source
	snap      *hostmeta.Snapshot
	baseExtra []byte

	events, dropped, procErrors, ignored atomic.Uint64
	procErrLogged                        atomic.Int64 // unix time of the last processor-failure log
}

// localAddrs are the addresses that are "this host" for the event.
func (p *streamPublisher) localAddrs(snap *hostmeta.Snapshot) *hostmeta.Addrs {
	if p.hostLocal && snap != nil {
		return snap.Addrs
	}
	return p.local
}

func (p *streamPublisher) Publish(ev ecsmap.Event) {
	if p.procMon != nil {
		p.procMon.Enrich(ev.EventBase(), time.Now())
		p.procNamer.NameBase(ev.EventBase())
	}
	var snap *hostmeta.Snapshot
	if p.host != nil {
		snap = p.host.Current()
	}
	b := ev.EventBase()
	if p.ifNames != nil {
		b.Interface = p.ifNames.name(b.Iface)
	}
	local := p.localAddrs(snap)
	hostDir := hostmeta.Direction(local, b.Source.IP, b.Destination.IP)
	if p.ignoreOutgoing && hostDir == "egress" {
		// Packetbeat's ignore_outgoing: what this host initiated is not
		// published (its packets were still decoded, so the inbound
		// conversations stay whole).
		p.ignored.Add(1)
		return
	}
	if p.internal != nil {
		b.Direction = Direction(p.internal, b.Source.IP, b.Destination.IP)
	} else if b.Direction == "" {
		b.Direction = hostDir
	}
	p.mu.Lock()
	if snap != p.snap {
		p.snap = snap
		p.meta.Extra = joinMembers(p.baseExtra, snap, p.meta.Tags)
	}
	doc := ecsmap.Encode(&p.w, ev, &p.meta)
	procs, target := p.procs, p.target
	p.mu.Unlock()
	if procs != nil {
		out, drop, err := procs.Run(doc)
		if err != nil {
			// A failing processor must not lose the event: publish it as
			// the chain left it (with error.message, as Beats does) or, if
			// it could not be processed at all, as it was; count the failure.
			n := p.procErrors.Add(1)
			// Warn on the first failure and then at most once a minute (a
			// pattern that does not match can fail every event).
			if now := time.Now().Unix(); n == 1 || now-p.procErrLogged.Load() >= 60 {
				p.procErrLogged.Store(now)
				p.log.Warn("processor failed; the event is published with error.message", "stream", p.id, "error", err, "failures", n)
			}
			if out != nil {
				doc = out
			}
		} else if drop {
			p.dropped.Add(1)
			return
		} else {
			doc = out
		}
	}
	p.events.Add(1)
	var id string
	if procs != nil {
		if ider, ok := procs.(interface{ DocID() string }); ok {
			id = ider.DocID() // add_id: the document's _id
		}
	}
	if cs, ok := p.sink.(CopySink); ok && id == "" {
		cs.SendCopy(target, doc) // doc is p.w's buffer, reused by the next event
		return
	}
	body := make([]byte, len(doc))
	copy(body, doc)
	p.sink.Send(output.Doc{Index: target, Body: body, ID: id})
}

// buildMeta renders what the stream adds to every document.
func buildMeta(st *config.Stream, agentExtra []byte) ecsmap.Meta {
	m := ecsmap.Meta{Dataset: st.DataStream.Dataset, Tags: st.Tags, KeepNull: st.KeepNull}
	var extra []byte
	appendMember := func(key string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			return
		}
		if len(extra) > 0 {
			extra = append(extra, ',')
		}
		k, _ := json.Marshal(key)
		extra = append(extra, k...)
		extra = append(extra, ':')
		extra = append(extra, raw...)
	}
	appendMember("data_stream", map[string]string{
		"type": st.DataStream.Type, "dataset": st.DataStream.Dataset, "namespace": st.DataStream.Namespace,
	})
	if len(st.Fields) > 0 {
		if st.FieldsUnderRoot {
			for _, k := range sortedKeys(st.Fields) {
				if reservedRoot[k] {
					continue
				}
				appendMember(k, st.Fields[k])
			}
		} else {
			appendMember("fields", st.Fields)
		}
	}
	if len(agentExtra) > 0 {
		if len(extra) > 0 {
			extra = append(extra, ',')
		}
		extra = append(extra, agentExtra...)
	}
	m.Extra = extra
	return m
}

// joinMembers appends the host snapshot's members to the stream's: agent.*
// and host.*, or agent.* alone for a stream tagged "forwarded" (Packetbeat's
// convention for captured traffic that belongs to other hosts).
func joinMembers(base []byte, snap *hostmeta.Snapshot, tags []string) []byte {
	if snap == nil {
		return base
	}
	members := snap.Doc
	if slices.Contains(tags, "forwarded") {
		members = snap.AgentDoc
	}
	if len(members) == 0 {
		return base
	}
	out := make([]byte, 0, len(base)+1+len(members))
	out = append(out, base...)
	if len(out) > 0 {
		out = append(out, ',')
	}
	return append(out, members...)
}

// reservedRoot are keys Encode writes; user fields may not shadow them
// (a duplicate key would make the JSON ambiguous).
var reservedRoot = map[string]bool{
	"@timestamp": true, "event": true, "network": true, "source": true, "destination": true,
	"client": true, "server": true, "related": true, "status": true, "type": true, "method": true,
	"query": true, "resource": true, "path": true, "request": true, "response": true, "params": true,
	"error": true, "tags": true, "data_stream": true, "process": true,
	"agent": true, "elastic_agent": true, "host": true,
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func newStreamPublisher(st *config.Stream, unitProcs []map[string]any, sink Sink, agentExtra []byte, log *slog.Logger) (*streamPublisher, error) {
	p := &streamPublisher{id: st.ID, typ: st.Type, sink: sink, log: log}
	if err := p.configure(st, unitProcs, agentExtra); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *streamPublisher) configure(st *config.Stream, unitProcs []map[string]any, agentExtra []byte) error {
	var procs DocProcessor
	cfgs := append(append([]map[string]any(nil), unitProcs...), st.Processors...)
	if len(cfgs) > 0 && NewProcessors != nil {
		var err error
		procs, err = NewProcessors(cfgs)
		if err != nil {
			return fmt.Errorf("stream %s (%s): processors: %w", st.ID, st.Type, err)
		}
	}
	meta := buildMeta(st, agentExtra)
	p.mu.Lock()
	p.baseExtra = meta.Extra
	if p.snap != nil {
		meta.Extra = joinMembers(meta.Extra, p.snap, meta.Tags)
	}
	p.meta, p.procs, p.target = meta, procs, st.Target()
	p.mu.Unlock()
	return nil
}
