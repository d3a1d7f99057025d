package flows

import (
	"net/netip"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Stats counts the table's work. Read it from the capture goroutine.
type Stats struct {
	Packets uint64 // packets counted
	Created uint64 // flows created
	Expired uint64 // flows ended by the idle timeout
	Evicted uint64 // flows ended early because the table was full
	Reports uint64 // events published
	Skipped uint64 // packets without valid IP addresses
	// UnderlayPackets counts tunnel carriers counted as underlay flows
	// (one per level per packet), UnderlayCreated those flows (also in
	// Created).
	UnderlayPackets uint64
	UnderlayCreated uint64
}

// key identifies a flow regardless of direction (see ecsmap.FlowKey, which
// flow.id encodes). A lookup of an existing flow allocates nothing.
type key = ecsmap.FlowKey

// flow is one table entry. Direction 0 is the first packet's sender.
type flow struct {
	key      key
	id       string
	srcIsA   bool
	src, dst netip.AddrPort
	srcMAC   [6]byte
	dstMAC   [6]byte
	hasMAC   bool
	icmpType uint8
	icmpCode uint8
	tunnel   *ecsmap.Tunnel // copied from the first packet; nil when native
	// underlay: the flow carries tunnelled packets (flow.underlay); its
	// tunnel is then the layers around it and the one it carries.
	underlay bool
	first    time.Time
	last     time.Time
	packets  [2]int64
	bytes    [2]int64
	// conn is the TCP/UDP connection state and history (conn_state).
	conn connState
	// reported counters at the previous report, for delta reports.
	repPackets [2]int64
	repBytes   [2]int64

	// Activity list, least recently active first.
	prev, next *flow
}

// Table is the flow table. It is used from the capture goroutine only; time
// is packet time, advanced by Packet and Tick.
type Table struct {
	cfg        Config
	pub        protocol.Publisher
	flows      map[key]*flow
	head, tail *flow // activity list
	free       *flow // recycled entries, linked through next
	// last is the flow of the previous packet: consecutive packets often
	// belong to one flow (a request and its response, a train of
	// segments), and comparing keys is cheaper than hashing one.
	last *flow
	// lastUnder is the same for the underlay flow of each tunnel level.
	lastUnder  [ecsmap.MaxTunnelLayers]*flow
	nextReport time.Time
	now        time.Time // packet time of the last Tick or Flush: the report time
	stats      Stats
}

// New returns an empty table publishing to pub.
func New(cfg Config, pub protocol.Publisher) *Table {
	def := DefaultConfig()
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	return &Table{cfg: cfg, pub: pub, flows: make(map[key]*flow)}
}

// Stats returns a snapshot of the counters.
func (t *Table) Stats() Stats { return t.stats }

// Len is the number of active flows.
func (t *Table) Len() int { return len(t.flows) }

// Packet counts one decoded packet, and the underlay flows of the tunnels
// it came through (see Underlay).
func (t *Table) Packet(p *link.Packet) {
	if p.Tunnel.N > 0 {
		t.Underlay(p)
	}
	if !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
		t.stats.Skipped++
		return
	}
	t.stats.Packets++
	src, dst := p.SrcIP.Unmap(), p.DstIP.Unmap()
	// Endpoint a is the smaller (address, port), except for ICMP queries
	// where a is the requester: replies then count against the other side
	// even when both addresses are the same (ping 127.0.0.1).
	var k key
	srcIsA := k.Set(p.IPProto, src, dst, p.SrcPort, p.DstPort, p.VLANList(), p.ICMPType, p.ICMPID)
	// Two overlays reusing the same inner addresses stay two flows.
	k.TunSeg = p.Segment()

	f := t.last
	if f == nil || f.key != k {
		f = t.flows[k]
	}
	if f == nil {
		f = t.create(k, srcIsA, src, dst, p.Timestamp)
		f.hasMAC = p.HasMAC
		f.srcMAC, f.dstMAC = p.SrcMAC, p.DstMAC
		f.icmpType, f.icmpCode = p.ICMPType, p.ICMPCode
		if p.Tunnel.N > 0 {
			tun := p.Tunnel
			f.tunnel = &tun
		}
	}
	t.last = f
	n := p.WireLen
	if n <= 0 {
		n = p.IPLen
	}
	dir := t.count(f, srcIsA, p.Timestamp, n)
	switch p.IPProto {
	case 6:
		f.conn.tcp(dir, p)
	case 17:
		f.conn.udp(dir)
	}
}

// Underlay counts the carriers of p's tunnel layers, each as a flow of its
// own keyed by its outer addresses, transport and ports: the VXLAN UDP flow
// between two VTEPs, the GRE flow between two routers. Every nested level
// that has an IP carrier is counted (VXLAN in GRE: the GRE flow and, inside
// it, the VXLAN flow), as captures on each tunnel's interface would count
// them. Packet calls it; the capture loop calls it alone for frames whose
// tunnel was opened but whose inner packet did not decode (an inner
// fragment awaiting the rest, ARP in VXLAN, a layer nested too deep), which
// the underlay carried all the same. Off with Config.SkipUnderlay.
func (t *Table) Underlay(p *link.Packet) {
	if t.cfg.SkipUnderlay {
		return
	}
	for i := range min(int(p.Tunnel.N), len(p.Underlay)) {
		l, u := &p.Tunnel.Layers[i], &p.Underlay[i]
		if !l.Src.IsValid() || !l.Dst.IsValid() {
			continue // MPLS or PPPoE straight on Ethernet: no IP carrier
		}
		src, dst := l.Src.Unmap(), l.Dst.Unmap()
		if src.Is4() != dst.Is4() {
			continue // not one IP header (the decoder never makes it; flow.id could not encode it)
		}
		t.stats.UnderlayPackets++
		var k key
		srcIsA := k.Set(u.IPProto, src, dst, u.SrcPort, u.DstPort, p.VLANs[:min(int(u.NVLANs), len(p.VLANs))], 0, 0)
		k.TunSeg = p.Tunnel.SegmentAt(i) | link.IfaceSegment(p.Iface)
		f := t.lastUnder[i]
		if f == nil || f.key != k {
			f = t.flows[k]
		}
		if f == nil {
			f = t.create(k, srcIsA, src, dst, p.Timestamp)
			f.hasMAC = u.HasMAC
			f.srcMAC, f.dstMAC = u.SrcMAC, u.DstMAC
			// network.tunnel: the layers around the carrier and the one
			// it carries (whose type and id say what the flow is).
			tun := p.Tunnel
			tun.N = uint8(i + 1)
			clear(tun.Layers[i+1:])
			if !hasMPLS(&tun) {
				tun.MPLS, tun.NMPLS = [ecsmap.MaxMPLSLabels]uint32{}, 0
			}
			f.tunnel = &tun
			t.stats.UnderlayCreated++
		}
		// A native packet may share the key (a VXLAN datagram without
		// its I flag, a GRE keepalive): it is the same conversation, and
		// the flow stays marked as an underlay.
		f.underlay = true
		t.lastUnder[i] = f
		dir := t.count(f, srcIsA, p.Timestamp, u.WireLen)
		if u.IPProto == 17 {
			f.conn.udp(dir)
		}
	}
}

func hasMPLS(tun *ecsmap.Tunnel) bool {
	for _, l := range tun.Layers[:tun.N] {
		if l.Type == link.TunnelMPLS {
			return true
		}
	}
	return false
}

// create adds a flow for k, evicting the least recently active one when
// the table is full (underlay and inner flows share the bound).
func (t *Table) create(k key, srcIsA bool, src, dst netip.Addr, ts time.Time) *flow {
	if t.nextReport.IsZero() && t.cfg.Period > 0 { // first packet starts the report clock
		t.nextReport = ts.Add(t.cfg.Period)
	}
	if len(t.flows) >= t.cfg.MaxFlows {
		t.evictOldest(ts)
	}
	sp, dp := k.APort, k.BPort
	if !srcIsA {
		sp, dp = dp, sp
	}
	f := t.alloc()
	f.key = k
	f.srcIsA = srcIsA
	f.src, f.dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	f.first = ts
	f.id = k.ID()
	t.flows[k] = f
	t.stats.Created++
	return f
}

// count moves f to the back of the activity list and counts one packet of
// n bytes; it returns the packet's direction (0: from the first sender).
func (t *Table) count(f *flow, srcIsA bool, ts time.Time, n int) int {
	if f.prev != nil || t.head == f {
		t.unlink(f)
	}
	t.pushBack(f)
	if ts.After(f.last) {
		f.last = ts
	}
	dir := 0
	if srcIsA != f.srcIsA {
		dir = 1
	}
	f.packets[dir]++
	f.bytes[dir] += int64(n)
	return dir
}

// Tick runs at packet time now: idle flows end with a final report, and
// every period all active flows are reported.
func (t *Table) Tick(now time.Time) {
	t.now = now
	if t.nextReport.IsZero() && t.cfg.Period > 0 {
		// The engine ticks right after its first packet, so this is the
		// time Packet would have started the clock at. A flow-sharded
		// capture needs it: each shard's table gets the same ticks but
		// not the first packet, and every shard must report at the same
		// points as one table would.
		t.nextReport = now.Add(t.cfg.Period)
		return
	}
	deadline := now.Add(-t.cfg.Timeout)
	for f := t.head; f != nil && f.last.Before(deadline); f = t.head {
		t.stats.Expired++
		t.end(f)
	}
	if t.cfg.Period > 0 && !t.nextReport.IsZero() && !now.Before(t.nextReport) {
		for f := t.head; f != nil; f = f.next {
			t.report(f, false)
		}
		// Skip every period that passed, in one step: a capture with a
		// long silence (or a timestamp jump) must not loop per period.
		missed := now.Sub(t.nextReport)/t.cfg.Period + 1
		t.nextReport = t.nextReport.Add(missed * t.cfg.Period)
	}
}

// Flush ends every flow with a final report (end of input, shutdown).
func (t *Table) Flush(now time.Time) {
	t.now = now
	for f := t.head; f != nil; f = t.head {
		t.end(f)
	}
	t.nextReport = time.Time{}
}

func (t *Table) evictOldest(now time.Time) {
	if t.head != nil {
		t.stats.Evicted++
		t.end(t.head)
	}
}

// end publishes the final report of f and removes it.
func (t *Table) end(f *flow) {
	t.report(f, true)
	t.unlink(f)
	delete(t.flows, f.key)
	if t.last == f {
		t.last = nil
	}
	for i := range t.lastUnder {
		if t.lastUnder[i] == f {
			t.lastUnder[i] = nil
		}
	}
	*f = flow{next: t.free}
	t.free = f
}

func (t *Table) report(f *flow, final bool) {
	ev := &Event{final: final, id: f.id}
	b := &ev.base
	b.Start, b.End = f.first, f.last
	// @timestamp is when the report is made (packet time), as in Packetbeat.
	b.Timestamp = t.now
	if b.Timestamp.Before(f.last) {
		b.Timestamp = f.last
	}
	b.Type = "flow"
	b.FlowRecord = true
	b.Action = "network_flow"
	b.Categories = categories
	b.Types = typesOngoing
	if final {
		b.Types = typesEnd
	}
	b.IPProtocol = f.key.Proto
	b.Transport = transportName(f.key.Proto)
	b.NetworkType = "ipv4"
	if f.src.Addr().Is6() {
		b.NetworkType = "ipv6"
	}
	if f.key.Proto == 1 || f.key.Proto == 58 {
		b.HasICMP = true
		b.ICMPType, b.ICMPCode = f.icmpType, f.icmpCode
	}
	if f.key.NVLANs > 0 {
		ev.vlans = append([]uint16(nil), f.key.VLANs[:f.key.NVLANs]...)
		b.VLANs = ev.vlans
	}
	if f.key.Proto == 6 || f.key.Proto == 17 {
		ev.connState = f.conn.state(f.key.Proto)
		ev.nhist = f.conn.nhist
		ev.hist = f.conn.hist
	}
	b.Tunnel = f.tunnel
	ev.underlay = f.underlay
	b.Iface = uint16(f.key.TunSeg >> 48) // link.IfaceSegment
	src, dst := &b.Source, &b.Destination
	src.IP, src.Port = f.src.Addr(), f.src.Port()
	dst.IP, dst.Port = f.dst.Addr(), f.dst.Port()
	if f.hasMAC {
		src.MAC, dst.MAC, src.HasMAC, dst.HasMAC = f.srcMAC, f.dstMAC, true, true
	}
	src.Packets, src.Bytes = f.packets[0], f.bytes[0]
	dst.Packets, dst.Bytes = f.packets[1], f.bytes[1]
	if t.cfg.DeltaReports {
		src.Packets -= f.repPackets[0]
		src.Bytes -= f.repBytes[0]
		dst.Packets -= f.repPackets[1]
		dst.Bytes -= f.repBytes[1]
		f.repPackets, f.repBytes = f.packets, f.bytes
	}
	t.stats.Reports++
	t.pub.Publish(ev)
}

func (t *Table) alloc() *flow {
	if f := t.free; f != nil {
		t.free = f.next
		f.next = nil
		return f
	}
	return new(flow)
}

func (t *Table) pushBack(f *flow) {
	f.prev, f.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = f
	} else {
		t.head = f
	}
	t.tail = f
}

func (t *Table) unlink(f *flow) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		t.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// Drops implements protocol.DropCounter. Only the goroutine that owns the
// table may call it.
func (t *Table) Drops() []protocol.Drop {
	return protocol.Drops(
		"published_early_table_full", t.stats.Evicted,
		"packet_without_ip", t.stats.Skipped,
	)
}
