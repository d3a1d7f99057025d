package capture

// Statistics: snapshots published by each capture goroutine, summed over
// captures and shards by Stats.

import (
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/counters"
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
		if ss, ok := r.src.(*shardSource); ok {
			s.ShardQueues = append(s.ShardQueues, ss.queueStats())
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
		counters.Add(&s.Decode, &snap.dec)
		counters.Add(&s.TCP, &snap.tcp)
		s.ActiveTCPConns += int(snap.tcp.Active)
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
	s.CaptureLoss = captureLossOf(s.TCP)
	return s
}

// CaptureLoss is the capture-loss estimate in the manner of Zeek's
// capture_loss script, over the TCP connections the assembler reassembles:
// the bytes peers acknowledged that the capture never saw, over all the
// bytes they acknowledged. Zeek's own figure is per ACK (GapEvents over
// AckEvents); both are here, Percent is the byte ratio.
type CaptureLoss struct {
	AckEvents   uint64  `json:"ack_events"`   // ACKs that acknowledged new bytes
	AckedBytes  uint64  `json:"acked_bytes"`  // bytes they acknowledged
	GapEvents   uint64  `json:"gap_events"`   // of those ACKs, the ones covering bytes never seen
	UnseenBytes uint64  `json:"unseen_bytes"` // acknowledged bytes never seen
	Percent     float64 `json:"percent"`      // 100 * UnseenBytes / AckedBytes
}

func captureLossOf(t tcp.Stats) CaptureLoss {
	l := CaptureLoss{AckEvents: t.AckEvents, AckedBytes: t.AckedBytes, GapEvents: t.AckedGapEvents, UnseenBytes: t.AckedUnseenBytes}
	l.Percent = LossPercent(l.UnseenBytes, l.AckedBytes)
	return l
}

// LossPercent is 100*unseen/acked, 0 when nothing was acknowledged.
func LossPercent(unseen, acked uint64) float64 {
	if acked == 0 {
		return 0
	}
	return 100 * float64(unseen) / float64(acked)
}
