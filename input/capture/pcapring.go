package capture

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/google/gopacket/pcap"
	"golang.org/x/sys/unix"
)

// libpcap does not say which ring it set up, nor hand out its socket
// through gopacket. activateTracked finds the socket as the packet socket
// that activation added to the process; pcapRing then asks the kernel for
// its TPACKET version and reads the ring's size back from the mapping.

// activateMu keeps two activations from telling each other's sockets apart.
var activateMu sync.Mutex

func activateTracked(in *pcap.InactiveHandle) (*pcap.Handle, int, error) {
	activateMu.Lock()
	defer activateMu.Unlock()
	before := socketFDs()
	h, err := in.Activate()
	if err != nil {
		return nil, -1, err
	}
	fd := -1
	for f := range socketFDs() {
		if _, old := before[f]; old {
			continue
		}
		if _, err := unix.GetsockoptInt(f, unix.SOL_PACKET, unix.PACKET_VERSION); err == nil {
			fd = f
			break
		}
	}
	return h, fd, nil
}

// socketFDs maps the process's socket descriptors to their inodes.
func socketFDs() map[int]string {
	out := map[int]string{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return out
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			out[fd] = link
		}
	}
	return out
}

// mappedBytes is the size of the mapping of the socket named link
// ("socket:[inode]") in /proc/self/maps.
func mappedBytes(link string) int64 {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, " "+link) {
			continue
		}
		rng, _, _ := strings.Cut(line, " ")
		lo, hi, _ := strings.Cut(rng, "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && b > a {
			total += int64(b - a)
		}
	}
	return total
}

// libpcapV3Frame is the "frame" (one per block) libpcap 1.10 asks for with
// TPACKET_V3: MAXIMUM_SNAPLEN, whatever the snaplen.
const libpcapV3Frame = 262144

func pcapRing(dev string, fd, snaplen int, cooked bool) RingInfo {
	ri := RingInfo{Device: dev, Type: "pcap", Snaplen: snaplen}
	if fd < 0 {
		ri.Version = "unknown"
		return ri
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION)
	if err != nil {
		ri.Version = "unknown"
		return ri
	}
	ri.Version = fmt.Sprintf("TPACKET_V%d", v+1)
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil {
		ri.RingBytes = mappedBytes(link)
	}
	switch v {
	case unix.TPACKET_V3:
		ri.BlockSize, ri.FrameSize = libpcapV3Frame, libpcapV3Frame
	default:
		// TPACKET_V1/V2: one slot per packet, sized for snaplen behind
		// libpcap's headers, in page-multiple blocks.
		macOff := 100
		if cooked {
			macOff = 116
		}
		ri.FrameSize = tpAlign(macOff + snaplen)
		ri.BlockSize = os.Getpagesize()
		for ri.BlockSize < ri.FrameSize {
			ri.BlockSize <<= 1
		}
	}
	if ri.BlockSize > 0 {
		ri.Blocks = int(ri.RingBytes / int64(ri.BlockSize))
	}
	if v != unix.TPACKET_V3 && ri.FrameSize > 0 {
		n := int64(ri.Blocks) * int64(ri.BlockSize/ri.FrameSize)
		ri.PacketsAtSnaplen, ri.PacketsAtMeanSize = n, n
	}
	return ri
}
