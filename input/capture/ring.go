package capture

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RingInfo describes the kernel ring a live capture reads, for -stats-json,
// the exit summary and the agent diagnostics: which TPACKET version is in
// use, how it is cut into blocks and frames, and how many packets it can
// hold before the kernel has to drop.
type RingInfo struct {
	Device  string `json:"device"`
	Type    string `json:"type"`    // pcap or af_packet
	Version string `json:"version"` // TPACKET_V3, TPACKET_V2, ...
	// RingBytes is the size of the mapped ring (read back from the
	// mapping for libpcap, which does not say).
	RingBytes int64 `json:"ring_bytes"`
	BlockSize int   `json:"block_size"`
	Blocks    int   `json:"blocks"`
	// FrameSize is the fixed slot of TPACKET_V1/V2; with TPACKET_V3 frames
	// are packed in blocks and it is only the largest frame the ring takes.
	FrameSize int `json:"frame_size"`
	Snaplen   int `json:"snaplen"`
	// PacketsAtSnaplen is how many packets of snaplen bytes fit in the ring
	// (the worst case); PacketsAtMeanSize how many of the mean captured size
	// seen so far (0 before the first packet).
	PacketsAtSnaplen  int64 `json:"packets_at_snaplen"`
	PacketsAtMeanSize int64 `json:"packets_at_mean_size"`
	MeanCaptureLength int   `json:"mean_capture_length,omitempty"`
	FanoutGroup       *int  `json:"fanout_group,omitempty"`
	// KernelFreezes counts TPACKET_V3 queue freezes (every block full).
	KernelFreezes uint64 `json:"kernel_freezes,omitempty"`
	// Packets and Bytes (on the wire) were read from this interface,
	// KernelReceived and KernelDropped counted by its kernel socket (as
	// pcap_received and pcap_dropped, dropped included in received): the
	// per-interface figures of a capture of several interfaces, whose sums
	// are the capture's totals (absent for a capture of one).
	Packets        uint64 `json:"packets,omitempty"`
	Bytes          uint64 `json:"bytes,omitempty"`
	KernelReceived uint64 `json:"kernel_received,omitempty"`
	KernelDropped  uint64 `json:"kernel_dropped,omitempty"`
	// State is empty while capturing, else why the capture waits (the
	// interface is down).
	State string `json:"state,omitempty"`
}

// Header sizes of the kernel's TPACKET_V3 layout (linux/if_packet.h), used
// to tell how many packets a ring holds.
const (
	tpacketAlignment = 16
	tpacket3HdrLen   = 48 // sizeof(struct tpacket3_hdr), already aligned
	sockaddrLLLen    = 20
	// tpacket3HdrLenLL is TPACKET3_HDRLEN: the header plus sockaddr_ll.
	tpacket3HdrLenLL = tpacket3HdrLen + sockaddrLLLen
	blockHdrLen      = 48 // offset_to_first_pkt of a block (BLK_HDR_LEN)
	ringReserve      = 4  // PACKET_RESERVE: room to put a VLAN tag back
	packetOutgoing   = 4  // PACKET_OUTGOING
)

func tpAlign(x int) int { return (x + tpacketAlignment - 1) &^ (tpacketAlignment - 1) }

// v3MacOffset is where the kernel puts the frame in a TPACKET_V3 slot
// (tpacket_rcv): after the header and sockaddr_ll, the link header ending
// on an aligned network header, plus the reserve. cooked is SOCK_DGRAM
// (no link header).
func v3MacOffset(cooked bool, linkHdr int) int {
	if cooked {
		return tpAlign(tpacket3HdrLenLL) + 16 + ringReserve
	}
	m := linkHdr
	if m < 16 {
		m = 16
	}
	return tpAlign(tpacket3HdrLenLL+m) + ringReserve - linkHdr
}

// v3Capacity is how many packets of caplen bytes blocks of blockSize hold.
func v3Capacity(blockSize, blocks, macOff, caplen int) int64 {
	per := tpAlign(macOff + caplen)
	if per <= 0 || blockSize <= blockHdrLen {
		return 0
	}
	return int64((blockSize-blockHdrLen)/per) * int64(blocks)
}

// withCapacity fills the packet counts of a TPACKET_V3 ring from the
// captured bytes and packets seen so far.
func (ri *RingInfo) withCapacity(macOff int, capBytes, pkts uint64) {
	if ri.Version != "TPACKET_V3" || ri.BlockSize == 0 {
		return
	}
	ri.PacketsAtSnaplen = v3Capacity(ri.BlockSize, ri.Blocks, macOff, ri.Snaplen)
	if pkts > 0 {
		mean := int(capBytes / pkts)
		ri.MeanCaptureLength = mean
		ri.PacketsAtMeanSize = v3Capacity(ri.BlockSize, ri.Blocks, macOff, mean)
	}
}

// memAvailable is MemAvailable from /proc/meminfo in bytes (0 if unknown).
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// checkRingFits refuses a ring larger than the memory the kernel could give
// it, which would otherwise push the host into reclaim or the OOM killer
// before setsockopt fails.
func checkRingFits(dev string, bytes int64) error {
	if avail := memAvailable(); avail > 0 && bytes > avail/2 {
		return fmt.Errorf("interface %s: buffer_size_mb asks for a ring of %d MiB, more than half the memory available (%d MiB): the ring cannot be allocated", dev, bytes>>20, avail>>20)
	}
	return nil
}
