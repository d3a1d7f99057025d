package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

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
	// Pacing for file replay at recorded speed.
	pace      bool
	firstPkt  time.Time
	firstWall time.Time
}

// OpenSource opens a live device or a pcap/pcapng file as the interface
// config says. filter is the BPF expression ("" for none).
func OpenSource(iface config.Interface, filter string) (Source, error) {
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
			return newPrefetchSource(&pcapSource{h: h, path: iface.File}), nil
		}
		return &pcapSource{h: h, pace: true, path: iface.File}, nil
	}
	dev := iface.Device
	if dev == "" {
		dev = "any"
	}
	if err := checkDevice(dev); err != nil {
		return nil, err
	}
	in, err := pcap.NewInactiveHandle(dev)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", dev, err)
	}
	defer in.CleanUp()
	snaplen := iface.Snaplen
	if snaplen <= 0 {
		snaplen = 65535
	}
	bufMB := iface.BufferSizeMB
	if bufMB <= 0 {
		bufMB = 30
	}
	if err := in.SetSnapLen(snaplen); err != nil {
		return nil, err
	}
	if err := in.SetPromisc(iface.Promiscuous); err != nil {
		return nil, err
	}
	if err := in.SetTimeout(200 * time.Millisecond); err != nil {
		return nil, err
	}
	if err := in.SetBufferSize(bufMB << 20); err != nil {
		return nil, err
	}
	// Immediate mode hands packets over as they arrive instead of when the
	// kernel buffer block fills, which keeps latency and timers honest.
	_ = in.SetImmediateMode(true)
	h, err := in.Activate()
	if err != nil {
		if strings.Contains(err.Error(), "ermission") {
			return nil, fmt.Errorf("no permission to capture on %s: run as root or grant CAP_NET_RAW and CAP_NET_ADMIN (%v)", dev, err)
		}
		return nil, fmt.Errorf("activate capture on %s: %w", dev, err)
	}
	if filter != "" {
		if err := h.SetBPFFilter(filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("BPF filter %q: %w", filter, err)
		}
	}
	return &pcapSource{h: h, live: true}, nil
}

func checkDevice(dev string) error {
	if dev == "any" {
		return nil
	}
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		if d.Name == dev {
			return nil
		}
		names = append(names, d.Name)
	}
	return fmt.Errorf("unknown interface %q (available: %s)", dev, strings.Join(names, ", "))
}

// SetDirectionIn keeps only packets received by the host (ignore_outgoing).
func SetDirectionIn(s Source) error {
	ps, ok := s.(*pcapSource)
	if !ok || !ps.live {
		return nil
	}
	return ps.h.SetDirection(pcap.DirectionIn)
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
		return nil, ci, err
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
	// An empty expression compiles to "accept all", which is what no
	// filter means.
	if err := s.h.SetBPFFilter(filter); err != nil {
		return fmt.Errorf("BPF filter %q: %w", filter, err)
	}
	return nil
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

// Devices lists capture devices with their addresses, for `network-traffic devices`.
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
	return out, nil
}
