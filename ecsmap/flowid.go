package ecsmap

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// FlowKey identifies a flow regardless of direction, as the flow table keys
// it: endpoint A is the smaller (address, port) pair, except for ICMP
// queries where A is the requester. It is a comparable value (a map key).
// flow.id is its encoding, so the flow table and the encoder of every
// transaction derive the same id from the same packet fields, with no
// lookup between them.
type FlowKey struct {
	A, B         netip.Addr
	APort, BPort uint16
	Proto        uint8
	NVLANs       uint8
	VLANs        [2]uint16
	ICMPID       uint16 // echo identifier: each ping session is its own flow
	// TunSeg is the tunnel segment (Tunnel.Segment) of tunnelled packets,
	// so two overlays reusing the same inner addresses stay two flows, and
	// in its top 16 bits the capture interface of a capture of several
	// (Base.Iface), so that the same 5-tuple on two interfaces is two flows.
	TunSeg uint64
}

// HasPorts reports transports whose ports are part of the flow key.
func HasPorts(proto uint8) bool { return proto == 6 || proto == 17 }

// HasEchoID reports ICMP types that carry an identifier (echo, timestamp,
// information and address mask requests and replies; ICMPv6 echo).
func HasEchoID(proto, typ uint8) bool {
	if proto == 1 {
		switch typ {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
		return false
	}
	return proto == 58 && (typ == 128 || typ == 129)
}

// IsICMPReply reports ICMP reply types of HasEchoID's set.
func IsICMPReply(proto, typ uint8) bool {
	if proto == 1 {
		return typ == 0 || typ == 14 || typ == 16 || typ == 18
	}
	return proto == 58 && typ == 129
}

// MakeFlowKey returns the key of a packet from src to dst, and whether src
// is endpoint A. Addresses must be unmapped; ports are ignored for
// transports without them, icmpType and icmpID for others than ICMP.
func MakeFlowKey(proto uint8, src, dst netip.Addr, sp, dp uint16, vlans []uint16, icmpType uint8, icmpID uint16) (k FlowKey, srcIsA bool) {
	srcIsA = k.Set(proto, src, dst, sp, dp, vlans, icmpType, icmpID)
	return k, srcIsA
}

// Set makes k the key of a packet from src to dst (see MakeFlowKey) in
// place, for the flow table's per-packet path.
func (k *FlowKey) Set(proto uint8, src, dst netip.Addr, sp, dp uint16, vlans []uint16, icmpType uint8, icmpID uint16) (srcIsA bool) {
	*k = FlowKey{Proto: proto}
	if !HasPorts(proto) {
		sp, dp = 0, 0
	}
	k.NVLANs = uint8(copy(k.VLANs[:], vlans))
	srcIsA = true
	if HasEchoID(proto, icmpType) {
		k.ICMPID = icmpID
		srcIsA = !IsICMPReply(proto, icmpType)
	} else if c := src.Compare(dst); c > 0 || (c == 0 && sp > dp) {
		srcIsA = false
	}
	if srcIsA {
		k.A, k.B, k.APort, k.BPort = src, dst, sp, dp
	} else {
		k.A, k.B, k.APort, k.BPort = dst, src, dp, sp
	}
	return srcIsA
}

// flowIDLen is the longest flow.id: base64 of the longest encoded key.
const flowIDLen = (1 + 1 + 4 + 16 + 16 + 2 + 2 + 2 + 8 + 2) * 4 / 3

// AppendID appends flow.id: unpadded URL-safe base64 of the canonical key,
// stable for both directions and every report.
func (k *FlowKey) AppendID(dst []byte) []byte {
	var buf [1 + 1 + 4 + 16 + 16 + 2 + 2 + 2 + 8]byte
	b := buf[:0]
	b = append(b, k.Proto, k.NVLANs)
	for i := 0; i < int(k.NVLANs); i++ {
		b = binary.BigEndian.AppendUint16(b, k.VLANs[i])
	}
	if k.A.Is4() {
		a, c := k.A.As4(), k.B.As4()
		b = append(b, a[:]...)
		b = append(b, c[:]...)
	} else {
		a, c := k.A.As16(), k.B.As16()
		b = append(b, a[:]...)
		b = append(b, c[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, k.APort)
	b = binary.BigEndian.AppendUint16(b, k.BPort)
	b = binary.BigEndian.AppendUint16(b, k.ICMPID)
	if k.TunSeg != 0 { // native flows keep the ids they always had
		b = binary.BigEndian.AppendUint64(b, k.TunSeg)
	}
	return base64.RawURLEncoding.AppendEncode(dst, b)
}

// ID returns flow.id as a string (the flow table keeps one per flow).
func (k *FlowKey) ID() string {
	var buf [flowIDLen + 4]byte
	return string(k.AppendID(buf[:0]))
}

// flowKey returns the key of the flow a transaction belongs to: Source is
// the client (the ICMP requester), so an ICMP reply type is keyed as the
// reply packet would be, from the server.
func (b *Base) flowKey() FlowKey {
	src, dst := b.Source.IP.Unmap(), b.Destination.IP.Unmap()
	sp, dp := b.Source.Port, b.Destination.Port
	var typ uint8
	if b.HasICMP {
		typ = b.ICMPType
		if IsICMPReply(b.IPProtocol, typ) {
			src, dst, sp, dp = dst, src, dp, sp
		}
	}
	vlans := b.VLANs
	if len(vlans) > 2 {
		vlans = vlans[:2]
	}
	k, _ := MakeFlowKey(b.IPProtocol, src, dst, sp, dp, vlans, typ, b.ICMPID)
	if b.Tunnel != nil {
		k.TunSeg = b.Tunnel.Segment()
	}
	k.TunSeg |= uint64(b.Iface) << 48 // as link.IfaceSegment
	return k
}

// writeFlowID writes the flow group of a transaction: its connection's
// flow.id, for the pivot between transactions and flow records.
func writeFlowID(w *Writer, b *Base) {
	if !b.Source.IP.IsValid() || !b.Destination.IP.IsValid() {
		return
	}
	k := b.flowKey()
	w.key("flow")
	w.Buf = append(w.Buf, `{"id":"`...)
	w.Buf = k.AppendID(w.Buf)
	w.Buf = append(w.Buf, `"}`...)
}
