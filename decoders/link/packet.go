// Package link decodes captured frames down to the transport layer into a
// reused Packet, without allocating per packet.
package link

import (
	"net/netip"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// TCP flag bits as in the TCP header.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
)

// Packet is one decoded frame. The decoder overwrites it on every call:
// Payload aliases the capture buffer (or the decoder's reassembly buffer) and
// is only valid until the next Decode.
type Packet struct {
	Timestamp time.Time
	WireLen   int // original length on the wire (CaptureInfo.Length)

	SrcMAC, DstMAC [6]byte
	HasMAC         bool

	VLANs  [2]uint16 // outer first
	NVLANs int

	IPVersion uint8 // 4 or 6
	SrcIP     netip.Addr
	DstIP     netip.Addr
	IPProto   uint8 // 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6; others leave ports zero
	IPLen     int   // IP packet length (header + payload) from the IP header

	SrcPort, DstPort uint16

	// TCP only.
	Seq, Ack uint32
	Flags    uint8
	Window   uint16

	// ICMP/ICMPv6 only.
	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16 // echo identifier and sequence

	// Payload is the transport payload (TCP/UDP data, or the ICMP body after
	// the 4-byte header).
	Payload []byte

	// Tunnel lists the encapsulations opened to reach this packet, outer
	// first; every other field then describes the innermost packet, as a
	// capture on the tunnel's own interface would (WireLen included).
	Tunnel ecsmap.Tunnel

	// Underlay holds, for each layer of Tunnel whose carrier is an IP
	// packet (Tunnel.Layers[i].Src valid), that carrier's own transport as
	// seen at its level: the outer (underlay) flow the flow table reports
	// beside the inner one. It is filled as each layer is opened, so it is
	// valid for every opened layer even when Decode does not return ok (an
	// inner fragment still pending, ARP inside VXLAN, an inner header cut
	// short).
	Underlay [ecsmap.MaxTunnelLayers]Underlay

	// Iface is the interface of a capture of several the frame came in
	// on (1 for the first; 0 when the capture has one).
	Iface uint16
}

// Underlay is the IP packet that carried one tunnel layer. Its addresses are
// the layer's (ecsmap.TunnelLayer.Src, Dst).
type Underlay struct {
	IPProto          uint8  // 17 for VXLAN/Geneve/GTP-U, 47 GRE/ERSPAN, 4, 41, 137
	SrcPort, DstPort uint16 // UDP carriers only
	NVLANs           uint8  // how many of Packet.VLANs were read before this layer
	HasMAC           bool   // the carrier frame's MACs (an Ethernet frame at that level)
	SrcMAC, DstMAC   [6]byte
	// WireLen is the carrier frame's length: the captured frame's wire
	// length for the outermost layer, the frame inside the enclosing
	// tunnel for nested ones (what a capture on that tunnel's interface
	// would count).
	WireLen int
}

// Segment separates traffic that reuses the same addresses, for
// connection, flow and fragment keys: the tunnel segment
// (ecsmap.Tunnel.Segment) and the capture interface. The same packets seen
// on two interfaces (a mirror and the host, two taps) are two connections
// and two flows, not one seen twice.
func (p *Packet) Segment() uint64 {
	return p.Tunnel.Segment() | IfaceSegment(p.Iface)
}

// IfaceSegment is the part of a segment that names the capture interface
// (above the bits of ecsmap.Tunnel.Segment: depth << 32 | id).
func IfaceSegment(iface uint16) uint64 { return uint64(iface) << 48 }

// VLANList returns the VLAN ids as a slice backed by the packet (no copy).
func (p *Packet) VLANList() []uint16 { return p.VLANs[:p.NVLANs] }
