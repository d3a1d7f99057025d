package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// afpacketSource reads a TPACKET_V3 ring of an AF_PACKET socket (type:
// af_packet). It is our own reader over golang.org/x/sys/unix rather than
// gopacket's afpacket package, which allocates for every VLAN-tagged packet
// (AncillaryData), hides the packet type, cannot set PACKET_RESERVE (so it
// copies to put a VLAN tag back) and has not been maintained since 2020.
//
// The kernel fills blocks of packets; a block belongs to us from the moment
// its status says TP_STATUS_USER until we hand it back, which Next does when
// it moves past the block's last packet (so the data Next returned stays
// valid until the next call, as the Source contract says).
type afpacketSource struct {
	fd       int
	dev      string // as configured, for messages
	ifindex  int    // 0: every interface
	cooked   bool   // SOCK_DGRAM: a cooked header is put in front of each frame
	linkType layers.LinkType
	snaplen  int
	macOff   int // where the kernel puts frames in a slot (capacity figures)

	ring      []byte
	blockSize int
	numBlocks int
	block     int    // the block being read
	inBlock   bool   // block is ours (TP_STATUS_USER)
	left      uint32 // packets of the block not yet returned
	off       int    // ring offset of the next packet's header

	timeoutMS int
	pfd       [1]unix.PollFd

	prefix []bpf.Instruction // outgoing filter, kept for SetFilter
	filter string            // the expression attached behind it

	// kernel counters, summed: PACKET_STATISTICS resets on every read.
	recv, drops, freezes uint64
	capBytes, pkts       uint64
	fanout               *int
	down                 bool // the interface went down; the socket waits
	info                 RingInfo
}

// afpacketOptions are the af_packet settings of an interface.
type afpacketOptions struct {
	device         string // "any" or "": every interface
	snaplen        int
	bufferBytes    int64
	promisc        bool
	filter         string
	ignoreOutgoing bool
	fanout         bool
	fanoutGroup    int
	timeout        time.Duration
}

const (
	arphrdEther    = 1
	arphrdLoopback = 772
	// maxBlockSize is the block size we start from: large blocks mean few
	// block switches, but a ring wants many blocks (the kernel fills one
	// while we read others), so it shrinks for small rings.
	maxBlockSize  = 1 << 20
	minRingBlocks = 64
)

func openAFPacket(o afpacketOptions) (_ *afpacketSource, err error) {
	s := &afpacketSource{fd: -1, dev: o.device, snaplen: o.snaplen}
	if s.dev == "" {
		s.dev = "any"
	}
	if o.timeout <= 0 {
		o.timeout = 100 * time.Millisecond
	}
	s.timeoutMS = int(o.timeout / time.Millisecond)
	if s.dev != "any" {
		ifi, err := net.InterfaceByName(s.dev)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", s.dev, err)
		}
		s.ifindex = ifi.Index
		// Ethernet-like devices give their own frames; anything else
		// (tun, ip tunnels, ...) is read cooked, as libpcap does.
		if t := arpType(s.dev); t != arphrdEther && t != arphrdLoopback {
			s.cooked = true
		}
	} else {
		s.cooked = true
	}
	s.linkType = layers.LinkTypeEthernet
	if s.cooked {
		s.linkType = layers.LinkTypeLinuxSLL
	}
	s.macOff = v3MacOffset(s.cooked, 14)

	// Ring geometry: blocks hold frames of up to snaplen plus headers.
	minBlock := os.Getpagesize()
	for minBlock < s.macOff+s.snaplen+blockHdrLen {
		minBlock <<= 1
	}
	s.blockSize = maxBlockSize
	for s.blockSize > minBlock && o.bufferBytes/int64(s.blockSize) < minRingBlocks {
		s.blockSize >>= 1
	}
	if s.blockSize < minBlock {
		s.blockSize = minBlock
	}
	s.numBlocks = int((o.bufferBytes + int64(s.blockSize) - 1) / int64(s.blockSize))
	if s.numBlocks < 2 {
		s.numBlocks = 2
	}
	ringBytes := int64(s.blockSize) * int64(s.numBlocks)
	if err := checkRingFits(s.dev, ringBytes); err != nil {
		return nil, err
	}

	sockType := unix.SOCK_RAW
	if s.cooked {
		sockType = unix.SOCK_DGRAM
	}
	// Protocol 0: no packet is queued before the ring and filter are in
	// place; bind below starts the capture.
	activateMu.Lock() // not mistaken for the socket of a libpcap activation
	s.fd, err = unix.Socket(unix.AF_PACKET, sockType|unix.SOCK_CLOEXEC, 0)
	activateMu.Unlock()
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("no permission to capture on %s: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN (%v)", s.dev, err)
		}
		return nil, fmt.Errorf("interface %s: AF_PACKET socket: %w", s.dev, err)
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("interface %s: this kernel has no TPACKET_V3: %w", s.dev, err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_RESERVE, ringReserve); err != nil {
		return nil, fmt.Errorf("interface %s: PACKET_RESERVE: %w", s.dev, err)
	}
	frameSize := minBlock // the largest frame; V3 packs frames, this only bounds them
	req := unix.TpacketReq3{
		Block_size:       uint32(s.blockSize),
		Block_nr:         uint32(s.numBlocks),
		Frame_size:       uint32(frameSize),
		Frame_nr:         uint32(s.blockSize / frameSize * s.numBlocks),
		Retire_blk_tov:   uint32(s.timeoutMS),
		Feature_req_word: 0,
	}
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("interface %s: the kernel cannot allocate a ring of %d blocks of %d KiB (buffer_size_mb): %w", s.dev, s.numBlocks, s.blockSize>>10, err)
	}
	s.ring, err = unix.Mmap(s.fd, 0, int(ringBytes), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("interface %s: cannot map a ring of %d MiB (buffer_size_mb): %w", s.dev, ringBytes>>20, err)
	}
	switch {
	case o.ignoreOutgoing:
		s.prefix = outgoingFilter(true, 0)
	case s.dev == "any" || isLoopback(s.dev):
		s.prefix = outgoingFilter(false, loopbackIndex())
	}
	if err := s.SetFilter(o.filter); err != nil {
		return nil, err
	}
	sll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.ifindex}
	if err := unix.Bind(s.fd, sll); err != nil {
		return nil, fmt.Errorf("interface %s: bind: %w", s.dev, err)
	}
	if o.promisc && s.ifindex > 0 {
		mr := unix.PacketMreq{Ifindex: int32(s.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(s.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return nil, fmt.Errorf("interface %s: promiscuous mode: %w", s.dev, err)
		}
	}
	if o.fanout {
		// Hash mode on the kernel's symmetric flow hash, with fragments
		// reassembled first so every piece of a datagram lands in the same
		// socket as its flow.
		arg := o.fanoutGroup | (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
		if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			if errors.Is(err, unix.EINVAL) {
				return nil, fmt.Errorf("interface %s: fanout_group %d exists in another mode or on another interface (every member must be af_packet hash mode on %s): %w", s.dev, o.fanoutGroup, s.dev, err)
			}
			return nil, fmt.Errorf("interface %s: fanout_group %d: %w", s.dev, o.fanoutGroup, err)
		}
		g := o.fanoutGroup
		s.fanout = &g
	}
	s.pfd[0] = unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN | unix.POLLERR}
	s.info = RingInfo{Device: s.dev, Type: "af_packet", Version: "TPACKET_V3", RingBytes: ringBytes,
		BlockSize: s.blockSize, Blocks: s.numBlocks, FrameSize: frameSize, Snaplen: s.snaplen, FanoutGroup: s.fanout}
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// arpType is the ARPHRD_* type of a device (0 if unknown).
func arpType(dev string) int {
	raw, err := os.ReadFile("/sys/class/net/" + dev + "/type")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return n
}

func isLoopback(dev string) bool { return arpType(dev) == arphrdLoopback }

// ifaceUp reads IFF_UP of dev from sysfs (cheaper than a netlink dump, and
// asked every few thousand packets); true when unknown.
func ifaceUp(dev string) bool {
	raw, err := os.ReadFile("/sys/class/net/" + dev + "/flags")
	if err != nil {
		return true
	}
	flags, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"), 16, 32)
	return err != nil || flags&unix.IFF_UP != 0
}

// loopbackIndex is the interface index of the loopback device (0 if none).
func loopbackIndex() int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			return ifi.Index
		}
	}
	return 0
}

// SetFilter compiles expr and attaches it, behind the outgoing-packet
// prefix, to the socket (the kernel swaps filters atomically).
func (s *afpacketSource) SetFilter(expr string) error {
	prog, err := kernelFilterOn(s.dev, s.prefix, expr, s.linkType, s.snaplen, s.cooked)
	if err != nil {
		return err
	}
	if err := attachFilter(s.fd, prog); err != nil {
		return fmt.Errorf("interface %s: attach BPF filter %q: %w", s.dev, expr, err)
	}
	s.filter = expr
	return nil
}

// Offsets in the ring (linux/if_packet.h).
const (
	bdBlockStatus = 8  // tpacket_block_desc.hdr.bh1.block_status
	bdNumPkts     = 12 // .num_pkts
	bdFirstPkt    = 16 // .offset_to_first_pkt

	p3NextOffset = 0
	p3Sec        = 4
	p3Nsec       = 8
	p3Snaplen    = 12
	p3Len        = 16
	p3Status     = 20
	p3Mac        = 24
	p3VLANTCI    = 32
	p3VLANTPID   = 36
	p3SLL        = tpacket3HdrLen // struct sockaddr_ll follows the header

	sllProtocol = 2
	sllIfindex  = 4
	sllHatype   = 8
	sllPkttype  = 10
	sllHalen    = 11
	sllAddr     = 12
)

func (s *afpacketSource) status(block int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.ring[block*s.blockSize+bdBlockStatus]))
}

// Next returns the next packet of the ring, waiting up to the timeout.
func (s *afpacketSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	ne := binary.NativeEndian
	for s.left == 0 {
		if s.inBlock {
			// Every packet of the block was handed out and the caller is
			// done with the last one: give the block back to the kernel.
			atomic.StoreUint32(s.status(s.block), unix.TP_STATUS_KERNEL)
			s.inBlock = false
			s.block = (s.block + 1) % s.numBlocks
		}
		if atomic.LoadUint32(s.status(s.block))&unix.TP_STATUS_USER == 0 {
			if err := s.wait(); err != nil {
				return nil, gopacket.CaptureInfo{}, err
			}
			continue
		}
		base := s.block * s.blockSize
		s.inBlock = true
		s.left = ne.Uint32(s.ring[base+bdNumPkts:])
		s.off = base + int(ne.Uint32(s.ring[base+bdFirstPkt:]))
	}
	h := s.off
	s.left--
	if next := ne.Uint32(s.ring[h+p3NextOffset:]); next != 0 {
		s.off = h + int(next)
	}
	snap := int(ne.Uint32(s.ring[h+p3Snaplen:]))
	wire := int(ne.Uint32(s.ring[h+p3Len:]))
	st := ne.Uint32(s.ring[h+p3Status:])
	start := h + int(ne.Uint16(s.ring[h+p3Mac:]))
	sll := h + p3SLL
	var ci gopacket.CaptureInfo
	ci.Timestamp = time.Unix(int64(ne.Uint32(s.ring[h+p3Sec:])), int64(ne.Uint32(s.ring[h+p3Nsec:])))
	ci.InterfaceIndex = int(int32(ne.Uint32(s.ring[sll+sllIfindex:])))

	// A VLAN tag the NIC or the driver took off is in the header: put it
	// back in front of the payload, in the room PACKET_RESERVE keeps, so
	// the frame reads as it was on the wire.
	var tag [4]byte
	tagLen := 0
	if st&unix.TP_STATUS_VLAN_VALID != 0 {
		tpid := uint16(layers.EthernetTypeDot1Q)
		if st&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			if t := ne.Uint16(s.ring[h+p3VLANTPID:]); t != 0 {
				tpid = t
			}
		}
		binary.BigEndian.PutUint16(tag[0:], tpid)
		binary.BigEndian.PutUint16(tag[2:], uint16(ne.Uint32(s.ring[h+p3VLANTCI:])))
		tagLen = 4
	}
	if s.cooked {
		// Linux cooked header (LINKTYPE_LINUX_SLL) from sockaddr_ll, with
		// the tag, if any, between it and the payload.
		hdr := start - cookedHdrLen - tagLen
		r := s.ring
		binary.BigEndian.PutUint16(r[hdr:], uint16(r[sll+sllPkttype]))
		binary.BigEndian.PutUint16(r[hdr+2:], ne.Uint16(r[sll+sllHatype:]))
		halen := int(r[sll+sllHalen])
		if halen > 8 {
			halen = 8
		}
		binary.BigEndian.PutUint16(r[hdr+4:], uint16(halen))
		copy(r[hdr+6:hdr+14], r[sll+sllAddr:sll+sllAddr+8])
		proto := [2]byte{r[sll+sllProtocol], r[sll+sllProtocol+1]} // network order already
		if tagLen > 0 {
			copy(r[hdr+14:], tag[0:2])
			copy(r[hdr+16:], tag[2:4])
			copy(r[hdr+18:], proto[:])
		} else {
			copy(r[hdr+14:], proto[:])
		}
		extra := cookedHdrLen + tagLen
		start -= extra
		snap += extra
		wire += extra
	} else if tagLen > 0 && snap >= 12 {
		copy(s.ring[start-4:start+8], s.ring[start:start+12])
		copy(s.ring[start+8:start+12], tag[:])
		start -= 4
		snap += 4
		wire += 4
	}
	ci.CaptureLength, ci.Length = snap, wire
	s.capBytes += uint64(snap)
	s.pkts++
	return s.ring[start : start+snap : start+snap], ci, nil
}

// wait polls the socket until the current block is ours, the timeout
// passes (ErrTimeout) or the interface fails.
func (s *afpacketSource) wait() error {
	s.pfd[0].Revents = 0
	n, err := unix.Poll(s.pfd[:], s.timeoutMS)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return fmt.Errorf("interface %s: poll: %w", s.dev, err)
	}
	if n == 0 {
		return ErrTimeout
	}
	if s.pfd[0].Revents&unix.POLLERR != 0 {
		serr, _ := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if s.ifindex > 0 {
			if _, err := net.InterfaceByIndex(s.ifindex); err != nil {
				return fmt.Errorf("interface %s %w (%v)", s.dev, errDisappeared, unix.Errno(serr))
			}
		}
		if serr == int(unix.ENETDOWN) {
			// The socket stays bound: the kernel resumes delivery when
			// the interface comes up again.
			s.down = true
			return ErrTimeout
		}
		if serr != 0 {
			return fmt.Errorf("interface %s: %w", s.dev, unix.Errno(serr))
		}
	}
	s.down = false
	return nil
}

func (s *afpacketSource) LinkType() layers.LinkType { return s.linkType }

// PcapStats reads PACKET_STATISTICS. received counts every packet the
// filter accepted, dropped ones included (the kernel adds them in).
func (s *afpacketSource) PcapStats() (uint64, uint64, uint64, bool) {
	st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err == nil {
		s.recv += uint64(st.Packets)
		s.drops += uint64(st.Drops)
		s.freezes += uint64(st.Freeze_q_cnt)
	}
	return s.recv, s.drops, 0, true
}

// Ring describes the ring and its fill figures.
func (s *afpacketSource) Ring() *RingInfo {
	ri := s.info
	ri.KernelFreezes = s.freezes
	ri.withCapacity(s.macOff, s.capBytes, s.pkts)
	if s.down {
		ri.State = "interface " + s.dev + " is down"
	}
	return &ri
}

func (s *afpacketSource) Close() {
	if s.ring != nil {
		unix.Munmap(s.ring)
		s.ring = nil
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
}
