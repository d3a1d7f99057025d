package capture

// Statistics: snapshots published by each capture goroutine, summed over
// captures and shards by Stats.

import (
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
)

type layerSnapshot struct {
	dec                link.Stats
	tcp                tcp.Stats
	pcapRecv, pcapDrop uint64
	pcapIfDrop         uint64
	hasPcap            bool
	// flowDrops and icmpDrops come from tables only this goroutine may read.
	flowDrops, icmpDrops []protocol.Drop
	rings                []RingInfo
}

// publishSnapshot runs on the capture goroutine, which owns the decoder,
// the assembler and the libpcap handle (pcap_stats on a handle another
// thread reads or has closed is not safe).
func (r *captureRun) publishSnapshot() {
	s := &layerSnapshot{dec: r.dec.Stats()}
	s.pcapRecv, s.pcapDrop, s.pcapIfDrop, s.hasPcap = r.src.PcapStats()
	s.rings = ringsOf(r.src)
	s.tcp = r.asm.Stats()
	s.flowDrops = protocolDrops(r.cur.Flows)
	s.icmpDrops = protocolDrops(r.cur.ICMP)
	r.snap.Store(s)
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
		s.Rings = append(s.Rings, snap.rings...)
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
			s.IgnoredOutgoing += p.ignored.Load()
		}
	}
	s.Dropped = dropTable(&s, drops)
	return s
}
