package link

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// LinkTypeLinuxSLL2 is LINKTYPE_LINUX_SLL2 (276, tcpdump -i any -y
// LINUX_SLL2) as gopacket 1.1.19 delivers it: layers.LinkType is a uint8,
// so pcap.Handle.LinkType and pcapgo readers hand out 276 truncated to 20.
// Link type 20 is otherwise unassigned, so the alias is unambiguous.
const LinkTypeLinuxSLL2 layers.LinkType = 276 & 0xff

// Link types that carry a bare IP packet. 12 and 14 are the DLT_RAW values
// some platforms hand out on live captures instead of LINKTYPE_RAW (101).
const (
	linkTypeRawDLT12 layers.LinkType = 12
	linkTypeRawDLT14 layers.LinkType = 14
)

// Options bound IP fragment reassembly. Zero values take the defaults.
type Options struct {
	// MaxFragDatagrams is how many datagrams may be pending reassembly at
	// once (IPv4 and IPv6 together). Default 256.
	MaxFragDatagrams int
	// MaxFragBytes bounds the bytes held by pending datagrams. Default 4 MiB.
	MaxFragBytes int
	// FragTimeout drops a datagram whose fragments stop arriving, measured
	// in packet time (Linux uses 30s for ipfrag_time). Default 30s.
	FragTimeout time.Duration
	// Tunnels say which encapsulations are opened (all by default).
	Tunnels TunnelOptions
	// Interfaces: the frames come from several interfaces, each frame's
	// CaptureInfo.InterfaceIndex saying which (1 for the first); it goes to
	// Packet.Iface. Otherwise Iface stays 0 (the index a source may set,
	// such as the kernel's ifindex, is not ours).
	Interfaces bool
}

func (o *Options) defaults() {
	if o.MaxFragDatagrams <= 0 {
		o.MaxFragDatagrams = 256
	}
	if o.MaxFragBytes <= 0 {
		o.MaxFragBytes = 4 << 20
	}
	if o.FragTimeout <= 0 {
		o.FragTimeout = 30 * time.Second
	}
}

// Stats counts what the decoder saw. Counters only grow, except
// FragmentsPending which is the current number of incomplete datagrams.
type Stats struct {
	Decoded              uint64 // Decode returned ok
	Truncated            uint64 // frame shorter than its headers claim, or impossible lengths
	UnsupportedLink      uint64 // link payload that is not IP (ARP, LLDP, 802.3 length frames, ...)
	UnsupportedNetwork   uint64 // IP version other than 4/6 in a raw/null frame
	UnsupportedTransport uint64 // IP protocol other than TCP/UDP/ICMP (still returned ok, ports zero)
	FragmentsPending     uint64 // datagrams currently awaiting fragments
	FragmentsReassembled uint64 // datagrams completed from fragments
	FragmentsDropped     uint64 // fragments discarded: bounds, timeout, inconsistent offsets
	Decapsulated         uint64 // packets found inside at least one tunnel
	TunnelTooDeep        uint64 // packets nested deeper than Tunnels.MaxDepth, skipped
}

// Decoder turns frames of one link type into Packets. It is not safe for
// concurrent use; it owns the reassembly buffers that Packet.Payload may
// point to until the next Decode.
type Decoder struct {
	linkType layers.LinkType
	opts     Options
	stats    Stats
	frags    fragTable
	// udpTunnel maps a UDP destination port to the tunnel it carries
	// (udpVXLAN, ...): one load per UDP packet.
	udpTunnel [65536]uint8
}

// NewDecoder returns a decoder for linkType, or an error when the link type
// is not one we can parse.
func NewDecoder(linkType layers.LinkType, opts Options) (*Decoder, error) {
	switch linkType {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeLoop,
		layers.LinkTypeRaw, linkTypeRawDLT12, linkTypeRawDLT14,
		layers.LinkTypeIPv4, layers.LinkTypeIPv6:
	default:
		return nil, fmt.Errorf("link type %d (%s) is not supported", int(linkType), linkType)
	}
	opts.defaults()
	d := &Decoder{linkType: linkType, opts: opts}
	if err := d.initTunnels(); err != nil {
		return nil, err
	}
	d.frags.init(&d.opts, &d.stats)
	return d, nil
}

// LinkType returns the link type the decoder was built for.
func (d *Decoder) LinkType() layers.LinkType { return d.linkType }

// Stats returns a snapshot of the counters.
func (d *Decoder) Stats() Stats { return d.stats }

// Decode parses one frame into p. ok is true when p holds a complete IP
// packet (any IP protocol; ports and TCP/ICMP fields are set for the ones
// we know). ok is false with a nil error for frames we skip on purpose
// (non-IP link payloads, fragments still awaiting the rest) and with an
// error for malformed frames. Neither case panics, both are counted in
// Stats. p.Payload aliases data, or a decoder-owned buffer for reassembled
// datagrams; both are only valid until the next call.
func (d *Decoder) Decode(data []byte, ci gopacket.CaptureInfo, p *Packet) (ok bool, err error) {
	*p = Packet{Timestamp: ci.Timestamp, WireLen: ci.Length}
	if d.opts.Interfaces {
		p.Iface = uint16(ci.InterfaceIndex)
	}
	d.frags.releaseDone()
	ok, err = d.decodeLink(data, p)
	if err != nil {
		d.stats.Truncated++
		return false, err
	}
	if ok {
		d.stats.Decoded++
	}
	return ok, nil
}

func (d *Decoder) decodeLink(data []byte, p *Packet) (bool, error) {
	switch d.linkType {
	case layers.LinkTypeEthernet:
		return d.decodeEthernet(data, p)

	case layers.LinkTypeLinuxSLL:
		// pkttype(2) hatype(2) halen(2) addr(8) protocol(2). The address is
		// the sender's only, so HasMAC stays false.
		if len(data) < 16 {
			return false, errSLLShort
		}
		return d.decodeEtherType(binary.BigEndian.Uint16(data[14:16]), data[16:], p)

	case LinkTypeLinuxSLL2:
		// protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
		if len(data) < 20 {
			return false, errSLL2Short
		}
		return d.decodeEtherType(binary.BigEndian.Uint16(data[0:2]), data[20:], p)

	case layers.LinkTypeNull, layers.LinkTypeLoop:
		// A 4-byte address family: host byte order of the capturing machine
		// for NULL, network order for LOOP. Families fit in 16 bits, so
		// whichever half is non-zero tells the order.
		if len(data) < 4 {
			return false, errNullShort
		}
		af := binary.LittleEndian.Uint32(data[0:4])
		if af > 0xffff {
			af = binary.BigEndian.Uint32(data[0:4])
		}
		switch af {
		case 2: // AF_INET everywhere
			return d.decodeIPv4(data[4:], p)
		case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return d.decodeIPv6(data[4:], p)
		}
		d.stats.UnsupportedLink++
		return false, nil

	case layers.LinkTypeIPv4:
		return d.decodeIPv4(data, p)
	case layers.LinkTypeIPv6:
		return d.decodeIPv6(data, p)
	default: // raw IP: the version nibble says which
		return d.decodeRawIP(data, p)
	}
}

// decodeEthernet decodes an Ethernet II frame: the captured one, or one
// carried by VXLAN, Geneve, GRE (transparent Ethernet bridging) or ERSPAN,
// whose MACs then replace the outer ones as a capture on the tunnel's
// interface would show them.
func (d *Decoder) decodeEthernet(data []byte, p *Packet) (bool, error) {
	if len(data) < 14 {
		return false, errEthernetShort
	}
	copy(p.DstMAC[:], data[0:6])
	copy(p.SrcMAC[:], data[6:12])
	p.HasMAC = true
	return d.decodeEtherType(binary.BigEndian.Uint16(data[12:14]), data[14:], p)
}

func (d *Decoder) decodeRawIP(data []byte, p *Packet) (bool, error) {
	if len(data) < 1 {
		return false, errIPEmpty
	}
	switch data[0] >> 4 {
	case 4:
		return d.decodeIPv4(data, p)
	case 6:
		return d.decodeIPv6(data, p)
	}
	d.stats.UnsupportedNetwork++
	return false, nil
}

// decodeEtherType follows 802.1Q / 802.1ad / legacy Q-in-Q tags down to IP,
// or into MPLS and PPPoE.
// The first two VLAN ids are recorded, outer first; deeper tags are skipped.
func (d *Decoder) decodeEtherType(et uint16, data []byte, p *Packet) (bool, error) {
	for {
		switch et {
		case 0x0800:
			return d.decodeIPv4(data, p)
		case 0x86dd:
			return d.decodeIPv6(data, p)
		case 0x8100, 0x88a8, 0x9100:
			if len(data) < 4 {
				return false, errVLANShort
			}
			if p.NVLANs < len(p.VLANs) {
				p.VLANs[p.NVLANs] = binary.BigEndian.Uint16(data[0:2]) & 0x0fff
				p.NVLANs++
			}
			et = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		case 0x6558: // transparent Ethernet bridging (GRE, Geneve)
			return d.decodeEthernet(data, p)
		case 0x8847, 0x8848: // MPLS unicast, multicast
			if d.opts.Tunnels.Disabled {
				d.stats.UnsupportedLink++
				return false, nil
			}
			return d.tunnelMPLS(data, p, false)
		case 0x8864: // PPPoE session
			if d.opts.Tunnels.Disabled {
				d.stats.UnsupportedLink++
				return false, nil
			}
			return d.tunnelPPPoE(data, p)
		default:
			d.stats.UnsupportedLink++
			return false, nil
		}
	}
}
