package flows

import (
	"encoding/base64"
	"encoding/binary"
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
}

// key identifies a flow regardless of direction: endpoint a is the smaller
// (address, port) pair. It is a comparable value so a lookup of an existing
// flow allocates nothing.
type key struct {
	a, b         netip.Addr
	aPort, bPort uint16
	proto        uint8
	nvlans       uint8
	vlans        [2]uint16
	icmpID       uint16 // echo identifier: each ping session is its own flow
	// Tunnelled packets: the nesting depth and the segment
	// (ecsmap.Tunnel.Segment), so that two overlays reusing the same inner
	// addresses stay apart.
	tunSeg uint64
}

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
	first    time.Time
	last     time.Time
	packets  [2]int64
	bytes    [2]int64
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
	last       *flow
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

// hasPorts reports transports whose ports the link decoder fills in.
func hasPorts(proto uint8) bool { return proto == 6 || proto == 17 }

// hasEchoID reports ICMP types that carry an identifier (see link.hasIDSeq).
func hasEchoID(proto, typ uint8) bool {
	if proto == 1 {
		switch typ {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
		return false
	}
	return proto == 58 && (typ == 128 || typ == 129)
}

// isReply reports ICMP reply types (echo, timestamp, information, address
// mask replies; ICMPv6 echo reply).
func isReply(proto, typ uint8) bool {
	if proto == 1 {
		return typ == 0 || typ == 14 || typ == 16 || typ == 18
	}
	return typ == 129
}

// Packet counts one decoded packet.
func (t *Table) Packet(p *link.Packet) {
	if !p.SrcIP.IsValid() || !p.DstIP.IsValid() {
		t.stats.Skipped++
		return
	}
	t.stats.Packets++
	src, dst := p.SrcIP.Unmap(), p.DstIP.Unmap()
	var sp, dp uint16
	if hasPorts(p.IPProto) {
		sp, dp = p.SrcPort, p.DstPort
	}
	k := key{proto: p.IPProto}
	k.nvlans = uint8(min(p.NVLANs, len(k.vlans)))
	copy(k.vlans[:], p.VLANs[:k.nvlans])
	if hasEchoID(p.IPProto, p.ICMPType) {
		k.icmpID = p.ICMPID
	}
	k.tunSeg = p.Tunnel.Segment()
	// Endpoint a is the smaller (address, port), except for ICMP queries
	// where a is the requester: replies then count against the other side
	// even when both addresses are the same (ping 127.0.0.1).
	srcIsA := true
	if hasEchoID(p.IPProto, p.ICMPType) {
		srcIsA = !isReply(p.IPProto, p.ICMPType)
	} else if c := src.Compare(dst); c > 0 || (c == 0 && sp > dp) {
		srcIsA = false
	}
	if srcIsA {
		k.a, k.b, k.aPort, k.bPort = src, dst, sp, dp
	} else {
		k.a, k.b, k.aPort, k.bPort = dst, src, dp, sp
	}

	if t.nextReport.IsZero() && t.cfg.Period > 0 { // first packet starts the report clock
		t.nextReport = p.Timestamp.Add(t.cfg.Period)
	}

	f := t.last
	if f == nil || f.key != k {
		f = t.flows[k]
	}
	if f == nil {
		if len(t.flows) >= t.cfg.MaxFlows {
			t.evictOldest(p.Timestamp)
		}
		f = t.alloc()
		f.key = k
		f.srcIsA = srcIsA
		f.src, f.dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
		f.hasMAC = p.HasMAC
		f.srcMAC, f.dstMAC = p.SrcMAC, p.DstMAC
		f.icmpType, f.icmpCode = p.ICMPType, p.ICMPCode
		f.first = p.Timestamp
		f.id = flowID(&k)
		if p.Tunnel.N > 0 {
			tun := p.Tunnel
			f.tunnel = &tun
		}
		t.flows[k] = f
		t.stats.Created++
	} else {
		t.unlink(f)
	}
	t.pushBack(f)
	t.last = f
	if p.Timestamp.After(f.last) {
		f.last = p.Timestamp
	}
	dir := 0
	if srcIsA != f.srcIsA {
		dir = 1
	}
	n := p.WireLen
	if n <= 0 {
		n = p.IPLen
	}
	f.packets[dir]++
	f.bytes[dir] += int64(n)
}

// Tick runs at packet time now: idle flows end with a final report, and
// every period all active flows are reported.
func (t *Table) Tick(now time.Time) {
	t.now = now
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
	b.Action = "network_flow"
	b.Categories = categories
	b.Types = typesOngoing
	if final {
		b.Types = typesEnd
	}
	b.IPProtocol = f.key.proto
	b.Transport = transportName(f.key.proto)
	b.NetworkType = "ipv4"
	if f.src.Addr().Is6() {
		b.NetworkType = "ipv6"
	}
	if f.key.proto == 1 || f.key.proto == 58 {
		b.HasICMP = true
		b.ICMPType, b.ICMPCode = f.icmpType, f.icmpCode
	}
	if f.key.nvlans > 0 {
		ev.vlans = append([]uint16(nil), f.key.vlans[:f.key.nvlans]...)
		b.VLANs = ev.vlans
	}
	b.Tunnel = f.tunnel
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

// flowID is a stable identifier of the flow, the same for both directions
// and every report: unpadded URL-safe base64 of the canonical key.
func flowID(k *key) string {
	var buf [1 + 1 + 4 + 16 + 16 + 2 + 2 + 2 + 8]byte
	b := buf[:0]
	b = append(b, k.proto, k.nvlans)
	for i := 0; i < int(k.nvlans); i++ {
		b = binary.BigEndian.AppendUint16(b, k.vlans[i])
	}
	if k.a.Is4() {
		a, c := k.a.As4(), k.b.As4()
		b = append(b, a[:]...)
		b = append(b, c[:]...)
	} else {
		a, c := k.a.As16(), k.b.As16()
		b = append(b, a[:]...)
		b = append(b, c[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, k.aPort)
	b = binary.BigEndian.AppendUint16(b, k.bPort)
	b = binary.BigEndian.AppendUint16(b, k.icmpID)
	if k.tunSeg != 0 { // native flows keep the ids they always had
		b = binary.BigEndian.AppendUint64(b, k.tunSeg)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
