package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"

	_ "github.com/network-traffic/network-traffic/decoders/all"
)

// seedCapture is one real capture under _dev/pcaps, in memory.
type seedCapture struct {
	name   string
	link   layers.LinkType
	frames [][]byte
	cis    []gopacket.CaptureInfo
}

var (
	seedOnce sync.Once
	seeds    []seedCapture
)

// loadSeeds reads every small capture of _dev/pcaps (real traffic of every
// protocol, link type and tunnel we have): the fuzzer mutates them rather
// than random bytes, so its inputs get past the link and IP layers.
func loadSeeds(tb testing.TB) []seedCapture {
	seedOnce.Do(func() {
		paths, _ := filepath.Glob("../../_dev/pcaps/*/*.pcap")
		more, _ := filepath.Glob("../../_dev/pcaps/*.pcap")
		paths = append(paths, more...)
		sort.Strings(paths)
		for _, p := range paths {
			if info, err := os.Stat(p); err != nil || info.Size() > 64<<10 {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			r, err := pcapgo.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			s := seedCapture{name: filepath.Base(p), link: r.LinkType()}
			if ipOffset(s.link, make([]byte, 64)) < 0 {
				f.Close() // a link type pcapgo cannot carry (SLL2)
				continue
			}
			for {
				data, ci, err := r.ReadPacketData()
				if err != nil {
					break
				}
				s.frames = append(s.frames, data)
				s.cis = append(s.cis, ci)
			}
			f.Close()
			if len(s.frames) > 0 {
				seeds = append(seeds, s)
			}
		}
	})
	if len(seeds) == 0 {
		tb.Skip("no captures under _dev/pcaps")
	}
	return seeds
}

// ipOffset finds the IP header in a frame of the seed's link type (-1: none).
func ipOffset(link layers.LinkType, b []byte) int {
	off := -1
	switch link {
	case layers.LinkTypeEthernet:
		off = 14
		for off <= len(b) && off >= 2 && (binary.BigEndian.Uint16(b[off-2:]) == 0x8100 || binary.BigEndian.Uint16(b[off-2:]) == 0x88a8) {
			off += 4
		}
	case layers.LinkTypeLinuxSLL:
		off = 16
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		off = 4
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		off = 0
	}
	if off < 0 || off >= len(b) {
		return -1
	}
	return off
}

// l4Offset returns the transport header offset and protocol of an IPv4 or
// IPv6 packet at ip (-1 when there is none).
func l4Offset(b []byte, ip int) (int, byte) {
	if ip < 0 || ip >= len(b) {
		return -1, 0
	}
	switch b[ip] >> 4 {
	case 4:
		hl := int(b[ip]&0x0f) * 4
		if ip+hl > len(b) || ip+10 > len(b) {
			return -1, 0
		}
		return ip + hl, b[ip+9]
	case 6:
		if ip+40 > len(b) {
			return -1, 0
		}
		return ip + 40, b[ip+6]
	}
	return -1, 0
}

// protocolPorts are the default ports of the protocols, so a port mutation
// hands a connection to another decoder.
var protocolPorts = []uint16{53, 67, 68, 80, 443, 2049, 3306, 5060, 5432, 5672, 6379, 8080, 9042, 9090, 11211, 27017, 4789, 6081, 2152}

// mutate applies 4-byte operations that understand the wire: TCP sequence
// and acknowledgement numbers (by small steps and by 2^31), IP and UDP
// length fields, ports, truncation, reordering, duplication, deletion,
// fragment fields, TCP flags and payload bytes.
func mutate(link layers.LinkType, frames [][]byte, ops []byte) [][]byte {
	out := make([][]byte, len(frames))
	for i, f := range frames {
		out[i] = append([]byte(nil), f...)
	}
	for len(ops) >= 4 && len(out) > 0 {
		kind, idx, a, b := ops[0], int(ops[1])%len(out), ops[2], ops[3]
		ops = ops[4:]
		fr := out[idx]
		ip := ipOffset(link, fr)
		l4, proto := l4Offset(fr, ip)
		arg16 := uint16(a)<<8 | uint16(b)
		switch kind % 12 {
		case 0: // TCP seq: small step, 2^31, or anything
			if proto == 6 && l4+8 <= len(fr) {
				seq := binary.BigEndian.Uint32(fr[l4+4:])
				steps := []uint32{1, 1 << 31, 1<<31 - 1, 1<<31 + 1, 0xffffffff, uint32(arg16), uint32(arg16) << 16}
				binary.BigEndian.PutUint32(fr[l4+4:], seq+steps[int(a)%len(steps)])
			}
		case 1: // TCP ack
			if proto == 6 && l4+12 <= len(fr) {
				ack := binary.BigEndian.Uint32(fr[l4+8:])
				binary.BigEndian.PutUint32(fr[l4+8:], ack+uint32(arg16)<<uint(b%17))
			}
		case 2: // IP total / payload length
			if ip >= 0 && ip+6 <= len(fr) {
				if fr[ip]>>4 == 4 {
					binary.BigEndian.PutUint16(fr[ip+2:], arg16)
				} else {
					binary.BigEndian.PutUint16(fr[ip+4:], arg16)
				}
			}
		case 3: // UDP length
			if proto == 17 && l4+6 <= len(fr) {
				binary.BigEndian.PutUint16(fr[l4+4:], arg16)
			}
		case 4: // a port to another protocol's
			if (proto == 6 || proto == 17) && l4+4 <= len(fr) {
				binary.BigEndian.PutUint16(fr[l4+int(b&1)*2:], protocolPorts[int(a)%len(protocolPorts)])
			}
		case 5: // truncate
			out[idx] = fr[:int(arg16)%(len(fr)+1)]
		case 6: // overwrite a payload byte (after the transport header when known)
			start := max(l4, 0)
			if start < len(fr) {
				fr[start+int(a)%(len(fr)-start)] = b
			}
		case 7: // duplicate
			out = append(out[:idx+1], append([][]byte{append([]byte(nil), fr...)}, out[idx+1:]...)...)
		case 8: // delete
			if len(out) > 1 {
				out = append(out[:idx], out[idx+1:]...)
			}
		case 9: // swap with another frame
			j := int(a) % len(out)
			out[idx], out[j] = out[j], out[idx]
		case 10: // IPv4 fragment flags and offset
			if ip >= 0 && ip+8 <= len(fr) && fr[ip]>>4 == 4 {
				binary.BigEndian.PutUint16(fr[ip+6:], arg16)
			}
		case 11: // TCP flags and data offset
			if proto == 6 && l4+14 <= len(fr) {
				fr[l4+12+int(b&1)] = a
			}
		}
	}
	return out
}

type nullSink struct{}

func (nullSink) Send(output.Doc) {}

// FuzzPipeline runs mutated real captures through the whole pipeline the
// binary runs (file source, link decoder, fragment reassembly, TCP
// reassembly, every protocol, flows, ICMP, event encoding). Any panic
// fails, including the parser panics production would recover from.
func FuzzPipeline(f *testing.F) {
	ss := loadSeeds(f)
	for i := range ss {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 3, 1, 0, 4, 2, 7, 1, 9, 1, 2, 0})
		f.Add(uint8(i), []byte{5, 4, 0, 40, 2, 5, 0xff, 0xff, 10, 1, 0x20, 0x01})
	}
	streams := []any{
		map[string]any{"id": "flow", "type": "flow"},
		map[string]any{"id": "icmp", "type": "icmp"},
	}
	for _, n := range protocol.Names() {
		if n == "panicky" || n == "nttest" {
			continue // test-only protocols that panic or fail on purpose
		}
		streams = append(streams, map[string]any{"id": n, "type": n})
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, ops []byte) {
		s := ss[int(which)%len(ss)]
		frames := mutate(s.link, s.frames, ops)
		path := filepath.Join(dir, "in.pcap")
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := pcapgo.NewWriter(fh)
		if err := w.WriteFileHeader(262144, s.link); err != nil {
			t.Fatal(err)
		}
		for i, fr := range frames {
			ci := s.cis[min(i, len(s.cis)-1)]
			ci.CaptureLength, ci.Length = len(fr), max(len(fr), ci.Length)
			if err := w.WritePacket(ci, fr); err != nil {
				t.Fatal(err)
			}
		}
		fh.Close()
		var list []any
		for _, st := range streams {
			m := map[string]any{}
			for k, v := range st.(map[string]any) {
				m[k] = v
			}
			m["interface"] = map[string]any{"file": path, "top_speed": true}
			list = append(list, m)
		}
		in, err := config.Parse(map[string]any{"type": "packet", "streams": list})
		if err != nil {
			t.Fatal(err)
		}
		wk, err := New(in, nullSink{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = wk.Run(context.Background())
		var pe *PanicError
		if errors.As(err, &pe) {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := wk.Stats().ParserPanics; n > 0 {
			t.Fatalf("%s: %d parser panics (see the log for the stack)", s.name, n)
		}
	})
}
