package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/network-traffic/network-traffic/input/config"
)

// Source yields raw frames. Data is valid until the next call.
type Source interface {
	Next() (data []byte, ci gopacket.CaptureInfo, err error)
	LinkType() layers.LinkType
	// PcapStats returns libpcap's counters (live captures only).
	PcapStats() (received, dropped, ifDropped uint64, ok bool)
	Close()
}

// ErrTimeout is returned by live sources when no packet arrived within the
// read timeout, so the worker can tick its timers.
var ErrTimeout = errors.New("read timeout")

type pcapSource struct {
	h    *pcap.Handle
	live bool
	path string // file being read ("" when live)
	// records counts packets read, to say where a damaged file broke.
	records uint64
	// Live captures: the device, libpcap's socket (-1 if not found), the
	// ring it set up and the filter prefix (see openPcapLive).
	dev            string
	fd             int
	snaplen        int
	info           RingInfo
	prefix         []bpf.Instruction
	capBytes, pkts uint64
	// Pacing for file replay at recorded speed.
	pace      bool
	firstPkt  time.Time
	firstWall time.Time
}

// OpenSource opens a live device or a pcap/pcapng file as the interface
// config says. filter is the BPF expression ("" for none).
func OpenSource(iface config.Interface, filter string) (Source, error) {
	return openSource(iface, filter, true)
}

// openSource is OpenSource; prefetch says whether a file read at top speed
// gets its own read-ahead goroutine. A sharded capture's dispatcher only
// reads and hands frames on, so it reads the file itself: the read-ahead
// would add a copy and a goroutine hand-off per batch for nothing.
func openSource(iface config.Interface, filter string, prefetch bool) (Source, error) {
	if iface.File != "" {
		if _, err := os.Stat(iface.File); err != nil {
			return nil, fmt.Errorf("pcap file: %w", err)
		}
		h, err := pcap.OpenOffline(iface.File)
		if err != nil {
			return nil, fmt.Errorf("open pcap file %s: %w", iface.File, err)
		}
		if filter != "" {
			if err := h.SetBPFFilter(filter); err != nil {
				h.Close()
				return nil, fmt.Errorf("BPF filter %q: %w", filter, err)
			}
		}
		if iface.TopSpeed {
			if !prefetch {
				return &pcapSource{h: h, path: iface.File}, nil
			}
			return newPrefetchSource(&pcapSource{h: h, path: iface.File}), nil
		}
		return &pcapSource{h: h, pace: true, path: iface.File}, nil
	}
	if iface.Devices != nil || iface.ExcludeDevices != nil || config.IsDevicePattern(iface.Device) {
		follow := false
		for _, e := range iface.SelectEntries() {
			follow = follow || config.IsDevicePattern(e)
		}
		set, err := resolveDeviceSet(iface)
		if err != nil && !(follow && errors.Is(err, errNoInterface)) {
			return nil, err
		}
		if len(set) == 1 && !follow {
			// One interface: the capture of one device, with no merge in
			// between.
			return openDevice(iface, set[0].dev, filter, nil, 0, true)
		}
		// With patterns, the set follows the interfaces that come and go;
		// an empty one waits (err says for what).
		return newMultiSource(iface, set, filter, follow, err, func(idx int, dev string, names *ifaceNames, wait bool, filter string) (Source, error) {
			return openDevice(iface, dev, filter, names, idx, wait)
		})
	}
	return openDevice(iface, iface.Device, filter, nil, 0, true)
}

// openDevice opens one live device entry (a name, an index, any or a
// default_route name). names, with a capture of several interfaces, gets
// the interface's name at idx, renamed when a default_route capture moves;
// nil for a capture of one, which gets its own. wait: an interface that
// disappears is waited for (else its capture ends with errDisappeared).
func openDevice(iface config.Interface, want, filter string, names *ifaceNames, idx int, wait bool) (Source, error) {
	dev, err := resolveDevice(want)
	follow := isDefaultRoute(want) && iface.PollDefaultRoute > 0
	if err != nil && !follow {
		return nil, err
	}
	snaplen := iface.Snaplen
	if snaplen <= 0 {
		snaplen = 65535
	}
	bufMB := iface.BufferSizeMB
	if bufMB <= 0 {
		bufMB = 30
	}
	open := func(dev string) (Source, error) {
		if iface.Type == config.TypeAFPacket {
			return openAFPacket(afpacketOptions{device: dev, snaplen: snaplen, bufferBytes: int64(bufMB) << 20,
				promisc: iface.Promiscuous, filter: filter, fanout: iface.Fanout, fanoutGroup: iface.FanoutGroup,
				timeout: liveTimeout})
		}
		return openPcapLive(dev, snaplen, bufMB, iface.Promiscuous, filter)
	}
	if (dev == "any" || !wait) && !follow {
		return open(dev)
	}
	if names == nil {
		names, idx = newIfaceNames([]string{dev}), 0
	}
	var rs *routeSource
	if follow {
		// With no default route yet, the capture waits for one.
		rs, err = newRouteSource(want, dev, err, iface.PollDefaultRoute, filter, open, func() (string, error) {
			return defaultRouteDevice(want)
		})
	} else {
		// A named interface that disappears is waited for and captured
		// again when it is back (checked every second).
		rs, err = newRouteSource(dev, dev, nil, time.Second, filter, open, func() (string, error) {
			if _, err := net.InterfaceByName(dev); err != nil {
				return "", err
			}
			return dev, nil
		})
	}
	if err != nil {
		return nil, err
	}
	rs.names, rs.nameIdx = names, idx
	return rs, nil
}

// liveTimeout bounds how long a read waits: with TPACKET_V3 it is also how
// long the kernel holds a partly filled block, so it is both the latency of
// a quiet capture and how often an idle one returns to tick its timers.
const liveTimeout = 100 * time.Millisecond

func openPcapLive(dev string, snaplen, bufMB int, promisc bool, filter string) (Source, error) {
	if err := checkRingFits(dev, int64(bufMB)<<20); err != nil {
		return nil, err
	}
	in, err := pcap.NewInactiveHandle(dev)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", dev, err)
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(snaplen); err != nil {
		return nil, err
	}
	if err := in.SetPromisc(promisc); err != nil {
		return nil, err
	}
	if err := in.SetTimeout(liveTimeout); err != nil {
		return nil, err
	}
	if err := in.SetBufferSize(bufMB << 20); err != nil {
		return nil, err
	}
	// Immediate mode off: libpcap then uses a TPACKET_V3 ring, which packs
	// packets into blocks, instead of TPACKET_V2's one fixed slot of
	// snaplen bytes per packet (a 30 MiB buffer held 240 packets).
	if err := in.SetImmediateMode(false); err != nil {
		return nil, err
	}
	h, fd, err := activateTracked(in)
	if err != nil {
		if strings.Contains(err.Error(), "ermission") {
			return nil, fmt.Errorf("no permission to capture on %s: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN (%v)", dev, err)
		}
		return nil, fmt.Errorf("activate capture on %s: %w", dev, err)
	}
	s := &pcapSource{h: h, live: true, dev: dev, fd: fd, snaplen: snaplen}
	s.info = pcapRing(dev, fd, snaplen, dev == "any")
	// Like every packet socket on lo or on every interface, libpcap's sees
	// a loopback packet twice, going out and coming in; it skips the first
	// copy but the kernel counts both. Rejecting it in the kernel keeps
	// the received and dropped counts in packets as the user sees them.
	if fd >= 0 {
		switch {
		case dev == "any":
			s.prefix = outgoingFilter(false, loopbackIndex())
		case isLoopback(dev):
			_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
		}
	}
	if filter != "" || s.prefix != nil {
		if err := s.SetFilter(filter); err != nil {
			h.Close()
			return nil, err
		}
	}
	return s, nil
}

// SetDirectionIn keeps only packets received by the host. ignore_outgoing
// does not use it (it must decode both halves of what the host serves; see
// streamPublisher); it stays for captures that want inbound packets only.
func SetDirectionIn(s Source) error {
	switch ps := s.(type) {
	case *pcapSource:
		if !ps.live {
			return nil
		}
		if ps.fd >= 0 {
			// In the kernel too: libpcap 1.10 filters direction in user
			// space, after the kernel copied and counted the packet.
			_ = unix.SetsockoptInt(ps.fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
		}
		return ps.h.SetDirection(pcap.DirectionIn)
	case *afpacketSource:
		ps.prefix = outgoingFilter(true, 0)
		return ps.SetFilter(ps.filter)
	case *multiSource:
		return ps.setDirectionIn()
	case *routeSource:
		ps.dirIn = true
		if ps.cur == nil {
			return nil // applied when a route appears
		}
		return SetDirectionIn(ps.cur)
	}
	return nil
}

func (s *pcapSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	switch {
	case err == nil:
	case errors.Is(err, pcap.NextErrorTimeoutExpired):
		return nil, ci, ErrTimeout
	case errors.Is(err, io.EOF), errors.Is(err, pcap.NextErrorNoMorePackets):
		return nil, ci, io.EOF
	default:
		// A file cut mid-record ends after what was readable
		// (io.ErrUnexpectedEOF); a damaged one is a *CorruptFileError
		// naming the record and offset. Either way the caller keeps every
		// event decoded before it.
		if !s.live {
			return nil, ci, classifyReadError(s.path, s.records, s.h.Error())
		}
		if s.dev != "any" {
			if _, ierr := net.InterfaceByName(s.dev); ierr != nil {
				return nil, ci, fmt.Errorf("interface %s %w (libpcap: %v)", s.dev, errDisappeared, err)
			}
		}
		return nil, ci, fmt.Errorf("interface %s: %w", s.dev, err)
	}
	if s.live {
		s.capBytes += uint64(len(data))
		s.pkts++
	}
	s.records++
	if s.pace {
		if s.firstPkt.IsZero() {
			s.firstPkt, s.firstWall = ci.Timestamp, time.Now()
		} else if wait := ci.Timestamp.Sub(s.firstPkt) - time.Since(s.firstWall); wait > 0 {
			time.Sleep(wait)
		}
	}
	return data, ci, nil
}

// SetFilter replaces the BPF filter of the open handle (a reconfiguration
// that changed the protocols' ports). Only the capture goroutine calls it.
func (s *pcapSource) SetFilter(filter string) error {
	if s.prefix != nil {
		return s.setPrefixedFilter(filter)
	}
	// An empty expression compiles to "accept all", which is what no
	// filter means.
	if err := s.h.SetBPFFilter(filter); err != nil {
		return fmt.Errorf("BPF filter %q: %w", filter, err)
	}
	return nil
}

// setPrefixedFilter attaches prefix followed by the compiled expression to
// libpcap's socket itself. Through pcap_setfilter libpcap would also run the
// program in user space on the blocks already in the ring, where the
// prefix's metadata loads do not exist and reject every packet; attached
// directly, libpcap has no filter of its own and passes what the kernel
// accepted.
func (s *pcapSource) setPrefixedFilter(filter string) error {
	prog, err := assembleFilter(s.prefix, filter, s.h.SnapLen(), s.dev == "any", func() ([]pcap.BPFInstruction, error) {
		return s.h.CompileBPFFilter(filter)
	})
	if err != nil {
		return err
	}
	if err := attachFilter(s.fd, prog); err != nil {
		return fmt.Errorf("BPF filter %q on %s: %w", filter, s.dev, err)
	}
	return nil
}

// Ring describes libpcap's ring with the fill figures seen so far.
func (s *pcapSource) Ring() *RingInfo {
	if !s.live {
		return nil
	}
	ri := s.info
	ri.withCapacity(v3MacOffset(s.dev == "any", 14), s.capBytes, s.pkts)
	// libpcap waits quietly while the interface is down (and resumes when
	// it is up): say so.
	if s.dev != "any" && !ifaceUp(s.dev) {
		ri.State = "interface " + s.dev + " is down"
	}
	return &ri
}

func (s *pcapSource) LinkType() layers.LinkType { return s.h.LinkType() }

func (s *pcapSource) PcapStats() (uint64, uint64, uint64, bool) {
	if !s.live {
		return 0, 0, 0, false
	}
	st, err := s.h.Stats()
	if err != nil {
		return 0, 0, 0, false
	}
	return uint64(st.PacketsReceived), uint64(st.PacketsDropped), uint64(st.PacketsIfDropped), true
}

func (s *pcapSource) Close() { s.h.Close() }

// Devices lists capture devices with their addresses, for `network-traffic
// devices`: "N: name ...", where N is the index a device option may give
// instead of the name, then the default_route names that resolve.
func Devices() ([]string, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(devs))
	for i, d := range devs {
		var addrs []string
		for _, a := range d.Addresses {
			addrs = append(addrs, a.IP.String())
		}
		line := fmt.Sprintf("%d: %s", i, d.Name)
		if d.Description != "" {
			line += " (" + d.Description + ")"
		}
		if len(addrs) > 0 {
			line += " [" + strings.Join(addrs, " ") + "]"
		}
		out = append(out, line)
	}
	// The other names a device option takes, with what they stand for now.
	for _, name := range []string{devDefaultRoute, devDefaultRoute4, devDefaultRoute6} {
		if dev, err := defaultRouteDevice(name); err == nil {
			out = append(out, name+" -> "+dev)
		}
	}
	return out, nil
}
