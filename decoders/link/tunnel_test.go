package link

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
)

// Tunnel captures come from _dev/capture/tunnels/capture.sh: <mode>.outer.pcap
// on the underlay, <mode>.inner.pcap on the tunnel device, and tshark's
// reading of the outer capture.
const tunnelDir = "../tunnels/"

type tunnelCase struct {
	mode  string
	types []string // expected layers, outer first
	// idField is tshark's field for the identifier of each layer ("" when
	// the layer has none); the first occurrence is the outermost.
	idFields []string
}

var tunnelCases = []tunnelCase{
	{"sit", []string{TunnelIPv6InIPv4}, []string{""}},
	{"vxlan", []string{TunnelVXLAN}, []string{"vxlan.vni"}},
	{"geneve", []string{TunnelGeneve}, []string{"geneve.vni"}},
	{"gre", []string{TunnelGRE}, []string{"gre.key"}},
	{"gretap", []string{TunnelGRE}, []string{"gre.key"}},
	{"erspan1", []string{TunnelERSPAN}, []string{""}},
	{"erspan2", []string{TunnelERSPAN}, []string{"erspan.spanid"}},
	{"erspan3", []string{TunnelERSPAN}, []string{"erspan.spanid"}},
	{"vxlan-in-gre", []string{TunnelGRE, TunnelVXLAN}, []string{"gre.key", "vxlan.vni"}},
	{"gtpu", []string{TunnelGTPU}, []string{"gtp.teid"}},
	{"mpls", []string{TunnelMPLS}, []string{"mpls.label"}},
	{"pppoe", []string{TunnelPPPoE}, []string{"pppoe.session_id"}},
	{"ipip", []string{TunnelIPv4InIPv4}, []string{""}},
	{"ip6ip6", []string{TunnelIPv6InIPv6}, []string{""}},
	{"ip4ip6", []string{TunnelIPv4InIPv6}, []string{""}},
	{"vxlan6", []string{TunnelVXLAN}, []string{"vxlan.vni"}},
	{"mplsgre", []string{TunnelGRE, TunnelMPLS}, []string{"", "mpls.label"}},
	{"mplseth", []string{TunnelMPLS}, []string{"mpls.label"}},
	{"mplsip", []string{TunnelMPLS}, []string{"mpls.label"}},
	{"pptp", []string{TunnelGRE}, []string{"gre.key.call_id"}},
}

// TestTunnelsMatchTshark decodes every frame of each outer capture and
// checks the tunnel layers (types, identifiers, outer endpoints) and the
// inner addresses (and TCP ports) of every decoded tunnelled packet, TCP,
// UDP or ICMP, against tshark's dissection of the same frame.
func TestTunnelsMatchTshark(t *testing.T) {
	for _, tc := range tunnelCases {
		t.Run(tc.mode, func(t *testing.T) {
			lt, frames := readPcap(t, tunnelDir+tc.mode+".outer.pcap")
			rows := readTSV(t, tunnelDir+tc.mode+".tshark.tsv")
			d, err := NewDecoder(lt, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			checked, tcp := 0, 0
			for i, fr := range frames {
				n := i + 1
				row := rows[n]
				ok, err := d.Decode(fr.data, fr.ci, &p)
				if err != nil {
					t.Errorf("frame %d: %v", n, err)
					continue
				}
				if row["tcp.srcport"] != "" && !ok {
					t.Errorf("frame %d: TCP not decoded", n)
					continue
				}
				// Every decoded tunnelled packet (TCP, UDP, ICMP) is
				// checked; frames we skip (ARP inside VXLAN, the
				// underlay's own traffic) are not.
				if !ok || p.Tunnel.N == 0 {
					continue
				}
				checked++
				if row["tcp.srcport"] != "" {
					tcp++
				}
				checkTunnel(t, n, &p, tc, row)
			}
			if tcp < 5 || checked < tcp+2 {
				t.Errorf("only %d frames checked, %d of them TCP", checked, tcp)
			}
			st := d.Stats()
			if st.Decapsulated == 0 || st.TunnelTooDeep != 0 || st.Truncated != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func occurrences(row map[string]string, field string) []string {
	if row[field] == "" {
		return nil
	}
	return strings.Split(row[field], ",")
}

func checkTunnel(t *testing.T, n int, p *Packet, tc tunnelCase, row map[string]string) {
	t.Helper()
	tun := &p.Tunnel
	var types []string
	for _, l := range tun.Layers[:tun.N] {
		types = append(types, l.Type)
	}
	if fmt.Sprint(types) != fmt.Sprint(tc.types) {
		t.Errorf("frame %d: tunnel types %v, want %v", n, types, tc.types)
		return
	}
	// IP headers tshark saw, outer first (v4 and v6 listed apart: the
	// tests' modes never mix the families within one nesting level order
	// beyond what the order of these lists shows).
	var addrs [][2]string
	src4, dst4 := occurrences(row, "ip.src"), occurrences(row, "ip.dst")
	src6, dst6 := occurrences(row, "ipv6.src"), occurrences(row, "ipv6.dst")
	outer6 := strings.HasSuffix(tc.mode, "6") // ip6ip6, ip4ip6, vxlan6
	if outer6 {
		for i := range src6 {
			addrs = append(addrs, [2]string{src6[i], dst6[i]})
		}
		for i := range src4 {
			addrs = append(addrs, [2]string{src4[i], dst4[i]})
		}
	} else {
		for i := range src4 {
			addrs = append(addrs, [2]string{src4[i], dst4[i]})
		}
		for i := range src6 {
			addrs = append(addrs, [2]string{src6[i], dst6[i]})
		}
	}
	ipLevel := 0
	idOcc := map[string]int{}
	for i, l := range tun.Layers[:tun.N] {
		if l.Src.IsValid() {
			if ipLevel >= len(addrs) {
				t.Errorf("frame %d: layer %d has endpoints, tshark saw %d IP headers", n, i, len(addrs))
				return
			}
			if got := [2]string{l.Src.String(), l.Dst.String()}; got != addrs[ipLevel] {
				t.Errorf("frame %d: layer %d endpoints %v, tshark %v", n, i, got, addrs[ipLevel])
			}
			ipLevel++
		}
		f := tc.idFields[i]
		if f == "" {
			if l.HasID {
				t.Errorf("frame %d: layer %d has id %d, want none", n, i, l.ID)
			}
			continue
		}
		ids := occurrences(row, f)
		k := idOcc[f]
		idOcc[f]++
		if k >= len(ids) {
			t.Errorf("frame %d: tshark has no %s #%d", n, f, k)
			continue
		}
		want, _ := strconv.ParseUint(ids[k], 0, 32)
		if !l.HasID || uint64(l.ID) != want {
			t.Errorf("frame %d: layer %d id %d (has %v), tshark %s %s", n, i, l.ID, l.HasID, f, ids[k])
		}
	}
	if labels := occurrences(row, "mpls.label"); len(labels) > 0 {
		var got []string
		for _, l := range tun.MPLS[:tun.NMPLS] {
			got = append(got, fmt.Sprint(l))
		}
		if fmt.Sprint(got) != fmt.Sprint(labels) {
			t.Errorf("frame %d: MPLS labels %v, tshark %v", n, got, labels)
		}
	}
	if v := row["erspan.version"]; v != "" && tun.Layers[0].Type == TunnelERSPAN {
		// tshark numbers ERSPAN versions from 0 (type I has no header, so
		// no field); our Version is the type.
		want, _ := strconv.Atoi(v)
		if got := tun.Layers[0].Version; int(got) != want+1 {
			t.Errorf("frame %d: ERSPAN type %d, tshark version %s", n, got, v)
		}
	}
	// The inner packet is the innermost IP header.
	if ipLevel >= len(addrs) {
		t.Errorf("frame %d: no inner IP header left", n)
		return
	}
	if got := [2]string{p.SrcIP.String(), p.DstIP.String()}; got != addrs[len(addrs)-1] {
		t.Errorf("frame %d: inner addresses %v, tshark %v", n, got, addrs[len(addrs)-1])
	}
	sp, dp := occurrences(row, "tcp.srcport"), occurrences(row, "tcp.dstport")
	if len(sp) == 0 {
		return
	}
	if fmt.Sprint(p.SrcPort) != sp[len(sp)-1] || fmt.Sprint(p.DstPort) != dp[len(dp)-1] {
		t.Errorf("frame %d: inner ports %d>%d, tshark %v>%v", n, p.SrcPort, p.DstPort, sp, dp)
	}
}

// summary is what must survive decapsulation unchanged: a packet as the
// tunnel's own interface shows it.
func summary(p *Packet) string {
	return fmt.Sprintf("%s>%s p%d %d>%d seq%d ack%d f%02x icmp%d/%d/%d len%d wire%d",
		p.SrcIP, p.DstIP, p.IPProto, p.SrcPort, p.DstPort, p.Seq, p.Ack, p.Flags,
		p.ICMPType, p.ICMPID, p.ICMPSeq, len(p.Payload), p.WireLen)
}

func decodeAll(t *testing.T, name string, tunnelled bool) (sums []string, st Stats) {
	t.Helper()
	lt, frames := readPcap(t, tunnelDir+name)
	d, err := NewDecoder(lt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for _, fr := range frames {
		ok, _ := d.Decode(fr.data, fr.ci, &p)
		// Left out: the underlay's own packets (MLD on the veth), and
		// IPv6 neighbour discovery and router solicitations, which the
		// tunnel device emits whether or not the tunnel carries IPv6
		// (ipip, ip4ip6 do not).
		if !ok || (tunnelled && p.Tunnel.N == 0) || p.DstIP.IsMulticast() {
			continue
		}
		sums = append(sums, summary(&p))
	}
	sort.Strings(sums)
	return sums, d.Stats()
}

// TestTunnelsInnerEqualsNative: the packets decapsulated from the underlay
// capture are the packets captured on the tunnel device at the same time,
// field for field (addresses, ports, sequence numbers, flags, ICMP ids,
// payload and wire lengths), fragments reassembled on both sides.
func TestTunnelsInnerEqualsNative(t *testing.T) {
	for _, tc := range tunnelCases {
		t.Run(tc.mode, func(t *testing.T) {
			outer, ost := decodeAll(t, tc.mode+".outer.pcap", true)
			inner, ist := decodeAll(t, tc.mode+".inner.pcap", false)
			switch tc.mode {
			case "vxlan", "gre", "gtpu", "mpls", "ip4ip6": // ping -s 2000 through the tunnel
				if ost.FragmentsReassembled == 0 {
					t.Errorf("no inner datagram reassembled")
				}
			}
			if ost.FragmentsReassembled != ist.FragmentsReassembled {
				t.Errorf("reassembled %d from the underlay, %d natively", ost.FragmentsReassembled, ist.FragmentsReassembled)
			}
			if only, native := setDiff(outer, inner); len(only)+len(native) > 0 {
				t.Errorf("decapsulated packets differ from the native ones:\nonly decapsulated:\n%s\nonly native:\n%s",
					strings.Join(only, "\n"), strings.Join(native, "\n"))
			}
			if len(inner) < 8 {
				t.Errorf("only %d packets", len(inner))
			}
		})
	}
}

// setDiff returns the elements of a not in b and of b not in a (multisets).
func setDiff(a, b []string) (onlyA, onlyB []string) {
	n := map[string]int{}
	for _, s := range a {
		n[s]++
	}
	for _, s := range b {
		n[s]--
	}
	for s, c := range n {
		for ; c > 0; c-- {
			onlyA = append(onlyA, s)
		}
		for ; c < 0; c++ {
			onlyB = append(onlyB, s)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

// TestTunnelsOverSLL: the underlay captures as `tcpdump -i any` records
// them (Linux cooked v1 and v2 headers instead of Ethernet) decapsulate to
// the same packets.
func TestTunnelsOverSLL(t *testing.T) {
	for _, tc := range tunnelCases {
		lt, frames := readPcap(t, tunnelDir+tc.mode+".outer.pcap")
		eth, _ := NewDecoder(lt, Options{})
		sll, _ := NewDecoder(layers.LinkTypeLinuxSLL, Options{})
		sll2, _ := NewDecoder(LinkTypeLinuxSLL2, Options{})
		var p, q Packet
		n := 0
		for i, fr := range frames {
			if len(fr.data) < 14 {
				continue
			}
			et := fr.data[12:14]
			// pkttype(2) hatype(2)=1 halen(2)=6 addr(8) protocol(2)
			v1 := append([]byte{0, 0, 0, 1, 0, 6}, fr.data[6:12]...)
			v1 = append(v1, 0, 0)
			v1 = append(append(v1, et...), fr.data[14:]...)
			// protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
			v2 := append(append([]byte{}, et...), 0, 0, 0, 0, 0, 2, 0, 1, 0, 6)
			v2 = append(append(v2, fr.data[6:12]...), 0, 0)
			v2 = append(v2, fr.data[14:]...)
			ok, _ := eth.Decode(fr.data, fr.ci, &p)
			want := summary(&p) + fmt.Sprint(p.Tunnel)
			for _, c := range []struct {
				d *Decoder
				b []byte
			}{{sll, v1}, {sll2, v2}} {
				// Every frame goes to every decoder (fragments build up);
				// tunnelled packets are compared.
				qok, err := c.d.Decode(c.b, ciOf(c.b), &q)
				if ok && p.Tunnel.N > 0 && (!qok || summary(&q)+fmt.Sprint(q.Tunnel) != want) {
					t.Errorf("%s frame %d via %v: ok %v err %v\n got %s\nwant %s", tc.mode, i+1, c.d.LinkType(), qok, err, summary(&q), summary(&p))
				}
			}
			if ok && p.Tunnel.N > 0 {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: nothing compared", tc.mode)
		}
	}
}
