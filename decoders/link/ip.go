package link

import (
	"encoding/binary"
	"net/netip"
)

var be = binary.BigEndian

// IP protocol numbers we decode past the IP layer.
const (
	protoICMP     = 1
	protoIPv4     = 4 // IPv4 in IP
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6     = 41 // IPv6 in IP
	protoGRE      = 47
	protoICMPv6   = 58
	protoMPLSInIP = 137 // RFC 4023
)

func (d *Decoder) decodeIPv4(data []byte, p *Packet) (bool, error) {
	if len(data) < 20 {
		return false, errIPv4Short
	}
	if data[0]>>4 != 4 {
		return false, errIPv4Version
	}
	ihl := int(data[0]&0x0f) * 4
	if ihl < 20 || ihl > len(data) {
		return false, errIPv4IHL
	}
	total := int(be.Uint16(data[2:4]))
	if total == 0 {
		// Segmentation offload: outgoing packets can be captured before the
		// NIC splits them, with the length left at zero. Trust the capture.
		total = len(data)
	}
	if total < ihl {
		return false, errIPv4TotalLen
	}
	if total > len(data) {
		return false, errIPv4Truncated
	}
	data = data[:total] // drops Ethernet padding after short packets

	p.IPVersion = 4
	p.SrcIP = netip.AddrFrom4([4]byte(data[12:16]))
	p.DstIP = netip.AddrFrom4([4]byte(data[16:20]))
	p.IPProto = data[9]
	p.IPLen = total
	payload := data[ihl:]

	ff := be.Uint16(data[6:8])
	more, off := ff&0x2000 != 0, int(ff&0x1fff)*8
	if more || off != 0 {
		if ihl+off+len(payload) > 65535 {
			d.stats.FragmentsDropped++
			return false, errIPv4FragOffset
		}
		key := fragKey{src: p.SrcIP, dst: p.DstIP, id: uint32(be.Uint16(data[4:6])), proto: p.IPProto, seg: p.Segment()}
		full, _, done := d.frags.add(key, off, more, payload, 0, p.Timestamp)
		if !done {
			return false, nil
		}
		payload = full
		p.IPLen = ihl + len(full)
	}
	return d.decodeTransport(p.IPProto, payload, p)
}

func (d *Decoder) decodeIPv6(data []byte, p *Packet) (bool, error) {
	if len(data) < 40 {
		return false, errIPv6Short
	}
	if data[0]>>4 != 6 {
		return false, errIPv6Version
	}
	plen := int(be.Uint16(data[4:6]))
	if plen == 0 {
		// Jumbogram or segmentation offload: the capture is the packet.
		plen = len(data) - 40
	}
	if 40+plen > len(data) {
		return false, errIPv6Truncated
	}
	data = data[:40+plen]

	p.IPVersion = 6
	p.SrcIP = netip.AddrFrom16([16]byte(data[8:24]))
	p.DstIP = netip.AddrFrom16([16]byte(data[24:40]))
	p.IPLen = 40 + plen
	return d.ipv6Chain(data[6], data[40:], p)
}

// ipv6Chain walks extension headers to the transport. A fragment header
// hands the fragment to reassembly; once complete the walk continues on the
// reassembled bytes, which may hold further (destination option) headers.
func (d *Decoder) ipv6Chain(next uint8, b []byte, p *Packet) (bool, error) {
	reassembled := false
	// Real packets carry a handful of headers; the bound stops a crafted
	// chain from costing more than a few iterations.
	for range 16 {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options: (len+1)*8 bytes
			if len(b) < 8 {
				return false, errIPv6ExtShort
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				return false, errIPv6ExtShort
			}
			next, b = b[0], b[n:]
		case 51: // authentication header: (len+2)*4 bytes
			if len(b) < 8 {
				return false, errIPv6ExtShort
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				return false, errIPv6ExtShort
			}
			next, b = b[0], b[n:]
		case 44:
			if len(b) < 8 {
				return false, errIPv6FragShort
			}
			fragNext := b[0]
			om := be.Uint16(b[2:4])
			off, more := int(om&^7), om&1 != 0
			frag := b[8:]
			if (off == 0 && !more) || reassembled {
				// Atomic fragment (RFC 6946), or a nested header inside a
				// reassembled datagram: nothing to reassemble.
				next, b = fragNext, frag
				continue
			}
			if more && len(frag)%8 != 0 {
				d.stats.FragmentsDropped++
				return false, errIPv6FragLen
			}
			key := fragKey{src: p.SrcIP, dst: p.DstIP, id: be.Uint32(b[4:8]), v6: true, seg: p.Segment()}
			full, first, done := d.frags.add(key, off, more, frag, fragNext, p.Timestamp)
			if !done {
				return false, nil
			}
			// Like the kernel: the fragment header disappears, the
			// unfragmentable part before it stays.
			p.IPLen = p.IPLen - len(b) + len(full)
			next, b, reassembled = first, full, true
		default:
			return d.decodeTransport(next, b, p)
		}
	}
	return false, errIPv6ExtShort
}

func (d *Decoder) decodeTransport(proto uint8, b []byte, p *Packet) (bool, error) {
	p.IPProto = proto
	switch proto {
	case protoTCP:
		if len(b) < 20 {
			return false, errTCPShort
		}
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			return false, errTCPOffset
		}
		p.SrcPort = be.Uint16(b[0:2])
		p.DstPort = be.Uint16(b[2:4])
		p.Seq = be.Uint32(b[4:8])
		p.Ack = be.Uint32(b[8:12])
		p.Flags = b[13]
		p.Window = be.Uint16(b[14:16])
		p.Payload = b[off:] // options skipped
	case protoUDP:
		if len(b) < 8 {
			return false, errUDPShort
		}
		ulen := int(be.Uint16(b[4:6]))
		if ulen == 0 {
			ulen = len(b) // IPv6 jumbogram
		}
		if ulen < 8 || ulen > len(b) {
			return false, errUDPLen
		}
		p.SrcPort = be.Uint16(b[0:2])
		p.DstPort = be.Uint16(b[2:4])
		p.Payload = b[8:ulen]
		if k := d.udpTunnel[p.DstPort]; k != udpNone {
			if handled, ok, err := d.udpTunnelPayload(k, p.Payload, p); handled {
				return ok, err
			}
		}
	case protoIPv4, protoIPv6, protoMPLSInIP:
		if d.opts.Tunnels.Disabled {
			d.stats.UnsupportedTransport++
			p.Payload = b
			return true, nil
		}
		return d.ipInIP(p.IPVersion == 6, proto, b, p)
	case protoGRE:
		if d.opts.Tunnels.Disabled {
			d.stats.UnsupportedTransport++
			p.Payload = b
			return true, nil
		}
		return d.tunnelGRE(b, p)
	case protoICMP, protoICMPv6:
		if len(b) < 4 {
			return false, errICMPShort
		}
		p.ICMPType, p.ICMPCode = b[0], b[1]
		p.Payload = b[4:]
		if hasIDSeq(proto, b[0]) {
			if len(b) < 8 {
				return false, errICMPEchoShrt
			}
			p.ICMPID = be.Uint16(b[4:6])
			p.ICMPSeq = be.Uint16(b[6:8])
			p.Payload = b[8:]
		}
	default:
		d.stats.UnsupportedTransport++
		p.Payload = b
	}
	return true, nil
}

// hasIDSeq reports ICMP query/reply types whose header continues with an
// identifier and sequence number (echo, and for v4 the timestamp,
// information and address mask queries), the fields that pair a request
// with its reply.
func hasIDSeq(proto, typ uint8) bool {
	if proto == protoICMP {
		switch typ {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
		return false
	}
	return typ == 128 || typ == 129
}
