package link

import (
	"encoding/binary"
	"errors"
	"sort"
	"testing"

	"github.com/google/gopacket"
)

// greFrame returns the first TCP frame of the GRE capture and the offset
// of its outer IPv4 header (after Ethernet).
func greFrame(t testing.TB) []byte {
	t.Helper()
	_, frames := readPcap(t, tunnelDir+"gre.outer.pcap")
	for _, fr := range frames {
		d, _ := NewDecoder(1, Options{})
		var p Packet
		if ok, _ := d.Decode(fr.data, fr.ci, &p); ok && p.Tunnel.N == 1 && p.IPProto == 6 {
			return fr.data
		}
	}
	t.Fatal("no GRE TCP frame")
	return nil
}

// wrapGRE puts the IPv4 packet at frame[14:] inside one more IPv4+GRE
// (key 1000+level) header, as a GRE tunnel whose underlay is another GRE
// tunnel would.
func wrapGRE(frame []byte, level int) []byte {
	inner := frame[14:]
	out := append([]byte(nil), frame[:14]...)
	ip := make([]byte, 20)
	copy(ip, inner[:20]) // same addresses, version, TTL
	ip[0] = 0x45
	ip[9] = protoGRE
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(inner)))
	binary.BigEndian.PutUint16(ip[6:8], 0) // not a fragment
	out = append(out, ip...)
	out = binary.BigEndian.AppendUint16(out, greKey)
	out = binary.BigEndian.AppendUint16(out, 0x0800)
	out = binary.BigEndian.AppendUint32(out, uint32(1000+level))
	return append(out, inner...)
}

func ciOf(b []byte) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{CaptureLength: len(b), Length: len(b)}
}

// TestTunnelNestingBound: real GRE traffic wrapped in more GRE layers is
// decoded up to MaxDepth, with every layer recorded outer first; one level
// deeper is skipped and counted, not decoded as a half-opened packet.
func TestTunnelNestingBound(t *testing.T) {
	frame := greFrame(t)
	for _, maxDepth := range []int{1, 2, 4} {
		d, err := NewDecoder(1, Options{Tunnels: TunnelOptions{MaxDepth: maxDepth}})
		if err != nil {
			t.Fatal(err)
		}
		f := frame
		for depth := 1; depth <= 5; depth++ {
			var p Packet
			before := d.Stats().TunnelTooDeep
			ok, err := d.Decode(f, ciOf(f), &p)
			if err != nil {
				t.Fatalf("max %d depth %d: %v", maxDepth, depth, err)
			}
			if depth <= maxDepth {
				if !ok || int(p.Tunnel.N) != depth || p.IPProto != 6 || p.DstPort != 8080 && p.SrcPort != 8080 {
					t.Errorf("max %d depth %d: ok %v, %d layers, proto %d ports %d>%d", maxDepth, depth, ok, p.Tunnel.N, p.IPProto, p.SrcPort, p.DstPort)
				}
				// Outer first: the innermost layer is the capture's key 77.
				if p.Tunnel.Layers[depth-1].ID != 77 || depth > 1 && p.Tunnel.Layers[0].ID != uint32(1000+depth-1) {
					t.Errorf("max %d depth %d: layers %+v", maxDepth, depth, p.Tunnel.Layers[:p.Tunnel.N])
				}
			} else if ok || d.Stats().TunnelTooDeep != before+1 {
				t.Errorf("max %d depth %d: ok %v, TunnelTooDeep %d (was %d)", maxDepth, depth, ok, d.Stats().TunnelTooDeep, before)
			}
			f = wrapGRE(f, depth)
		}
	}
}

// TestGRELoop: a GRE packet that contains itself over and over (a routing
// loop between two GRE endpoints, or a crafted one, 2000 levels) costs at
// most MaxDepth layers of work and is counted.
func TestGRELoop(t *testing.T) {
	f := greFrame(t)
	for i := 0; i < 2000 && len(f) < 60000; i++ {
		f = wrapGRE(f, i)
	}
	d, _ := NewDecoder(1, Options{})
	var p Packet
	ok, err := d.Decode(f, ciOf(f), &p)
	if ok || err != nil || d.Stats().TunnelTooDeep != 1 || int(p.Tunnel.N) != 4 {
		t.Errorf("ok %v err %v stats %+v layers %d", ok, err, d.Stats(), p.Tunnel.N)
	}
	allocs := testing.AllocsPerRun(100, func() { d.Decode(f, ciOf(f), &p) })
	if allocs != 0 {
		t.Errorf("%v allocations per looping packet", allocs)
	}
	// The traffic around it is still decoded.
	g := greFrame(t)
	if ok, err := d.Decode(g, ciOf(g), &p); !ok || err != nil || p.Tunnel.N != 1 || p.IPProto != protoTCP {
		t.Errorf("after the loop: ok %v err %v layers %d", ok, err, p.Tunnel.N)
	}
}

// TestTunnelTruncated cuts every tunnelled frame of every capture at every
// length, keeping the outer IPv4/IPv6 and UDP lengths consistent with the
// cut so that the tunnel header itself is what is short. Nothing panics,
// every error is counted, and each encapsulation's own parser reports its
// truncated header.
func TestTunnelTruncated(t *testing.T) {
	wantLayer := map[string]string{
		"vxlan": "vxlan", "geneve": "geneve", "gre": "gre", "gretap": "gre", "erspan2": "erspan",
		"erspan3": "erspan", "gtpu": "gtpu", "mpls": "mpls", "pppoe": "pppoe", "vxlan-in-gre": "gre",
		"vxlan6": "vxlan", "mplsgre": "mpls", "mplsip": "mpls", "mplseth": "mpls", "pptp": "gre",
	}
	for _, tc := range tunnelCases {
		t.Run(tc.mode, func(t *testing.T) {
			lt, frames := readPcap(t, tunnelDir+tc.mode+".outer.pcap")
			d, _ := NewDecoder(lt, Options{})
			var p Packet
			layers := map[string]int{}
			errs := uint64(0)
			for _, fr := range frames {
				if ok, _ := d.Decode(fr.data, fr.ci, &p); !ok || p.Tunnel.N == 0 {
					continue
				}
				for n := 14; n < len(fr.data); n++ {
					cut := fixLengths(append([]byte(nil), fr.data[:n]...))
					ok, err := d.Decode(cut, ciOf(cut), &p)
					if err != nil {
						errs++
						var e *Error
						if !errors.As(err, &e) {
							t.Fatalf("error %v is not a *link.Error", err)
						}
						layers[e.Layer]++
					}
					if ok && (err != nil || len(p.Payload) > len(cut)) {
						t.Fatalf("cut at %d: ok with err %v or payload beyond the frame", n, err)
					}
				}
			}
			if st := d.Stats(); st.Truncated != errs {
				t.Errorf("Stats.Truncated %d, %d errors returned", st.Truncated, errs)
			}
			if w := wantLayer[tc.mode]; w != "" && layers[w] == 0 {
				t.Errorf("no %s error among %v", w, layers)
			}
		})
	}
}

// fixLengths rewrites the outer IPv4 or IPv6 length (and a UDP length
// right behind it) of an Ethernet frame to match its captured size.
func fixLengths(f []byte) []byte {
	if len(f) < 14 {
		return f
	}
	b := f[14:]
	var l4 []byte
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		if len(b) < 20 {
			return f
		}
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		if b[9] == protoUDP {
			l4 = b[20:]
		}
	case 0x86dd:
		if len(b) < 40 {
			return f
		}
		binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
		if b[6] == protoUDP {
			l4 = b[40:]
		}
	case 0x8864:
		if len(b) >= 6 {
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-6))
		}
	}
	if len(l4) >= 8 {
		binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
	}
	return f
}

// TestTunnelOptions: tunnels off, one UDP tunnel off, a tunnel moved to
// another port, and the configurations NewDecoder refuses.
func TestTunnelOptions(t *testing.T) {
	lt, frames := readPcap(t, tunnelDir+"vxlan.outer.pcap")
	count := func(o Options, port uint16) (tunnelled, udp4789 int) {
		d, err := NewDecoder(lt, o)
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		for _, fr := range frames {
			data := append([]byte(nil), fr.data...)
			if port != 0 && len(data) > 38 && binary.BigEndian.Uint16(data[36:38]) == 4789 {
				binary.BigEndian.PutUint16(data[36:38], port)
			}
			if ok, _ := d.Decode(data, fr.ci, &p); ok && p.Tunnel.N == 0 && p.IPProto == protoUDP && p.DstPort == 4789 {
				udp4789++
			}
		}
		// Decapsulated counts the VXLAN frames whose inner frame is not
		// IP (ARP) too.
		return int(d.Stats().Decapsulated), udp4789
	}
	on, plain := count(Options{}, 0)
	if on < 20 || plain != 0 {
		t.Fatalf("defaults: %d tunnelled, %d plain UDP 4789", on, plain)
	}
	if n, plain := count(Options{Tunnels: TunnelOptions{Disabled: true}}, 0); n != 0 || plain != on {
		t.Errorf("disabled: %d tunnelled, %d plain (want 0, %d)", n, plain, on)
	}
	if n, plain := count(Options{Tunnels: TunnelOptions{VXLANPorts: []uint16{}}}, 0); n != 0 || plain != on {
		t.Errorf("vxlan off: %d tunnelled, %d plain (want 0, %d)", n, plain, on)
	}
	if n, _ := count(Options{Tunnels: TunnelOptions{VXLANPorts: []uint16{8472}}}, 8472); n != on {
		t.Errorf("vxlan on 8472 (the Linux default): %d tunnelled, want %d", n, on)
	}
	if n, _ := count(Options{}, 8472); n != 0 {
		t.Errorf("8472 not configured: %d tunnelled, want 0", n)
	}
	for _, o := range []TunnelOptions{
		{MaxDepth: 5}, {MaxDepth: -1}, {VXLANPorts: []uint16{0}},
		{VXLANPorts: []uint16{6081}}, // Geneve's default
	} {
		if _, err := NewDecoder(lt, Options{Tunnels: o}); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// FuzzTunnels feeds arbitrary Ethernet frames, seeded with every frame of
// the tunnel captures, to decoders with a small nesting bound. Nothing may
// panic, and a decoded packet respects the bound and lies inside the frame.
func FuzzTunnels(f *testing.F) {
	for _, tc := range tunnelCases {
		_, frames := readPcap(f, tunnelDir+tc.mode+".outer.pcap")
		for _, fr := range frames {
			f.Add(fr.data)
		}
	}
	d2, _ := NewDecoder(1, Options{Tunnels: TunnelOptions{MaxDepth: 2}, MaxFragDatagrams: 4, MaxFragBytes: 1 << 16})
	d4, _ := NewDecoder(1, Options{MaxFragDatagrams: 4, MaxFragBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range []*Decoder{d2, d4} {
			var p Packet
			ok, err := d.Decode(data, ciOf(data), &p)
			if ok && err != nil {
				t.Fatal("ok with error")
			}
			if int(p.Tunnel.N) > d.opts.Tunnels.MaxDepth {
				t.Fatalf("%d layers past the bound %d", p.Tunnel.N, d.opts.Tunnels.MaxDepth)
			}
			if ok && (p.IPVersion != 4 && p.IPVersion != 6 || len(p.Payload) > p.IPLen || p.WireLen > len(data)+65535) {
				t.Fatalf("inconsistent packet %+v", p)
			}
		}
	})
}

// BenchmarkTunnelDecap decodes one HTTP request segment of each capture:
// from the underlay (outer) and as captured on the tunnel device (inner),
// so that outer minus inner is the cost of opening the tunnel.
func BenchmarkTunnelDecap(b *testing.B) {
	pick := func(name string) (frame, *Decoder) {
		lt, frames := readPcap(b, tunnelDir+name)
		d, _ := NewDecoder(lt, Options{})
		var p Packet
		for _, fr := range frames {
			if ok, _ := d.Decode(fr.data, fr.ci, &p); ok && p.IPProto == protoTCP && p.DstPort == 8080 && len(p.Payload) > 0 {
				return fr, d
			}
		}
		b.Fatalf("%s: no HTTP request segment", name)
		return frame{}, nil
	}
	for _, tc := range tunnelCases {
		for _, side := range []string{"outer", "inner"} {
			b.Run(tc.mode+"/"+side, func(b *testing.B) {
				fr, d := pick(tc.mode + "." + side + ".pcap")
				var p Packet
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					d.Decode(fr.data, fr.ci, &p)
				}
			})
		}
	}
}

// fragmentIPv4 splits the outer IPv4 packet of an Ethernet frame in two
// fragments, the first carrying at bytes of its payload (a multiple of 8).
func fragmentIPv4(f []byte, at int) [][]byte {
	ip := f[14:]
	ihl := int(ip[0]&0xf) * 4
	payload := ip[ihl:binary.BigEndian.Uint16(ip[2:4])]
	mk := func(part []byte, off int, more bool) []byte {
		out := append([]byte(nil), f[:14+ihl]...)
		h := out[14:]
		binary.BigEndian.PutUint16(h[2:4], uint16(ihl+len(part)))
		ff := uint16(off / 8)
		if more {
			ff |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:8], ff)
		return append(out, part...)
	}
	return [][]byte{mk(payload[:at], 0, true), mk(payload[at:], at, false)}
}

// TestTunnelOuterFragments: the GRE capture with every large underlay
// packet split in two outer fragments (an underlay MTU smaller than the
// tunnel's) decodes to the same inner packets, including the inner
// datagram that was itself fragmented inside the tunnel: outer and inner
// reassembly at once.
func TestTunnelOuterFragments(t *testing.T) {
	lt, frames := readPcap(t, tunnelDir+"gre.outer.pcap")
	want, _ := decodeAll(t, "gre.outer.pcap", true)
	d, _ := NewDecoder(lt, Options{})
	var p Packet
	var got []string
	split := 0
	for _, fr := range frames {
		pieces := [][]byte{fr.data}
		if len(fr.data) > 300 && binary.BigEndian.Uint16(fr.data[12:14]) == 0x0800 && fr.data[14+9] == protoGRE {
			pieces = fragmentIPv4(fr.data, 96)
			split++
		}
		for _, b := range pieces {
			if ok, _ := d.Decode(b, ciOf(b), &p); ok && p.Tunnel.N > 0 && !p.DstIP.IsMulticast() {
				got = append(got, summary(&p))
			}
		}
	}
	sort.Strings(got)
	if only, native := setDiff(got, want); len(only)+len(native) > 0 || split < 5 {
		t.Errorf("%d frames split; only with outer fragments:\n%v\nonly without:\n%v", split, only, native)
	}
	// Inner datagrams (the 2000-byte ping) plus every split frame.
	if st := d.Stats(); int(st.FragmentsReassembled) < split+2 || st.FragmentsPending != 0 {
		t.Errorf("stats %+v, %d frames split", st, split)
	}
}
