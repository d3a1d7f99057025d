package icmp

import (
	"net/netip"
	"sort"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Notes attached to transactions that did not pair normally (error.message).
const (
	noteDuplicate        = "Another request with the same Id and Seq was received so this request was closed without receiving a response."
	noteOrphanedRequest  = "Request was received without an associated response."
	noteOrphanedResponse = "Response was received without an associated request."
	noteOverflow         = "Request was not tracked: too many requests awaiting a response."
)

// Stats counts what the tracker saw. Read it from the capture goroutine.
type Stats struct {
	Messages           uint64 // ICMP/ICMPv6 packets handled
	Transactions       uint64 // events published
	UnmatchedRequests  uint64 // requests that timed out or were flushed without reply
	UnmatchedResponses uint64 // replies with no pending request
	DuplicateRequests  uint64 // a request replaced a pending one with the same id/seq
	Overflow           uint64 // requests published at once because MaxPending was reached
	Skipped            uint64 // packets that are not ICMP (wrong IP protocol)
}

// key identifies a request/reply exchange from the request's point of view:
// reply packets look it up with the addresses swapped. It is comparable, so
// looking it up allocates nothing.
type key struct {
	src, dst netip.Addr
	id, seq  uint16
	version  uint8
	nvlans   uint8
	vlans    [2]uint16
	seg      uint64 // tunnel segment: overlays may reuse addresses
}

// message is one ICMP packet's contribution to a transaction.
type message struct {
	ts        time.Time
	typ, code uint8
	length    int // Packetbeat's byte count for the message (see msgLength)
}

// Tracker pairs ICMP requests with replies. It is used from the capture
// goroutine only. Time is packet time.
type Tracker struct {
	cfg     Config
	pub     protocol.Publisher
	pending map[key]*Event
	stats   Stats
	expired []*Event // scratch for Expire, reused
}

// New returns a tracker publishing to pub.
func New(cfg Config, pub protocol.Publisher) *Tracker {
	def := DefaultConfig()
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = def.TransactionTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = def.MaxPending
	}
	return &Tracker{cfg: cfg, pub: pub, pending: make(map[key]*Event)}
}

// Stats returns a snapshot of the counters.
func (t *Tracker) Stats() Stats { return t.stats }

// Pending returns how many requests await a reply.
func (t *Tracker) Pending() int { return len(t.pending) }

// msgLength is the byte count Packetbeat reports for an ICMP message: for
// ICMPv4 everything after the 8-byte header (type, code, checksum and the
// 4-byte rest of header), for ICMPv6 everything after the 4-byte header. The
// link decoder strips 8 bytes for id/seq carrying types and 4 for the others.
func msgLength(p *link.Packet, version uint8) int {
	full := len(p.Payload) + 4 // the decoder strips type, code, checksum...
	if needsCounterpart(version, p.ICMPType) {
		full += 4 // ...and identifier and sequence for query/reply types
	}
	hdr := 8
	if version == 6 {
		hdr = 4
	}
	return max(full-hdr, 0)
}

// Packet handles one decoded ICMP or ICMPv6 packet.
func (t *Tracker) Packet(p *link.Packet) {
	var version uint8
	switch {
	case p.IPProto == 1 && p.SrcIP.Unmap().Is4():
		version = 4
	case p.IPProto == 58 && p.SrcIP.Is6() && !p.SrcIP.Is4In6():
		version = 6
	default:
		t.stats.Skipped++
		return
	}
	t.stats.Messages++
	k := key{src: p.SrcIP.Unmap(), dst: p.DstIP.Unmap(), version: version}
	k.nvlans = uint8(min(p.NVLANs, len(k.vlans)))
	copy(k.vlans[:], p.VLANs[:k.nvlans])
	k.seg = p.Segment()
	if needsCounterpart(version, p.ICMPType) {
		k.id, k.seq = p.ICMPID, p.ICMPSeq
	}
	msg := message{ts: p.Timestamp, typ: p.ICMPType, code: p.ICMPCode, length: msgLength(p, version)}

	if isResponse(version, p.ICMPType) {
		k.src, k.dst = k.dst, k.src
		ev := t.pending[k]
		if ev != nil {
			delete(t.pending, k)
		} else {
			ev = t.newEvent(k, p)
			ev.notes = []string{noteOrphanedResponse}
			t.stats.UnmatchedResponses++
		}
		ev.resp, ev.hasResp = msg, true
		t.publish(ev)
		return
	}

	if old := t.pending[k]; old != nil {
		delete(t.pending, k)
		old.notes = append(old.notes, noteDuplicate)
		t.stats.DuplicateRequests++
		t.publish(old)
	}
	ev := t.newEvent(k, p)
	ev.req, ev.hasReq = msg, true
	if !needsCounterpart(version, p.ICMPType) {
		t.publish(ev)
		return
	}
	if len(t.pending) >= t.cfg.MaxPending {
		ev.notes = []string{noteOverflow}
		t.stats.Overflow++
		t.publish(ev)
		return
	}
	t.pending[k] = ev
}

func (t *Tracker) newEvent(k key, p *link.Packet) *Event {
	ev := &Event{version: k.version, src: k.src, dst: k.dst, id: k.id}
	ev.base.Iface = p.Iface
	if k.nvlans > 0 {
		ev.vlans = append([]uint16(nil), k.vlans[:k.nvlans]...)
	}
	if p.Tunnel.N > 0 {
		tun := p.Tunnel
		ev.base.Tunnel = &tun
	}
	return ev
}

func (t *Tracker) publish(ev *Event) {
	ev.build()
	t.stats.Transactions++
	t.pub.Publish(ev)
}

// Expire publishes, unanswered, the requests older than the transaction
// timeout at packet time now.
func (t *Tracker) Expire(now time.Time) {
	if len(t.pending) == 0 {
		return
	}
	deadline := now.Add(-t.cfg.TransactionTimeout)
	for k, ev := range t.pending {
		if ev.req.ts.Before(deadline) {
			delete(t.pending, k)
			t.expired = append(t.expired, ev)
		}
	}
	t.publishExpired()
}

// Tick is Expire under the name the engine's PacketHandler uses.
func (t *Tracker) Tick(now time.Time) { t.Expire(now) }

// Flush publishes every pending request as unanswered (end of input).
func (t *Tracker) Flush(now time.Time) {
	for k, ev := range t.pending {
		delete(t.pending, k)
		t.expired = append(t.expired, ev)
	}
	t.publishExpired()
}

// publishExpired publishes in request order so output does not depend on map
// iteration order.
func (t *Tracker) publishExpired() {
	sort.Slice(t.expired, func(i, j int) bool { return t.expired[i].req.ts.Before(t.expired[j].req.ts) })
	for i, ev := range t.expired {
		ev.notes = append(ev.notes, noteOrphanedRequest)
		t.stats.UnmatchedRequests++
		t.publish(ev)
		t.expired[i] = nil
	}
	t.expired = t.expired[:0]
}

// Drops implements protocol.DropCounter. Only the goroutine that owns the
// tracker may call it.
func (t *Tracker) Drops() []protocol.Drop {
	return protocol.Drops(
		"published_early_pending_limit", t.stats.Overflow,
		"duplicate_request", t.stats.DuplicateRequests,
	)
}
