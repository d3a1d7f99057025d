//go:build linux

// Command encap is a userspace tunnel endpoint for the encapsulations this
// machine's kernel cannot make (only vxlan is built in). It creates a TUN
// (IP payloads) or TAP (Ethernet payloads) device, and moves packets between
// it and an outer Ethernet interface through an AF_PACKET socket, writing
// and stripping the standard headers itself:
//
//	sit      IPv4 + IPv6 (protocol 41)           TUN
//	ipip     IPv4 + IPv4 (protocol 4)            TUN
//	ip6ip6   IPv6 + IPv6 (next header 41)        TUN  } with a tunnel encapsulation
//	ip4ip6   IPv6 + IPv4 (next header 4)         TUN  } limit option, as ip6tnl sends
//	gre      IPv4 + GRE (key, sequence) + IP     TUN
//	gretap   IPv4 + GRE (key) 0x6558 + Ethernet  TAP
//	erspan1  IPv4 + GRE 0x88be + Ethernet        TAP
//	erspan2  IPv4 + GRE (seq) 0x88be + ERSPAN II + Ethernet   TAP
//	erspan3  IPv4 + GRE (seq) 0x22eb + ERSPAN III + Ethernet  TAP
//	geneve   IPv4 + UDP 6081 + Geneve (one option) + Ethernet TAP
//	gtpu     IPv4 + UDP 2152 + GTP-U G-PDU (PDU session container) + IP  TUN
//	mpls     Ethernet 0x8847 + two labels + IP   TUN
//	mplseth  Ethernet 0x8847 + two labels + control word + Ethernet  TAP (RFC 4448 pseudowire)
//	mplsgre  IPv4 + GRE 0x8847 + one label + IP  TUN (RFC 4023)
//	mplsip   IPv4 protocol 137 + one label + IP  TUN (RFC 4023)
//	pppoe    Ethernet 0x8864 PPPoE session + PPP + IP  TUN
//	pptp     IPv4 + enhanced GRE (version 1, call id, sequence) + PPP + IP  TUN (RFC 2637)
//
// Received frames that match the mode (and are addressed to -local) are
// decapsulated into the device. So that the kernel does not answer the
// outer packets it has no handler for (ICMP protocol/port unreachable), the
// program holds a raw socket for the outer IP protocol, or binds the UDP
// port, and never reads it. Standard library only; Linux only.
//
//	encap -mode gre -dev veth0 -tun tun0 -local 10.9.0.1 -remote 10.9.0.2 -peer-mac 02:..:02 -id 77
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"
)

var be = binary.BigEndian

type mode struct {
	tap      bool
	outer6   bool
	ethType  uint16 // outer EtherType for MPLS and PPPoE (no outer IP)
	ipProto  uint8  // outer IP protocol
	udpPort  uint16 // UDP tunnels
	innerVer uint8  // IP-in-IP: the only inner version allowed (0: any)
}

var modes = map[string]mode{
	"sit":     {ipProto: 41, innerVer: 6},
	"ipip":    {ipProto: 4, innerVer: 4},
	"ip6ip6":  {ipProto: 41, outer6: true, innerVer: 6},
	"ip4ip6":  {ipProto: 4, outer6: true, innerVer: 4},
	"gre":     {ipProto: 47},
	"gretap":  {ipProto: 47, tap: true},
	"erspan1": {ipProto: 47, tap: true},
	"erspan2": {ipProto: 47, tap: true},
	"erspan3": {ipProto: 47, tap: true},
	"geneve":  {ipProto: 17, udpPort: 6081, tap: true},
	"gtpu":    {ipProto: 17, udpPort: 2152},
	"mpls":    {ethType: 0x8847},
	"mplseth": {ethType: 0x8847, tap: true},
	"mplsgre": {ipProto: 47},
	"mplsip":  {ipProto: 137},
	"pptp":    {ipProto: 47},
	"pppoe":   {ethType: 0x8864},
}

var (
	modeName = flag.String("mode", "", "encapsulation (see the package comment)")
	dev      = flag.String("dev", "", "outer Ethernet interface")
	tunName  = flag.String("tun", "tun0", "TUN/TAP device to create")
	localS   = flag.String("local", "", "outer local address (IP modes)")
	remoteS  = flag.String("remote", "", "outer remote address (IP modes)")
	peerMACS = flag.String("peer-mac", "", "MAC address of the remote end on -dev")
	id       = flag.Uint("id", 0, "key / VNI / TEID / session id / inner MPLS label")
	outID    = flag.Uint("out-id", 0, "GTP-U: TEID of packets we send (default -id); -id is what we accept")
)

func main() {
	flag.Parse()
	m, ok := modes[*modeName]
	if !ok {
		log.Fatalf("unknown -mode %q", *modeName)
	}
	ifi, err := net.InterfaceByName(*dev)
	if err != nil {
		log.Fatal(err)
	}
	peer, err := net.ParseMAC(*peerMACS)
	if err != nil {
		log.Fatalf("-peer-mac: %v", err)
	}
	var local, remote netip.Addr
	if m.ethType == 0 {
		local, remote = netip.MustParseAddr(*localS), netip.MustParseAddr(*remoteS)
	}
	if *outID == 0 {
		*outID = *id
	}
	tun := openTun(*tunName, m.tap)
	absorb(m, local)

	ps, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		log.Fatal(err)
	}
	if err := syscall.Bind(ps, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		log.Fatal(err)
	}
	e := &encapper{m: m, name: *modeName, src: ifi.HardwareAddr, dst: peer, local: local, remote: remote}
	go func() { // device -> wire
		buf := make([]byte, 65536)
		for {
			n, err := tun.Read(buf)
			if err != nil {
				log.Fatal(err)
			}
			frame := e.wrap(buf[:n])
			if frame == nil {
				continue
			}
			if err := syscall.Sendto(ps, frame, 0, &syscall.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}); err != nil {
				log.Printf("send: %v", err)
			}
		}
	}()
	buf := make([]byte, 65536) // wire -> device
	for {
		n, from, err := syscall.Recvfrom(ps, buf, 0)
		if err != nil {
			log.Fatal(err)
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue
		}
		if inner := e.unwrap(buf[:n]); inner != nil {
			if _, err := tun.Write(inner); err != nil {
				log.Printf("device write: %v", err)
			}
		}
	}
}

type encapper struct {
	m             mode
	name          string
	src, dst      net.HardwareAddr
	local, remote netip.Addr
	seq           uint32
	ipID          uint16
}

// wrap builds the outer frame around one packet read from the device.
func (e *encapper) wrap(inner []byte) []byte {
	if len(inner) == 0 {
		return nil
	}
	ver := inner[0] >> 4
	if !e.m.tap && e.m.innerVer != 0 && ver != e.m.innerVer {
		return nil // e.g. an IPv4 packet routed into a sit device
	}
	var hdr []byte // tunnel header between the outer IP (or Ethernet) and inner
	et := uint16(0x0800)
	if ver == 6 {
		et = 0x86dd
	}
	e.seq++
	switch e.name {
	case "gre":
		hdr = be.AppendUint16(nil, 0x2000|0x1000) // K, S
		hdr = be.AppendUint16(hdr, et)
		hdr = be.AppendUint32(hdr, uint32(*id))
		hdr = be.AppendUint32(hdr, e.seq)
	case "gretap":
		hdr = be.AppendUint16(nil, 0x2000)
		hdr = be.AppendUint16(hdr, 0x6558)
		hdr = be.AppendUint32(hdr, uint32(*id))
	case "erspan1":
		hdr = be.AppendUint16(nil, 0)
		hdr = be.AppendUint16(hdr, 0x88be)
	case "erspan2":
		hdr = be.AppendUint16(nil, 0x1000)
		hdr = be.AppendUint16(hdr, 0x88be)
		hdr = be.AppendUint32(hdr, e.seq)
		// ver 1, vlan 0 | cos 0, en 3 (trunk: frame kept as is), t 0, session | index
		hdr = be.AppendUint16(hdr, 1<<12)
		hdr = be.AppendUint16(hdr, 3<<11|uint16(*id)&0x3ff)
		hdr = be.AppendUint32(hdr, 7) // reserved 0, index 7
	case "erspan3":
		hdr = be.AppendUint16(nil, 0x1000)
		hdr = be.AppendUint16(hdr, 0x22eb)
		hdr = be.AppendUint32(hdr, e.seq)
		hdr = be.AppendUint16(hdr, 2<<12)
		hdr = be.AppendUint16(hdr, 3<<11|uint16(*id)&0x3ff)
		hdr = be.AppendUint32(hdr, e.seq*100) // timestamp, 100 us units
		hdr = be.AppendUint16(hdr, 0)         // SGT
		hdr = be.AppendUint16(hdr, 1<<1|1)    // hw id 0, gra 0... o=1: platform sub-header follows
		hdr = be.AppendUint32(hdr, 3<<26)     // platform sub-header: platf id 3
		hdr = be.AppendUint32(hdr, e.seq)
	case "geneve":
		hdr = []byte{2, 0} // version 0, option length 2 words (one 8-byte option)
		hdr = be.AppendUint16(hdr, 0x6558)
		hdr = be.AppendUint32(hdr, uint32(*id)<<8)
		hdr = be.AppendUint16(hdr, 0x0104) // option class (experimental range)
		hdr = append(hdr, 0x01, 1)         // type 1, length 1 word
		hdr = be.AppendUint32(hdr, e.seq)
	case "gtpu":
		// version 1, PT 1, E and S: sequence number and an extension
		// header, the PDU Session Container (type 0x85) 5G N3 traffic
		// carries: one 4-byte word, PDU type 0 (downlink), QFI 9.
		hdr = []byte{0x36, 0xff}
		hdr = be.AppendUint16(hdr, uint16(4+4+len(inner)))
		hdr = be.AppendUint32(hdr, uint32(*outID))
		hdr = be.AppendUint16(hdr, uint16(e.seq))
		hdr = append(hdr, 0, 0x85)
		hdr = append(hdr, 1, 0x00, 0x09, 0)
	case "mpls":
		hdr = be.AppendUint32(nil, 100<<12|64)              // transport label 100, TTL 64
		hdr = be.AppendUint32(hdr, uint32(*id)<<12|1<<8|64) // service label, bottom of stack
	case "mplseth":
		hdr = be.AppendUint32(nil, 100<<12|64)
		hdr = be.AppendUint32(hdr, uint32(*id)<<12|1<<8|64)
		hdr = be.AppendUint32(hdr, e.seq&0xffff) // control word: flags 0, sequence number
	case "mplsgre":
		hdr = be.AppendUint16(nil, 0)
		hdr = be.AppendUint16(hdr, 0x8847)
		hdr = be.AppendUint32(hdr, uint32(*id)<<12|1<<8|64)
	case "mplsip":
		hdr = be.AppendUint32(nil, uint32(*id)<<12|1<<8|64)
	case "pptp":
		proto := uint16(0x0021)
		if ver == 6 {
			proto = 0x0057
		}
		hdr = be.AppendUint16(nil, 0x2000|0x1000|1) // K, S, version 1
		hdr = be.AppendUint16(hdr, 0x880b)
		hdr = be.AppendUint16(hdr, uint16(4+len(inner))) // PPP payload length
		hdr = be.AppendUint16(hdr, uint16(*outID))       // the peer's call id
		hdr = be.AppendUint32(hdr, e.seq)
		hdr = append(hdr, 0xff, 0x03)
		hdr = be.AppendUint16(hdr, proto)
	case "pppoe":
		proto := uint16(0x0021)
		if ver == 6 {
			proto = 0x0057
		}
		hdr = []byte{0x11, 0}
		hdr = be.AppendUint16(hdr, uint16(*id))
		hdr = be.AppendUint16(hdr, uint16(2+len(inner)))
		hdr = be.AppendUint16(hdr, proto)
	}

	frame := make([]byte, 0, 14+40+8+len(hdr)+len(inner))
	frame = append(frame, e.dst...)
	frame = append(frame, e.src...)
	if e.m.ethType != 0 {
		frame = be.AppendUint16(frame, e.m.ethType)
		frame = append(frame, hdr...)
		return append(frame, inner...)
	}
	payload := append(hdr, inner...)
	if e.m.udpPort != 0 {
		udp := be.AppendUint16(nil, 49152+uint16(e.seq%1024)) // varying source port, as VXLAN/Geneve do
		udp = be.AppendUint16(udp, e.m.udpPort)
		udp = be.AppendUint16(udp, uint16(8+len(payload)))
		udp = be.AppendUint16(udp, 0) // checksum optional over IPv4
		payload = append(udp, payload...)
	}
	if e.m.outer6 {
		// Like Linux ip6tnl (encaplimit 4, RFC 2473): a destination
		// options header with the tunnel encapsulation limit, then PadN.
		payload = append([]byte{e.m.ipProto, 0, 0x04, 0x01, 4, 0x01, 0x01, 0}, payload...)
		frame = be.AppendUint16(frame, 0x86dd)
		frame = be.AppendUint32(frame, 6<<28)
		frame = be.AppendUint16(frame, uint16(len(payload)))
		frame = append(frame, 60, 64)
		l, r := e.local.As16(), e.remote.As16()
		frame = append(frame, l[:]...)
		frame = append(frame, r[:]...)
		return append(frame, payload...)
	}
	frame = be.AppendUint16(frame, 0x0800)
	e.ipID++
	ip := []byte{0x45, 0}
	ip = be.AppendUint16(ip, uint16(20+len(payload)))
	ip = be.AppendUint16(ip, e.ipID)
	ip = be.AppendUint16(ip, 0x4000) // DF
	ip = append(ip, 64, e.m.ipProto, 0, 0)
	l, r := e.local.As4(), e.remote.As4()
	ip = append(ip, l[:]...)
	ip = append(ip, r[:]...)
	be.PutUint16(ip[10:12], checksum(ip))
	frame = append(frame, ip...)
	return append(frame, payload...)
}

// unwrap returns the inner packet of a received frame of our mode, or nil.
func (e *encapper) unwrap(f []byte) []byte {
	if len(f) < 14 {
		return nil
	}
	et := be.Uint16(f[12:14])
	b := f[14:]
	if e.m.ethType != 0 {
		if et != e.m.ethType {
			return nil
		}
		switch e.name {
		case "mpls", "mplseth":
			for len(b) >= 4 {
				bos := b[2]&1 != 0
				b = b[4:]
				if bos {
					if e.name == "mplseth" && len(b) >= 4 {
						return b[4:] // the control word
					}
					return b
				}
			}
			return nil
		case "pppoe":
			if len(b) < 8 || be.Uint16(b[2:4]) != uint16(*id) {
				return nil
			}
			n := int(be.Uint16(b[4:6]))
			if 6+n > len(b) || n < 2 {
				return nil
			}
			return b[8 : 6+n]
		}
	}
	var proto uint8
	switch {
	case et == 0x0800 && !e.m.outer6 && len(b) >= 20:
		ihl := int(b[0]&0xf) * 4
		if netip.AddrFrom4([4]byte(b[16:20])) != e.local || ihl < 20 || len(b) < ihl {
			return nil
		}
		tot := int(be.Uint16(b[2:4]))
		if tot < ihl || tot > len(b) {
			return nil
		}
		proto, b = b[9], b[ihl:tot]
	case et == 0x86dd && e.m.outer6 && len(b) >= 40:
		if netip.AddrFrom16([16]byte(b[24:40])) != e.local {
			return nil
		}
		n := int(be.Uint16(b[4:6]))
		if 40+n > len(b) {
			return nil
		}
		proto, b = b[6], b[40:40+n]
		if proto == 60 && len(b) >= 8 { // our encapsulation limit header
			proto, b = b[0], b[(int(b[1])+1)*8:]
		}
	default:
		return nil
	}
	if proto != e.m.ipProto {
		return nil
	}
	if e.m.udpPort != 0 {
		if len(b) < 8 || be.Uint16(b[2:4]) != e.m.udpPort {
			return nil
		}
		b = b[8:]
	}
	switch e.name {
	case "sit", "ipip", "ip6ip6", "ip4ip6":
		return b
	case "mplsip":
		if len(b) < 4 {
			return nil
		}
		return b[4:]
	case "mplsgre":
		if len(b) < 8 || be.Uint16(b[2:4]) != 0x8847 {
			return nil
		}
		return b[8:]
	case "pptp":
		if len(b) < 16 || be.Uint16(b[2:4]) != 0x880b || be.Uint16(b[6:8]) != uint16(*id) {
			return nil
		}
		return b[16:] // GRE(8) sequence(4) PPP address/control(2) protocol(2)
	case "gre", "gretap", "erspan1", "erspan2", "erspan3":
		if len(b) < 4 {
			return nil
		}
		flags := be.Uint16(b[0:2])
		off := 4
		for _, bit := range []uint16{0x8000, 0x2000, 0x1000} {
			if flags&bit != 0 {
				off += 4
			}
		}
		switch e.name {
		case "erspan2":
			off += 8
		case "erspan3":
			off += 20
		}
		if len(b) < off {
			return nil
		}
		return b[off:]
	case "geneve":
		if len(b) < 8 {
			return nil
		}
		hl := 8 + int(b[0]&0x3f)*4
		if len(b) < hl {
			return nil
		}
		return b[hl:]
	case "gtpu":
		if len(b) < 16 || be.Uint32(b[4:8]) != uint32(*id) {
			return nil
		}
		return b[16:] // our own framing: header, sequence word, one extension word
	}
	return nil
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(be.Uint16(b[i:]))
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openTun creates the TUN or TAP device (IFF_NO_PI: bare packets).
func openTun(name string, tap bool) *os.File {
	// A plain blocking descriptor: registering /dev/net/tun with the
	// runtime poller before TUNSETIFF fails now and then ("not pollable").
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	var req [40]byte
	copy(req[:16], name)
	flags := uint16(0x0001) // IFF_TUN
	if tap {
		flags = 0x0002 // IFF_TAP
	}
	flags |= 0x1000 // IFF_NO_PI
	*(*uint16)(unsafe.Pointer(&req[16])) = flags
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), 0x400454ca /* TUNSETIFF */, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		log.Fatalf("TUNSETIFF %s: %v", name, errno)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun")
}

// absorb keeps the kernel quiet about the outer packets: a raw socket for
// the IP protocol, or the UDP port bound. Never read; the kernel drops what
// overflows its buffer.
func absorb(m mode, local netip.Addr) {
	switch {
	case m.ethType != 0:
	case m.udpPort != 0:
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: local.AsSlice(), Port: int(m.udpPort)})
		if err != nil {
			log.Fatal(err)
		}
		_ = c.SetReadBuffer(4096)
		absorbed = append(absorbed, c)
	default:
		fam := syscall.AF_INET
		if m.outer6 {
			fam = syscall.AF_INET6
		}
		s, err := syscall.Socket(fam, syscall.SOCK_RAW, int(m.ipProto))
		if err != nil {
			log.Fatal(fmt.Errorf("raw socket for protocol %d: %w", m.ipProto, err))
		}
		absorbedFDs = append(absorbedFDs, s)
	}
}

var (
	absorbed    []*net.UDPConn
	absorbedFDs []int
)
