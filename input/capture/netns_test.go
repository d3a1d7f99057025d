package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
	"github.com/network-traffic/network-traffic/internal/netnstest"
)

// Live tests on veth pairs between two network namespaces the test makes:
//
//	ns A (where the test re-runs itself)        ns B (frames are sent from here)
//	va 10.231.0.1/24   <-- veth -->   vb 10.231.0.2/24
//	vc 10.231.1.1/24   <-- veth -->   vd 10.231.1.2/24
//
// VLAN-tagged frames are sent with the tag in the frame (this test kernel has
// no 802.1Q devices, CONFIG_VLAN_8021Q); the receiving kernel moves the tag
// into the packet's metadata before any packet socket sees it, as a NIC with
// VLAN offload does, so the capture must take it from the ring.
//
// The capture runs in A on va (or vc); test frames are crafted UDP datagrams
// to 10.231.0.99, an address nobody has, so the kernel answers none of them
// and the only traffic is what the test sends.

const (
	envNetns = "NT_CAPTURE_NETNS" // "A B": set when running inside ns A
	testDst  = "10.231.0.99"
)

// inNetns reports whether the test runs inside ns A. Outside, it makes the
// namespaces, runs this same test in ns A, reports its result and returns
// false.
func inNetns(t *testing.T) bool {
	t.Helper()
	return netnstest.Enter(t, envNetns, "ntcap", nil,
		netnstest.Veth{Dev: "va", Peer: "vb", AddrA: "10.231.0.1/24", AddrB: "10.231.0.2/24"},
		netnstest.Veth{Dev: "vc", Peer: "vd", AddrA: "10.231.1.1/24", AddrB: "10.231.1.2/24"})
}

func nsB() string { return netnstest.PeerNS(envNetns) }

// sender is a raw packet socket on an interface of ns A or ns B.
type sender struct {
	fd      int
	ifindex int
	src     net.HardwareAddr
	pad     int // extra payload bytes after the marker
}

// newSender opens a packet socket on dev; with ns set, in that namespace (a
// socket stays in the namespace it was made in).
func newSender(t *testing.T, ns, dev string) *sender {
	t.Helper()
	s := &sender{}
	err := func() error {
		if ns != "" {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				return err
			}
			defer orig.Close()
			target, err := os.Open("/run/netns/" + ns)
			if err != nil {
				return err
			}
			defer target.Close()
			if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
				return err
			}
			defer unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
		}
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		s.ifindex, s.src = ifi.Index, ifi.HardwareAddr
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}()
	if err != nil {
		t.Fatalf("sender on %s %s: %v", ns, dev, err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

// send writes n UDP datagrams 10.231.0.2:sport -> 10.231.0.99:dport to dst
// MAC, each carrying a marker, the flow number and a sequence number.
func (s *sender) send(t *testing.T, dst net.HardwareAddr, flow, sport, dport, n int) {
	t.Helper()
	s.sendVLAN(t, dst, 0, flow, sport, dport, n)
}

// sendVLAN is send with an 802.1Q tag of vlan in each frame (0: none).
func (s *sender) sendVLAN(t *testing.T, dst net.HardwareAddr, vlan, flow, sport, dport, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		eth := &layers.Ethernet{SrcMAC: s.src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}
		var tag []gopacket.SerializableLayer
		if vlan > 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			tag = append(tag, &layers.Dot1Q{VLANIdentifier: uint16(vlan), Type: layers.EthernetTypeIPv4})
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.ParseIP("10.231.0.2").To4(), DstIP: net.ParseIP(testDst).To4()}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		udp.SetNetworkLayerForChecksum(ip)
		payload := make([]byte, 16+s.pad)
		copy(payload, "ntcap")
		binary.BigEndian.PutUint32(payload[8:], uint32(flow))
		binary.BigEndian.PutUint32(payload[12:], uint32(i))
		buf := gopacket.NewSerializeBuffer()
		ls := append(append([]gopacket.SerializableLayer{eth}, tag...), ip, udp, gopacket.Payload(payload))
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		to := &unix.SockaddrLinklayer{Ifindex: s.ifindex, Protocol: htons(unix.ETH_P_IP)}
		if err := unix.Sendto(s.fd, buf.Bytes(), 0, to); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// seen is one test datagram as the capture decoded it.
type seen struct {
	flow, seq        int
	sport, dport     int
	vlans            []uint16
	outgoing, tagged bool
}

// readMarked reads src until want test datagrams arrived or quiet passed
// without one, decoding each frame like the capture does.
func readMarked(t *testing.T, src Source, want int, quiet time.Duration) []seen {
	t.Helper()
	dec, err := link.NewDecoder(src.LinkType(), link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []seen
	var pkt link.Packet
	last := time.Now()
	for len(out) < want && time.Since(last) < quiet {
		data, ci, err := src.Next()
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		ok, derr := dec.Decode(data, ci, &pkt)
		if derr != nil || !ok || len(pkt.Payload) < 16 || string(pkt.Payload[:5]) != "ntcap" {
			continue
		}
		last = time.Now()
		s := seen{flow: int(binary.BigEndian.Uint32(pkt.Payload[8:])), seq: int(binary.BigEndian.Uint32(pkt.Payload[12:])),
			sport: int(pkt.SrcPort), dport: int(pkt.DstPort), vlans: append([]uint16(nil), pkt.VLANList()...)}
		s.tagged = src.LinkType() == layers.LinkTypeEthernet && len(data) > 14 && binary.BigEndian.Uint16(data[12:]) == 0x8100
		out = append(out, s)
	}
	return out
}

func macOf(t *testing.T, dev string) net.HardwareAddr {
	t.Helper()
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		t.Fatal(err)
	}
	return ifi.HardwareAddr
}

func openLive(t *testing.T, iface config.Interface, filter string) Source {
	t.Helper()
	src, err := OpenSource(iface, filter)
	if err != nil {
		t.Fatalf("open %s (%s): %v", iface.Device, iface.Type, err)
	}
	t.Cleanup(src.Close)
	return src
}

// Packets, VLAN tags, the BPF filter and ignore_outgoing, for both capture
// types, on a veth.
func TestLiveVeth(t *testing.T) {
	if !inNetns(t) {
		return
	}
	vaMAC := macOf(t, "va")
	fromB := newSender(t, nsB(), "vb")
	fromA := newSender(t, "", "va")
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			iface := config.Interface{Device: "va", Type: typ}

			t.Run("packets", func(t *testing.T) {
				src := openLive(t, iface, "")
				fromB.send(t, vaMAC, 1, 40000, 40001, 200)
				got := readMarked(t, src, 200, time.Second)
				if len(got) != 200 {
					t.Fatalf("captured %d of 200 datagrams", len(got))
				}
				for i, s := range got {
					if s.seq != i || s.sport != 40000 || s.dport != 40001 || len(s.vlans) != 0 {
						t.Fatalf("datagram %d: %+v", i, s)
					}
				}
				recv, drops, _, ok := src.PcapStats()
				if !ok || recv < 200 || drops != 0 {
					t.Errorf("kernel counters: received %d, dropped %d (ok %v)", recv, drops, ok)
				}
				ri := src.(ringReporter).Ring()
				if ri.Version != "TPACKET_V3" || ri.Blocks == 0 || ri.BlockSize == 0 || ri.RingBytes != int64(ri.Blocks)*int64(ri.BlockSize) ||
					ri.PacketsAtSnaplen == 0 || ri.PacketsAtMeanSize <= ri.PacketsAtSnaplen || ri.Device != "va" || ri.Type != typ {
					t.Errorf("ring %+v", ri)
				}
				t.Logf("ring %+v", *ri)
			})

			t.Run("snaplen", func(t *testing.T) {
				short := iface
				short.Snaplen = 80
				src := openLive(t, short, "udp")
				big := newSender(t, nsB(), "vb")
				big.pad = 1000
				big.send(t, vaMAC, 9, 40000, 40005, 10)
				n := 0
				deadline := time.Now().Add(time.Second)
				for n < 10 && time.Now().Before(deadline) {
					data, ci, err := src.Next()
					if errors.Is(err, ErrTimeout) {
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if len(data) != 80 || ci.CaptureLength != 80 || ci.Length != 14+20+8+16+1000 {
						t.Fatalf("frame of %d bytes, capture length %d, length %d; want 80, 80, %d", len(data), ci.CaptureLength, ci.Length, 14+20+8+16+1000)
					}
					n++
				}
				if n != 10 {
					t.Fatalf("%d of 10 frames", n)
				}
			})

			t.Run("promiscuous", func(t *testing.T) {
				promisc := func() bool {
					raw, _ := os.ReadFile("/sys/class/net/va/flags")
					var f uint32
					fmt.Sscanf(strings.TrimSpace(string(raw)), "0x%x", &f)
					return f&unix.IFF_PROMISC != 0
				}
				p := iface
				p.Promiscuous = true
				src := openLive(t, p, "")
				if !promisc() {
					t.Fatal("va not promiscuous while captured with promiscuous: true")
				}
				src.Close()
				if promisc() {
					t.Fatal("va still promiscuous after the capture closed")
				}
			})

			t.Run("vlan", func(t *testing.T) {
				src := openLive(t, iface, "")
				fromB.sendVLAN(t, vaMAC, 10, 2, 40000, 40002, 50)
				got := readMarked(t, src, 50, time.Second)
				if len(got) != 50 {
					t.Fatalf("captured %d of 50 tagged datagrams", len(got))
				}
				for _, s := range got {
					if len(s.vlans) != 1 || s.vlans[0] != 10 || !s.tagged {
						t.Fatalf("datagram %+v: want VLAN 10 in the frame", s)
					}
				}
				// A filter on the tag, which the kernel filter finds in
				// the packet's metadata, not in the frame.
				byTag := openLive(t, iface, "vlan 10 and udp")
				fromB.sendVLAN(t, vaMAC, 10, 3, 40000, 40003, 20)
				fromB.sendVLAN(t, vaMAC, 11, 4, 40000, 40003, 20)
				fromB.send(t, vaMAC, 5, 40000, 40003, 20)
				got = readMarked(t, byTag, 60, time.Second)
				if len(got) != 20 {
					t.Fatalf("filter vlan 10: %d datagrams, want 20", len(got))
				}
				for _, s := range got {
					if s.flow != 3 {
						t.Fatalf("filter vlan 10 let through %+v", s)
					}
				}
			})

			t.Run("bpf_filter", func(t *testing.T) {
				src := openLive(t, iface, "udp dst port 40011")
				fromB.send(t, vaMAC, 3, 40000, 40010, 50)
				fromB.send(t, vaMAC, 4, 40000, 40011, 50)
				got := readMarked(t, src, 100, time.Second)
				if len(got) != 50 {
					t.Fatalf("captured %d datagrams, want the 50 to port 40011", len(got))
				}
				for _, s := range got {
					if s.dport != 40011 {
						t.Fatalf("filter let through %+v", s)
					}
				}
				if recv, _, _, _ := src.PcapStats(); recv != 50 {
					t.Errorf("kernel received %d, want 50: rejected packets are filtered in the kernel", recv)
				}
				// A reconfiguration swaps the filter on the open socket.
				if err := src.(interface{ SetFilter(string) error }).SetFilter("udp dst port 40010"); err != nil {
					t.Fatal(err)
				}
				fromB.send(t, vaMAC, 5, 40000, 40011, 10)
				fromB.send(t, vaMAC, 6, 40000, 40010, 10)
				got = readMarked(t, src, 20, time.Second)
				if len(got) != 10 || got[0].dport != 40010 {
					t.Fatalf("after SetFilter: %d datagrams %+v", len(got), got)
				}
			})

			t.Run("ignore_outgoing", func(t *testing.T) {
				both := openLive(t, iface, "udp")
				in := openLive(t, iface, "udp")
				if err := SetDirectionIn(in); err != nil {
					t.Fatal(err)
				}
				fromB.send(t, vaMAC, 7, 40000, 40020, 30)
				fromA.send(t, macOf(t, "va"), 8, 40000, 40021, 30) // leaves va: outgoing
				gotIn := readMarked(t, in, 60, time.Second)
				gotBoth := readMarked(t, both, 60, time.Second)
				if len(gotBoth) != 60 {
					t.Errorf("without ignore_outgoing: %d of 60 datagrams", len(gotBoth))
				}
				if len(gotIn) != 30 {
					t.Fatalf("with ignore_outgoing: %d datagrams, want the 30 received", len(gotIn))
				}
				for _, s := range gotIn {
					if s.flow != 7 {
						t.Fatalf("outgoing datagram captured: %+v", s)
					}
				}
			})
		})
	}
}

// Two af_packet sockets in one fanout group split a set of flows: every
// datagram is captured once, every flow by one socket only.
func TestLiveFanout(t *testing.T) {
	if !inNetns(t) {
		return
	}
	vaMAC := macOf(t, "va")
	fromB := newSender(t, nsB(), "vb")
	iface := config.Interface{Device: "va", Type: config.TypeAFPacket, Fanout: true, FanoutGroup: 4242}
	srcs := []Source{openLive(t, iface, "udp"), openLive(t, iface, "udp")}
	const flows, per = 64, 20
	for f := 0; f < flows; f++ {
		fromB.send(t, vaMAC, f, 41000+f, 42000, per)
	}
	type res struct {
		got []seen
	}
	done := make(chan res, 2)
	for _, s := range srcs {
		go func(s Source) {
			done <- res{readMarked(t, s, flows*per, 1500*time.Millisecond)}
		}(s)
	}
	owner := map[int]int{}
	seenPkt := map[[2]int]bool{}
	total := 0
	for i := 0; i < 2; i++ {
		r := <-done
		if len(r.got) == 0 {
			t.Errorf("a fanout member captured nothing")
		}
		sock := i
		for _, s := range r.got {
			k := [2]int{s.flow, s.seq}
			if seenPkt[k] {
				t.Fatalf("datagram %v captured twice", k)
			}
			seenPkt[k] = true
			if o, ok := owner[s.flow]; ok && o != sock {
				t.Fatalf("flow %d split between sockets", s.flow)
			}
			owner[s.flow] = sock
			total++
		}
		t.Logf("socket %d: %d datagrams", i, len(r.got))
	}
	if total != flows*per {
		t.Fatalf("captured %d of %d datagrams", total, flows*per)
	}
	for _, s := range srcs {
		if _, drops, _, _ := s.PcapStats(); drops != 0 {
			t.Errorf("kernel drops %d", drops)
		}
	}
}

// Bad input: a fanout group in another mode, a ring that cannot be
// allocated, an interface that disappears mid-capture, unknown devices.
func TestLiveBadInput(t *testing.T) {
	if !inNetns(t) {
		return
	}
	t.Run("fanout_other_mode", func(t *testing.T) {
		other := newSender(t, "", "va")
		sll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: other.ifindex}
		if err := unix.Bind(other.fd, sll); err != nil {
			t.Fatal(err)
		}
		if err := unix.SetsockoptInt(other.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, 77|unix.PACKET_FANOUT_LB<<16); err != nil {
			t.Fatal(err)
		}
		_, err := OpenSource(config.Interface{Device: "va", Type: config.TypeAFPacket, Fanout: true, FanoutGroup: 77}, "")
		if err == nil || !strings.Contains(err.Error(), "fanout_group 77") || !strings.Contains(err.Error(), "va") || !strings.Contains(err.Error(), "another mode") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ring_too_large", func(t *testing.T) {
		for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
			_, err := OpenSource(config.Interface{Device: "va", Type: typ, BufferSizeMB: 1 << 24}, "")
			if err == nil || !strings.Contains(err.Error(), "interface va") || !strings.Contains(err.Error(), "cannot be allocated") {
				t.Fatalf("%s: err = %v", typ, err)
			}
		}
	})
	t.Run("bad_filter", func(t *testing.T) {
		_, err := OpenSource(config.Interface{Device: "va", Type: config.TypeAFPacket}, "tcp port")
		if err == nil || !strings.Contains(err.Error(), `"tcp port"`) {
			t.Fatalf("err = %v", err)
		}
	})
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run("interface_disappears_"+typ, func(t *testing.T) {
			// The capture says the interface disappeared, waits, and
			// captures again when an interface of that name is back.
			dev, peer := "vx"+typ[:2], "vy"+typ[:2]
			mk := func() { netnstest.AddVeth(t, "", nsB(), netnstest.Veth{Dev: dev, Peer: peer}) }
			mk()
			src, err := OpenSource(config.Interface{Device: dev, Type: typ}, "udp")
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			exec.Command("ip", "link", "del", dev).Run()
			state := ""
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && !strings.Contains(state, "disappeared") {
				if _, _, err := src.Next(); err != nil && !errors.Is(err, ErrTimeout) {
					t.Fatalf("read after the interface was deleted: %v", err)
				}
				state = src.(ringReporter).Ring().State
			}
			if !strings.Contains(state, "interface "+dev+" disappeared during the capture") {
				t.Fatalf("ring state %q", state)
			}
			t.Logf("%s: %s", typ, state)
			mk()
			deadline = time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && src.(ringReporter).Ring().State != "" {
				src.Next()
			}
			if st := src.(ringReporter).Ring().State; st != "" {
				t.Fatalf("state %q after the interface came back", st)
			}
			newSender(t, nsB(), peer).send(t, macOf(t, dev), 1, 40500, 40501, 10)
			if got := readMarked(t, src, 10, time.Second); len(got) != 10 {
				t.Fatalf("after the interface came back: %d of 10", len(got))
			}
		})
	}
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run("interface_down_up_"+typ, func(t *testing.T) {
			src := openLive(t, config.Interface{Device: "va", Type: typ}, "udp")
			exec.Command("ip", "link", "set", "va", "down").Run()
			for i := 0; i < 5; i++ {
				if _, _, err := src.Next(); err != nil && !errors.Is(err, ErrTimeout) {
					t.Fatalf("interface down: %v", err)
				}
			}
			if st := src.(ringReporter).Ring().State; !strings.Contains(st, "va is down") {
				t.Errorf("ring state %q while down", st)
			}
			if out, err := exec.Command("ip", "link", "set", "va", "up").CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			time.Sleep(100 * time.Millisecond)
			newSender(t, nsB(), "vb").send(t, macOf(t, "va"), 1, 40400, 40401, 10)
			if got := readMarked(t, src, 10, time.Second); len(got) != 10 {
				t.Fatalf("after up: %d of 10", len(got))
			}
			if st := src.(ringReporter).Ring().State; st != "" {
				t.Errorf("ring state %q after up", st)
			}
		})
	}
	t.Run("unknown_device", func(t *testing.T) {
		for _, dev := range []string{"nosuch0", "999"} {
			_, err := OpenSource(config.Interface{Device: dev, Type: config.TypeAFPacket}, "")
			if err == nil || !strings.Contains(err.Error(), dev) {
				t.Fatalf("%s: err = %v", dev, err)
			}
		}
	})
}

// Device names: a numeric index of the devices list, default_route, and
// poll_default_route following a changed default route.
func TestLiveDeviceNames(t *testing.T) {
	if !inNetns(t) {
		return
	}
	list, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range list {
		idx, rest, _ := strings.Cut(line, ": ")
		name, _, _ := strings.Cut(rest, " ")
		got, err := resolveDevice(idx)
		if err != nil || got != name {
			t.Fatalf("device %s: %q, %v (list line %q)", idx, got, err, line)
		}
	}
	if _, err := resolveDevice("default_route"); err == nil || !strings.Contains(err.Error(), "no default route") {
		t.Fatalf("no route: err = %v", err)
	}
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ip("route", "add", "default", "via", "10.231.0.2", "dev", "va")
	for _, d := range []string{"default_route", "default_route_ipv4"} {
		if got, err := resolveDevice(d); err != nil || got != "va" {
			t.Fatalf("%s: %q %v", d, got, err)
		}
	}
	if list, _ := Devices(); !strings.Contains(strings.Join(list, "\n"), "default_route_ipv4 -> va") {
		t.Errorf("devices list: %q", list)
	}
	if _, err := resolveDevice("default_route_ipv6"); err == nil {
		t.Fatalf("default_route_ipv6 resolved with IPv6 off")
	}

	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			// No default route yet: the capture waits for one, and says so.
			exec.Command("ip", "route", "del", "default").Run()
			src := openLive(t, config.Interface{Device: "default_route", Type: typ, PollDefaultRoute: 100 * time.Millisecond}, "udp")
			if st := src.(ringReporter).Ring().State; !strings.Contains(st, "no default route") {
				t.Errorf("state without a route: %q", st)
			}
			if _, _, err := src.Next(); !errors.Is(err, ErrTimeout) {
				t.Fatalf("read without a route: %v", err)
			}
			ip("route", "replace", "default", "via", "10.231.0.2", "dev", "va")
			deadline := time.Now().Add(2 * time.Second)
			for src.(*routeSource).Device() != "va" && time.Now().Before(deadline) {
				src.Next()
			}
			if d := src.(*routeSource).Device(); d != "va" {
				t.Fatalf("capturing on %q after a route via va appeared", d)
			}
			newSender(t, nsB(), "vb").send(t, macOf(t, "va"), 1, 40000, 40030, 10)
			if got := readMarked(t, src, 10, time.Second); len(got) != 10 {
				t.Fatalf("on va: %d of 10", len(got))
			}
			ip("route", "replace", "default", "via", "10.231.1.2", "dev", "vc")
			deadline = time.Now().Add(2 * time.Second)
			for src.(*routeSource).Device() != "vc" && time.Now().Before(deadline) {
				src.Next()
			}
			if d := src.(*routeSource).Device(); d != "vc" {
				t.Fatalf("still capturing on %s after the route moved to vc", d)
			}
			newSender(t, nsB(), "vd").send(t, macOf(t, "vc"), 2, 40000, 40031, 10)
			got := readMarked(t, src, 10, time.Second)
			if len(got) != 10 || got[0].flow != 2 {
				t.Fatalf("on vc: %d of 10 (%+v)", len(got), got)
			}
			if ri := src.(ringReporter).Ring(); ri.Device != "vc" || ri.State != "" {
				t.Errorf("ring after the move: %+v", ri)
			}
		})
	}
}

// On lo and on every interface ("any") a loopback packet reaches packet
// sockets twice, going out and coming back in; it is captured and counted
// once, with a filter compiled for the cooked header the kernel never sees.
func TestLiveLoopbackAndAny(t *testing.T) {
	if !inNetns(t) {
		return
	}
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		for _, dev := range []string{"lo", "any"} {
			t.Run(typ+"_"+dev, func(t *testing.T) {
				src := openLive(t, config.Interface{Device: dev, Type: typ}, "udp dst port 45000")
				ln, err := net.ListenPacket("udp", "127.0.0.1:45000") // no port unreachable answers
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				c, err := net.Dial("udp", "127.0.0.1:45000")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				for i := 0; i < 20; i++ {
					msg := make([]byte, 16)
					copy(msg, "ntcap")
					binary.BigEndian.PutUint32(msg[12:], uint32(i))
					if _, err := c.Write(msg); err != nil {
						t.Fatal(err)
					}
				}
				got := readMarked(t, src, 40, time.Second)
				if len(got) != 20 {
					t.Fatalf("captured %d datagrams, want 20", len(got))
				}
				for i, s := range got {
					if s.seq != i || s.dport != 45000 {
						t.Fatalf("datagram %d: %+v", i, s)
					}
				}
				if recv, drops, _, _ := src.PcapStats(); recv != 20 || drops != 0 {
					t.Errorf("kernel counters: %d received, %d dropped; want 20, 0", recv, drops)
				}
			})
		}
	}
}

// The whole worker on an af_packet capture: events come out, and the stats
// carry the ring and the kernel's counters (what -stats-json and the agent
// diagnostics show).
func TestLiveWorkerAFPacket(t *testing.T) {
	if !inNetns(t) {
		return
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "flow-1", "type": "flow", "period": "-1s",
			"interface": map[string]any{"device": "va", "type": "af_packet", "buffer_size_mb": 8, "bpf_filter": "udp"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &docsink.Sink{}
	w, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	fromB := newSender(t, nsB(), "vb")
	fromB.send(t, macOf(t, "va"), 1, 40100, 40101, 25)
	fromB.sendVLAN(t, macOf(t, "va"), 30, 2, 40100, 40102, 25)
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Packets != 50 || st.PcapReceived != 50 || st.PcapDropped != 0 {
		t.Errorf("packets %d, kernel received %d dropped %d; want 50, 50, 0", st.Packets, st.PcapReceived, st.PcapDropped)
	}
	if len(st.Rings) != 1 || st.Rings[0].Type != "af_packet" || st.Rings[0].Version != "TPACKET_V3" || st.Rings[0].RingBytes != 8<<20 {
		t.Errorf("rings %+v", st.Rings)
	}
	docs := sink.All()
	if len(docs) != 2 {
		t.Fatalf("want 2 flows, got %d: %v", len(docs), docs)
	}
	var vlanFlows int
	for _, d := range docs {
		if nw, ok := d["network"].(map[string]any); ok {
			if v, ok := nw["vlan"].(map[string]any); ok && v["id"] != nil {
				vlanFlows++
				if fmt.Sprint(v["id"]) != "30" {
					t.Errorf("vlan %v", v)
				}
			}
		}
	}
	if vlanFlows != 1 {
		t.Errorf("%d flows with a VLAN id, want 1: %v", vlanFlows, docs)
	}
}

// The capture loop reads af_packet frames without allocating.
func TestLiveAFPacketNoAlloc(t *testing.T) {
	if !inNetns(t) {
		return
	}
	src := openLive(t, config.Interface{Device: "va", Type: config.TypeAFPacket}, "udp")
	fromB := newSender(t, nsB(), "vb")
	fromB.send(t, macOf(t, "va"), 1, 40200, 40201, 300)
	fromB.sendVLAN(t, macOf(t, "va"), 5, 1, 40200, 40201, 300)
	time.Sleep(300 * time.Millisecond) // blocks retired
	allocs := testing.AllocsPerRun(500, func() {
		if _, _, err := src.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per packet", allocs)
	}
}

// On "any" frames are read cooked; a VLAN tag from the ring's metadata goes
// between the cooked header and the payload.
func TestLiveAnyVLAN(t *testing.T) {
	if !inNetns(t) {
		return
	}
	fromB := newSender(t, nsB(), "vb")
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			src := openLive(t, config.Interface{Device: "any", Type: typ}, "")
			if src.LinkType() != layers.LinkTypeLinuxSLL {
				t.Fatalf("link type %v", src.LinkType())
			}
			fromB.sendVLAN(t, macOf(t, "va"), 12, 1, 40300, 40301, 20)
			fromB.send(t, macOf(t, "va"), 2, 40300, 40302, 20)
			got := readMarked(t, src, 40, time.Second)
			if len(got) != 40 {
				t.Fatalf("captured %d of 40", len(got))
			}
			for _, s := range got {
				want := 0
				if s.flow == 1 {
					want = 12
				}
				if (want == 0 && len(s.vlans) != 0) || (want != 0 && (len(s.vlans) != 1 || int(s.vlans[0]) != want)) {
					t.Fatalf("datagram %+v, want VLAN %d", s, want)
				}
			}
		})
	}
}
