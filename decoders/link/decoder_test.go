package link

import (
	"errors"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// firstFrame returns the first frame of the Ethernet capture that satisfies
// keep, decoded once to check it.
func pickFrame(t *testing.T, keep func(p *Packet) bool) frame {
	t.Helper()
	lt, frames := readPcap(t, "eth_vlan_frag.pcap")
	d, _ := NewDecoder(lt, Options{})
	var p Packet
	for _, fr := range frames {
		if ok, _ := d.Decode(fr.data, fr.ci, &p); ok && keep(&p) {
			return fr
		}
	}
	t.Fatal("no such frame in capture")
	return frame{}
}

func TestEthernetPaddingTrimmed(t *testing.T) {
	// A bare TCP ACK with trailing bytes after the IP packet, as a NIC
	// delivers short frames padded to the Ethernet minimum (or with a
	// trailer): they must not show up as payload.
	fr := pickFrame(t, func(p *Packet) bool { return p.IPProto == 6 && p.IPVersion == 4 && len(p.Payload) == 0 })
	padded := append(append([]byte(nil), fr.data...), make([]byte, 8)...)
	d, _ := NewDecoder(layers.LinkTypeEthernet, Options{})
	var p Packet
	ok, err := d.Decode(padded, gopacket.CaptureInfo{CaptureLength: len(padded), Length: len(padded)}, &p)
	if !ok || err != nil || len(p.Payload) != 0 || p.IPLen != len(fr.data)-14 {
		t.Fatalf("ok %v err %v payload %d IPLen %d", ok, err, len(p.Payload), p.IPLen)
	}
}

func TestTruncatedFramesError(t *testing.T) {
	// Every prefix of real frames must decode to ok or to an error, never
	// panic, and a frame cut inside its headers or payload must be an error.
	lt, frames := readPcap(t, "eth_vlan_frag.pcap")
	var p Packet
	for i, fr := range frames {
		for n := 0; n < len(fr.data); n++ {
			d, _ := NewDecoder(lt, Options{})
			ok, err := d.Decode(fr.data[:n], fr.ci, &p)
			if ok {
				t.Fatalf("frame %d cut to %d bytes decoded ok", i+1, n)
			}
			var le *Error
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("frame %d: error %v is not a *link.Error", i+1, err)
			}
		}
	}
}

func TestImpossibleLengths(t *testing.T) {
	fr := pickFrame(t, func(p *Packet) bool { return p.IPProto == 6 && len(p.Payload) > 0 && p.IPVersion == 4 })
	cases := []struct {
		name   string
		mutate func(b []byte)
		want   error
	}{
		{"ihl below 5", func(b []byte) { b[14] = 0x44 }, errIPv4IHL},
		{"total length below header", func(b []byte) { b[16], b[17] = 0, 10 }, errIPv4TotalLen},
		{"total length beyond capture", func(b []byte) { b[16], b[17] = 0xff, 0xff }, errIPv4Truncated},
		{"tcp data offset below 5", func(b []byte) { b[14+20+12] = 0x40 }, errTCPOffset},
		{"tcp data offset beyond segment", func(b []byte) { b[14+20+12] = 0xf0; b[16], b[17] = 0, 40 }, errTCPOffset},
	}
	for _, c := range cases {
		b := append([]byte(nil), fr.data...)
		c.mutate(b)
		d, _ := NewDecoder(layers.LinkTypeEthernet, Options{})
		var p Packet
		ok, err := d.Decode(b, fr.ci, &p)
		if ok || err != c.want {
			t.Errorf("%s: ok %v err %v, want %v", c.name, ok, err, c.want)
		}
		if d.Stats().Truncated != 1 {
			t.Errorf("%s: Truncated = %d", c.name, d.Stats().Truncated)
		}
	}
}

func TestUnsupportedLinkType(t *testing.T) {
	if _, err := NewDecoder(layers.LinkTypePPP, Options{}); err == nil {
		t.Fatal("PPP accepted")
	}
}

// fragFrames returns the three frames of the first fragmented IPv4 ping.
func fragFrames(t *testing.T) []frame {
	_, frames := readPcap(t, "eth_vlan_frag.pcap")
	for i, fr := range frames {
		if len(fr.data) == 1294-4 && fr.data[12] == 8 && fr.data[13] == 0 && fr.data[14+6]&0x20 != 0 {
			return frames[i : i+3]
		}
	}
	t.Fatal("no fragmented ping")
	return nil
}

func TestFragmentOutOfOrderAndDuplicates(t *testing.T) {
	fs := fragFrames(t)
	d, _ := NewDecoder(layers.LinkTypeEthernet, Options{})
	var p Packet
	for _, i := range []int{2, 0, 0, 1} { // last first, a duplicate, the middle completes
		ok, err := d.Decode(fs[i].data, fs[i].ci, &p)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i == 1) {
			t.Fatalf("fragment %d: ok %v", i, ok)
		}
	}
	if p.ICMPType != 8 || len(p.Payload) != 3000 {
		t.Fatalf("reassembled type %d payload %d", p.ICMPType, len(p.Payload))
	}
	if st := d.Stats(); st.FragmentsReassembled != 1 || st.FragmentsPending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFragmentBounds(t *testing.T) {
	fs := fragFrames(t)
	var p Packet
	withID := func(fr frame, id uint16, ts time.Time) frame {
		b := append([]byte(nil), fr.data...)
		b[14+4], b[14+5] = byte(id>>8), byte(id)
		ci := fr.ci
		ci.Timestamp = ts
		return frame{b, ci}
	}
	dec := func(d *Decoder, fr frame) bool {
		ok, _ := d.Decode(fr.data, fr.ci, &p)
		return ok
	}
	t0 := fs[0].ci.Timestamp

	// Datagram count: the oldest pending datagram makes room.
	d, _ := NewDecoder(layers.LinkTypeEthernet, Options{MaxFragDatagrams: 2})
	for id := uint16(1); id <= 3; id++ {
		dec(d, withID(fs[0], id, t0))
	}
	if st := d.Stats(); st.FragmentsPending != 2 || st.FragmentsDropped != 1 {
		t.Fatalf("count bound: %+v", st)
	}
	dec(d, withID(fs[1], 1, t0)) // id 1 was evicted: its rest cannot complete
	if dec(d, withID(fs[2], 1, t0)) {
		t.Fatal("evicted datagram completed")
	}

	// Byte bound: two first fragments (1256 bytes each) do not fit in 2000.
	d, _ = NewDecoder(layers.LinkTypeEthernet, Options{MaxFragBytes: 2000})
	dec(d, withID(fs[0], 1, t0))
	dec(d, withID(fs[0], 2, t0))
	if st := d.Stats(); st.FragmentsPending != 1 || st.FragmentsDropped != 1 {
		t.Fatalf("byte bound: %+v", st)
	}

	// Timeout, in packet time.
	d, _ = NewDecoder(layers.LinkTypeEthernet, Options{FragTimeout: time.Second})
	dec(d, withID(fs[0], 1, t0))
	dec(d, withID(fs[1], 1, t0.Add(500*time.Millisecond)))
	if dec(d, withID(fs[2], 1, t0.Add(2*time.Second))) {
		t.Fatal("datagram completed after its timeout")
	}
	if st := d.Stats(); st.FragmentsDropped != 2 || st.FragmentsPending != 1 {
		t.Fatalf("timeout: %+v", st)
	}
}

// TestZeroAllocs decodes every frame of every capture, reassembly included,
// and requires no allocation once the decoder is warm.
func TestZeroAllocs(t *testing.T) {
	for _, name := range []string{"eth_vlan_frag.pcap", "sll_any.pcap", "sll2_any.pcap"} {
		lt, frames := readPcap(t, name)
		d, _ := NewDecoder(lt, Options{})
		var p Packet
		allocs := testing.AllocsPerRun(20, func() {
			for _, fr := range frames {
				d.Decode(fr.data, fr.ci, &p)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pass of %d frames", name, allocs, len(frames))
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	lt, frames := readPcap(b, "eth_vlan_frag.pcap")
	d, _ := NewDecoder(lt, Options{})
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fr := frames[i%len(frames)]
		d.Decode(fr.data, fr.ci, &p)
	}
}

// FuzzDecode feeds arbitrary bytes through every supported link type,
// seeded with the real frames of the captures. Any panic fails; decoded
// packets must describe a payload inside the frame or the decoder's buffer.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"eth_vlan_frag.pcap", "sll_any.pcap", "sll2_any.pcap"} {
		lt, frames := readPcap(f, name)
		for _, fr := range frames {
			f.Add(uint8(lt), fr.data)
		}
	}
	types := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6}
	decoders := map[layers.LinkType]*Decoder{}
	for _, lt := range types {
		decoders[lt], _ = NewDecoder(lt, Options{MaxFragDatagrams: 4, MaxFragBytes: 1 << 16})
	}
	f.Fuzz(func(t *testing.T, lt uint8, data []byte) {
		d := decoders[layers.LinkType(lt)]
		if d == nil {
			d = decoders[types[int(lt)%len(types)]]
		}
		var p Packet
		ok, err := d.Decode(data, gopacket.CaptureInfo{CaptureLength: len(data), Length: len(data)}, &p)
		if ok && err != nil {
			t.Fatal("ok with error")
		}
		if ok && (p.IPVersion != 4 && p.IPVersion != 6 || len(p.Payload) > p.IPLen) {
			t.Fatalf("inconsistent packet %+v", p)
		}
	})
}
