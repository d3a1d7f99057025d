package link

import (
	"fmt"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Tunnel layer types, the values of network.tunnel.type.
const (
	TunnelIPv4InIPv4 = "ipv4-in-ipv4" // IP protocol 4 in IPv4 (Linux ipip)
	TunnelIPv6InIPv4 = "ipv6-in-ipv4" // IP protocol 41 in IPv4 (6in4, Linux sit)
	TunnelIPv6InIPv6 = "ipv6-in-ipv6" // next header 41 in IPv6 (Linux ip6tnl)
	TunnelIPv4InIPv6 = "ipv4-in-ipv6" // next header 4 in IPv6 (Linux ip6tnl)
	TunnelVXLAN      = "vxlan"        // RFC 7348, UDP 4789
	TunnelGeneve     = "geneve"       // RFC 8926, UDP 6081
	TunnelGRE        = "gre"          // RFC 2784/2890, IP protocol 47 (and PPTP's enhanced GRE, RFC 2637)
	TunnelERSPAN     = "erspan"       // GRE protocol 0x88be (types I, II) and 0x22eb (type III)
	TunnelGTPU       = "gtpu"         // 3GPP TS 29.281, UDP 2152
	TunnelMPLS       = "mpls"         // RFC 3032, EtherType 0x8847/0x8848, GRE or IP protocol 137
	TunnelPPPoE      = "pppoe"        // RFC 2516 session stage, EtherType 0x8864
)

// Default tunnel ports (IANA).
const (
	DefaultVXLANPort  = 4789
	DefaultGenevePort = 6081
	DefaultGTPUPort   = 2152
)

// TunnelOptions say which encapsulations the decoder opens. A nil port list
// takes the default port; an empty non-nil list turns that UDP tunnel off.
type TunnelOptions struct {
	// Disabled leaves every tunnel closed: encapsulated packets are decoded
	// as their outer packet, as before tunnels were supported.
	Disabled bool
	// MaxDepth bounds nesting (a GRE packet in VXLAN is depth 2). Packets
	// nested deeper are counted in Stats.TunnelTooDeep and skipped. Default
	// 4, at most ecsmap.MaxTunnelLayers.
	MaxDepth    int
	VXLANPorts  []uint16
	GenevePorts []uint16
	GTPUPorts   []uint16
}

// UDP tunnel kinds in Decoder.udpTunnel.
const (
	udpNone uint8 = iota
	udpVXLAN
	udpGeneve
	udpGTPU
)

func (d *Decoder) initTunnels() error {
	t := &d.opts.Tunnels
	if t.MaxDepth == 0 {
		t.MaxDepth = ecsmap.MaxTunnelLayers
	}
	if t.MaxDepth < 0 || t.MaxDepth > ecsmap.MaxTunnelLayers {
		return fmt.Errorf("tunnel max_depth %d: must be between 1 and %d", t.MaxDepth, ecsmap.MaxTunnelLayers)
	}
	if t.Disabled {
		return nil
	}
	set := func(ports []uint16, def uint16, kind uint8, name string) error {
		if ports == nil {
			ports = []uint16{def}
		}
		for _, p := range ports {
			if p == 0 {
				return fmt.Errorf("%s port 0 is not a port", name)
			}
			if k := d.udpTunnel[p]; k != udpNone && k != kind {
				return fmt.Errorf("UDP port %d is given to two tunnel types", p)
			}
			d.udpTunnel[p] = kind
		}
		return nil
	}
	if err := set(t.VXLANPorts, DefaultVXLANPort, udpVXLAN, "vxlan"); err != nil {
		return err
	}
	if err := set(t.GenevePorts, DefaultGenevePort, udpGeneve, "geneve"); err != nil {
		return err
	}
	return set(t.GTPUPorts, DefaultGTPUPort, udpGTPU, "gtpu")
}

var (
	errGREShort     = &Error{"gre", "shorter than its flags say"}
	errGRERouting   = &Error{"gre", "source routing (RFC 1701) is not supported"}
	errGREVersion   = &Error{"gre", "version other than 0 or 1"}
	errERSPANShort  = &Error{"erspan", "header truncated"}
	errVXLANShort   = &Error{"vxlan", "shorter than the 8-byte header"}
	errGeneveShort  = &Error{"geneve", "shorter than the header and its options"}
	errGeneveOpt    = &Error{"geneve", "option runs past the option area"}
	errGeneveVer    = &Error{"geneve", "version other than 0"}
	errGTPShort     = &Error{"gtpu", "shorter than the header or its extensions"}
	errGTPLen       = &Error{"gtpu", "length field beyond the datagram"}
	errMPLSShort    = &Error{"mpls", "label stack truncated"}
	errMPLSDeep     = &Error{"mpls", "label stack deeper than 16 entries"}
	errPPPoEShort   = &Error{"pppoe", "shorter than the 6-byte header or its length"}
	errPPPShort     = &Error{"ppp", "protocol field truncated"}
	errInnerUnknown = &Error{"tunnel", "inner packet is neither IPv4 nor IPv6"}
)

// push records one more tunnel layer. It returns false, counted, when the
// packet is nested deeper than MaxDepth.
func (d *Decoder) push(p *Packet, typ string, id uint32, hasID bool, outerIP bool) bool {
	t := &p.Tunnel
	if int(t.N) >= d.opts.Tunnels.MaxDepth {
		d.stats.TunnelTooDeep++
		return false
	}
	l := &t.Layers[t.N]
	*l = ecsmap.TunnelLayer{Type: typ, ID: id, HasID: hasID}
	if outerIP {
		l.Src, l.Dst = p.SrcIP, p.DstIP
		// The carrier, before enter clears its transport: the underlay
		// flow's key and counts.
		p.Underlay[t.N] = Underlay{IPProto: p.IPProto, SrcPort: p.SrcPort, DstPort: p.DstPort,
			NVLANs: uint8(p.NVLANs), HasMAC: p.HasMAC, SrcMAC: p.SrcMAC, DstMAC: p.DstMAC, WireLen: p.WireLen}
	}
	if t.N == 0 {
		d.stats.Decapsulated++
	}
	t.N++
	return true
}

// enter resets what the inner packet will set again, so that nothing of the
// outer transport leaks into it (an inner protocol without ports must not
// keep the outer UDP ports). The wire length becomes the inner frame's, as a
// capture on the tunnel's own interface would see it.
func (p *Packet) enter(inner []byte) {
	p.SrcPort, p.DstPort = 0, 0
	p.Seq, p.Ack, p.Flags, p.Window = 0, 0, 0, 0
	p.ICMPType, p.ICMPCode, p.ICMPID, p.ICMPSeq = 0, 0, 0, 0
	p.Payload = nil
	p.WireLen = len(inner)
	// The outer MACs belong to the tunnel endpoints; an inner Ethernet
	// header sets them again.
	p.HasMAC, p.SrcMAC, p.DstMAC = false, [6]byte{}, [6]byte{}
}

// ipInIP handles IP protocols 4 and 41 (and 137, MPLS in IP) carried by the
// IP header whose addresses p holds.
func (d *Decoder) ipInIP(outerV6 bool, proto uint8, b []byte, p *Packet) (bool, error) {
	var typ string
	switch {
	case proto == protoMPLSInIP:
		return d.tunnelMPLS(b, p, true)
	case !outerV6 && proto == protoIPv4:
		typ = TunnelIPv4InIPv4
	case !outerV6:
		typ = TunnelIPv6InIPv4
	case proto == protoIPv4:
		typ = TunnelIPv4InIPv6
	default:
		typ = TunnelIPv6InIPv6
	}
	if !d.push(p, typ, 0, false, true) {
		return false, nil
	}
	p.enter(b)
	if proto == protoIPv4 {
		return d.decodeIPv4(b, p)
	}
	return d.decodeIPv6(b, p)
}

// udpTunnelPayload opens a UDP tunnel; handled is false when the datagram is
// not one (VXLAN without its I flag, GTP-U signalling), so it stays a plain
// UDP packet.
func (d *Decoder) udpTunnelPayload(kind uint8, b []byte, p *Packet) (handled, ok bool, err error) {
	switch kind {
	case udpVXLAN:
		// flags(1: I=0x08) reserved(3) VNI(3) reserved(1)
		if len(b) < 8 {
			return true, false, errVXLANShort
		}
		if b[0]&0x08 == 0 {
			return false, false, nil
		}
		if !d.push(p, TunnelVXLAN, uint32(b[4])<<16|uint32(b[5])<<8|uint32(b[6]), true, true) {
			return true, false, nil
		}
		inner := b[8:]
		p.enter(inner)
		ok, err = d.decodeEthernet(inner, p)
		return true, ok, err

	case udpGeneve:
		// ver(2) optlen(6, 4-byte words) | O C rsvd(6) | protocol(16) |
		// VNI(24) rsvd(8) | options
		if len(b) < 8 {
			return true, false, errGeneveShort
		}
		if b[0]>>6 != 0 {
			return true, false, errGeneveVer
		}
		hl := 8 + int(b[0]&0x3f)*4
		if hl > len(b) {
			return true, false, errGeneveShort
		}
		// Options are TLVs: class(16) type(8) rsvd(3) len(5, words). None
		// changes how the payload is read, but a malformed list means the
		// header is not Geneve.
		for o := b[8:hl]; len(o) > 0; {
			if len(o) < 4 {
				return true, false, errGeneveOpt
			}
			n := 4 + int(o[3]&0x1f)*4
			if n > len(o) {
				return true, false, errGeneveOpt
			}
			o = o[n:]
		}
		if !d.push(p, TunnelGeneve, uint32(b[4])<<16|uint32(b[5])<<8|uint32(b[6]), true, true) {
			return true, false, nil
		}
		inner := b[hl:]
		p.enter(inner)
		ok, err = d.decodeEtherType(be.Uint16(b[2:4]), inner, p)
		return true, ok, err

	case udpGTPU:
		return d.tunnelGTPU(b, p)
	}
	return false, false, nil
}

// tunnelGTPU opens a GTP-U G-PDU (TS 29.281 section 5): flags(8: version 1,
// PT 1, E, S, PN) type(8) length(16, after the first 8 bytes) TEID(32), then
// when any of E, S, PN is set sequence(16) N-PDU(8) next-extension(8) and
// the extension chain. Other message types (echo, error indication, end
// marker) are signalling and stay UDP.
func (d *Decoder) tunnelGTPU(b []byte, p *Packet) (handled, ok bool, err error) {
	if len(b) < 8 {
		return true, false, errGTPShort
	}
	if b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
		return false, false, nil
	}
	n := int(be.Uint16(b[2:4]))
	if 8+n > len(b) {
		return true, false, errGTPLen
	}
	b = b[:8+n]
	teid := be.Uint32(b[4:8])
	off := 8
	if b[0]&0x07 != 0 {
		if len(b) < 12 {
			return true, false, errGTPShort
		}
		next := b[11]
		off = 12
		// Each extension: length(8, 4-byte words, including itself) ...
		// next-type(8). Bounded by the datagram, and by a count.
		for i := 0; next != 0; i++ {
			if i == 16 || off >= len(b) {
				return true, false, errGTPShort
			}
			l := int(b[off]) * 4
			if l == 0 || off+l > len(b) {
				return true, false, errGTPShort
			}
			next = b[off+l-1]
			off += l
		}
	}
	if !d.push(p, TunnelGTPU, teid, true, true) {
		return true, false, nil
	}
	inner := b[off:]
	p.enter(inner)
	ok, err = d.decodeInnerIP(inner, p)
	return true, ok, err
}

// decodeInnerIP decodes a packet whose carrier says only "IP".
func (d *Decoder) decodeInnerIP(b []byte, p *Packet) (bool, error) {
	if len(b) == 0 {
		return false, errIPEmpty
	}
	switch b[0] >> 4 {
	case 4:
		return d.decodeIPv4(b, p)
	case 6:
		return d.decodeIPv6(b, p)
	}
	return false, errInnerUnknown
}

// GRE flag bits (RFC 2784, 2890; RFC 2637 for version 1).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080
)

// tunnelGRE opens GRE: flags+version(16) protocol(16), then checksum and
// reserved (C), key (K), sequence (S), and for PPTP's version 1 the
// acknowledgement (A).
func (d *Decoder) tunnelGRE(b []byte, p *Packet) (bool, error) {
	if len(b) < 4 {
		return false, errGREShort
	}
	flags, proto := be.Uint16(b[0:2]), be.Uint16(b[2:4])
	ver := flags & 7
	if ver > 1 {
		return false, errGREVersion
	}
	if flags&greRouting != 0 {
		return false, errGRERouting
	}
	off := 4
	if flags&greChecksum != 0 {
		off += 4
	}
	var key uint32
	hasKey := flags&greKey != 0
	if hasKey {
		if len(b) < off+4 {
			return false, errGREShort
		}
		key = be.Uint32(b[off : off+4])
		if ver == 1 {
			key &= 0xffff // payload length(16) call id(16): the call id names the session
		}
		off += 4
	}
	hasSeq := flags&greSeq != 0
	if hasSeq {
		off += 4
	}
	if ver == 1 && flags&greAck != 0 {
		off += 4
	}
	if len(b) < off {
		return false, errGREShort
	}
	inner := b[off:]

	switch proto {
	case 0x88be, 0x22eb:
		return d.tunnelERSPAN(proto, hasSeq, inner, p)
	case 0x0800, 0x86dd, 0x6558, 0x8847, 0x8848, 0x880b:
	default:
		// Not a payload we know (keepalives, WCCP, NSH...): the GRE packet
		// itself is what the flow sees.
		p.Payload = b
		d.stats.UnsupportedTransport++
		return true, nil
	}
	if !d.push(p, TunnelGRE, key, hasKey, true) {
		return false, nil
	}
	p.Tunnel.Layers[p.Tunnel.N-1].Version = uint8(ver)
	p.enter(inner)
	if proto == 0x880b { // PPP (PPTP)
		return d.decodePPP(inner, p)
	}
	return d.decodeEtherType(proto, inner, p)
}

// tunnelERSPAN opens Cisco's ERSPAN (draft-foschiano-erspan). Type I has no
// header and no GRE sequence number; type II (GRE sequence present) has
// ver(4)=1 vlan(12) cos(3) en(2) t(1) session(10) reserved(12) index(20);
// type III (protocol 0x22eb) has ver(4)=2 vlan(12) cos(3) bso(2) t(1)
// session(10) timestamp(32) sgt(16) p(1) ft(5) hwid(6) d(1) gra(2) o(1),
// then an 8-byte platform sub-header when o is set. The mirrored frame is
// Ethernet.
func (d *Decoder) tunnelERSPAN(proto uint16, hasSeq bool, b []byte, p *Packet) (bool, error) {
	var version uint8
	var session uint32
	var hasSession bool
	var inner []byte
	switch {
	case proto == 0x88be && !hasSeq:
		version, inner = 1, b
	case proto == 0x88be:
		if len(b) < 8 {
			return false, errERSPANShort
		}
		version, session, hasSession = 2, uint32(be.Uint16(b[2:4])&0x3ff), true
		inner = b[8:]
	default:
		if len(b) < 12 {
			return false, errERSPANShort
		}
		version, session, hasSession = 3, uint32(be.Uint16(b[2:4])&0x3ff), true
		hl := 12
		if b[11]&1 != 0 {
			hl += 8
		}
		if len(b) < hl {
			return false, errERSPANShort
		}
		inner = b[hl:]
	}
	if !d.push(p, TunnelERSPAN, session, hasSession, true) {
		return false, nil
	}
	p.Tunnel.Layers[p.Tunnel.N-1].Version = version
	p.enter(inner)
	return d.decodeEthernet(inner, p)
}

// tunnelMPLS walks a label stack (label(20) tc(3) s(1) ttl(8) per entry)
// to its bottom. The payload has no type field: like the kernel and
// Wireshark we look at the first nibble (4, 6: IP; 0: a pseudowire control
// word, RFC 4385, before an Ethernet frame). outerIP is set for MPLS in IP
// (protocol 137), whose IP header holds the endpoints.
func (d *Decoder) tunnelMPLS(b []byte, p *Packet, outerIP bool) (bool, error) {
	t := &p.Tunnel
	record := t.NMPLS == 0 // only the outermost stack is recorded
	first := true
	var top uint32
	for i := 0; ; i++ {
		if i == 16 {
			return false, errMPLSDeep
		}
		if len(b) < 4 {
			return false, errMPLSShort
		}
		e := be.Uint32(b[0:4])
		label := e >> 12
		if first {
			top = label
			first = false
		}
		if record && int(t.NMPLS) < len(t.MPLS) {
			t.MPLS[t.NMPLS] = label
			t.NMPLS++
		}
		b = b[4:]
		if e&0x100 != 0 {
			break
		}
	}
	if !d.push(p, TunnelMPLS, top, true, outerIP) {
		return false, nil
	}
	p.enter(b)
	if len(b) == 0 {
		return false, errMPLSShort
	}
	switch b[0] >> 4 {
	case 4:
		return d.decodeIPv4(b, p)
	case 6:
		return d.decodeIPv6(b, p)
	case 0:
		if len(b) < 4 {
			return false, errMPLSShort
		}
		p.WireLen = len(b) - 4 // the frame starts after the control word
		return d.decodeEthernet(b[4:], p)
	}
	return false, errInnerUnknown
}

// tunnelPPPoE opens a PPPoE session frame: ver/type(8)=0x11 code(8)=0
// session(16) length(16), then PPP.
func (d *Decoder) tunnelPPPoE(b []byte, p *Packet) (bool, error) {
	if len(b) < 6 {
		return false, errPPPoEShort
	}
	if b[0] != 0x11 || b[1] != 0 {
		d.stats.UnsupportedLink++
		return false, nil
	}
	n := int(be.Uint16(b[4:6]))
	if 6+n > len(b) {
		return false, errPPPoEShort
	}
	if !d.push(p, TunnelPPPoE, uint32(be.Uint16(b[2:4])), true, false) {
		return false, nil
	}
	inner := b[6 : 6+n]
	p.enter(inner)
	return d.decodePPP(inner, p)
}

// decodePPP reads a PPP frame as PPPoE and PPTP carry it: an optional
// address/control 0xff03, a protocol of one byte (odd, compressed) or two,
// then the datagram. Only IPv4 (0x21) and IPv6 (0x57) go further; LCP, IPCP
// and the rest are link control.
func (d *Decoder) decodePPP(b []byte, p *Packet) (bool, error) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return false, errPPPShort
	}
	var proto uint16
	if b[0]&1 == 1 {
		proto, b = uint16(b[0]), b[1:]
	} else {
		if len(b) < 2 {
			return false, errPPPShort
		}
		proto, b = be.Uint16(b[0:2]), b[2:]
	}
	p.WireLen = len(b)
	switch proto {
	case 0x0021:
		return d.decodeIPv4(b, p)
	case 0x0057:
		return d.decodeIPv6(b, p)
	}
	d.stats.UnsupportedLink++
	return false, nil
}
