package capture

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
)

// runFile decodes a pcap through the production worker (link decoder,
// engine, TCP assembler, protocols, flows) with http on 8080, dns, icmp and
// flows.
func runFile(t *testing.T, file string, iface map[string]any) []map[string]any {
	return runFileWith(t, file, iface, nil)
}

// runFileWith is runFile with options added to the flow stream.
func runFileWith(t *testing.T, file string, iface, flowOpts map[string]any) []map[string]any {
	t.Helper()
	if iface == nil {
		iface = map[string]any{}
	}
	iface["file"], iface["top_speed"] = file, true
	flow := map[string]any{"type": "flow", "interface": iface}
	for k, v := range flowOpts {
		flow[k] = v
	}
	streams := []any{
		map[string]any{"type": "http", "ports": []any{8080}, "interface": iface},
		map[string]any{"type": "dns", "interface": iface},
		map[string]any{"type": "icmp", "interface": iface},
		flow,
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	sink := &docsink.Sink{}
	w, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.All()
}

func get(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// comparable drops what legitimately differs between the two capture
// points: times (the underlay copy is seen microseconds apart), the tunnel
// fields themselves, and the ids derived from them (flow.id includes the
// tunnel segment).
func comparable(doc map[string]any) string {
	c := map[string]any{}
	for k, v := range doc {
		c[k] = v
	}
	for _, k := range []string{"@timestamp", "event", "flow"} {
		delete(c, k)
	}
	if n, ok := c["network"].(map[string]any); ok {
		n2 := map[string]any{}
		for k, v := range n {
			if k != "tunnel" {
				n2[k] = v
			}
		}
		c["network"] = n2
	}
	if ev, ok := doc["event"].(map[string]any); ok {
		c["event.dataset"] = ev["dataset"]
		c["event.outcome"] = ev["outcome"]
	}
	b, _ := json.Marshal(c)
	return string(b)
}

type tunnelE2E struct {
	mode  string
	types any // network.tunnel.type as JSON decodes it
	id    any // network.tunnel.id
	// The underlay endpoints in namespace A (the clients) and B.
	outerA, outerB string
}

var tunnelE2ECases = []tunnelE2E{
	{"sit", "ipv6-in-ipv4", nil, "10.99.0.1", "10.99.0.2"},
	{"vxlan", "vxlan", "42", "10.99.0.1", "10.99.0.2"},
	{"geneve", "geneve", "6666", "10.99.0.1", "10.99.0.2"},
	{"gre", "gre", "77", "10.99.0.1", "10.99.0.2"},
	{"gretap", "gre", "78", "10.99.0.1", "10.99.0.2"},
	{"erspan1", "erspan", nil, "10.99.0.1", "10.99.0.2"},
	{"erspan2", "erspan", "101", "10.99.0.1", "10.99.0.2"},
	{"erspan3", "erspan", "102", "10.99.0.1", "10.99.0.2"},
	{"vxlan-in-gre", []any{"gre", "vxlan"}, []any{"77", "4242"}, "10.99.0.1", "10.99.0.2"},
	// TEIDs differ per direction; the first packet of each transaction
	// is A's, sent with TEID 1001.
	{"gtpu", "gtpu", "1001", "10.99.0.1", "10.99.0.2"},
	{"mpls", "mpls", "100", "", ""},
	{"pppoe", "pppoe", "4660", "", ""},
	{"ipip", "ipv4-in-ipv4", nil, "10.99.0.1", "10.99.0.2"},
	{"ip6ip6", "ipv6-in-ipv6", nil, "fd99::1", "fd99::2"},
	{"ip4ip6", "ipv4-in-ipv6", nil, "fd99::1", "fd99::2"},
	{"vxlan6", "vxlan", "4243", "fd99::1", "fd99::2"},
	{"mplseth", "mpls", "100", "", ""},                                 // Ethernet pseudowire with a control word
	{"mplsgre", []any{"gre", "mpls"}, "300", "10.99.0.1", "10.99.0.2"}, // GRE without a key
	{"mplsip", "mpls", "301", "10.99.0.1", "10.99.0.2"},
	// PPTP call ids are per direction too: A's packets carry 1001.
	{"pptp", "gre", "1001", "10.99.0.1", "10.99.0.2"},
}

// TestTunnelTransactionsEqualNative: the HTTP and ICMP transactions and the
// flow records (packets and bytes per direction) decoded from the underlay
// capture equal those decoded from the capture on the tunnel device, and
// each carries the tunnel fields.
func TestTunnelTransactionsEqualNative(t *testing.T) {
	for _, tc := range tunnelE2ECases {
		t.Run(tc.mode, func(t *testing.T) {
			dir := "../../_dev/pcaps/tunnels/" + tc.mode
			outer := runFile(t, dir+".outer.pcap", nil)
			inner := runFile(t, dir+".inner.pcap", nil)
			seen := map[string]int{}
			pick := func(docs []map[string]any, tunnelled bool) (out []string) {
				for _, d := range docs {
					ds := fmt.Sprint(get(d, "event.dataset"))
					if ds != "network_traffic.http" && ds != "network_traffic.dns" && ds != "network_traffic.icmp" && ds != "network_traffic.flow" {
						continue
					}
					if tunnelled && ds == "network_traffic.flow" && (get(d, "network.tunnel") == nil || get(d, "flow.underlay") == true) {
						continue // the underlay's own traffic (underlay_test.go checks it)
					}
					// IPv6 multicast (MLD, solicitations) is left out: the
					// underlay veth sends its own, and the tunnel devices
					// emit them whether or not the tunnel carries IPv6.
					if strings.HasPrefix(fmt.Sprint(get(d, "destination.ip")), "ff0") {
						continue
					}
					if tunnelled {
						if got := get(d, "network.tunnel.type"); fmt.Sprint(got) != fmt.Sprint(tc.types) {
							t.Errorf("%s: network.tunnel.type %v, want %v", ds, got, tc.types)
						}
						if got := get(d, "network.tunnel.id"); fmt.Sprint(got) != fmt.Sprint(tc.id) {
							t.Errorf("%s: network.tunnel.id %v, want %v", ds, got, tc.id)
						}
						// HTTP and DNS clients are all in namespace A;
						// ICMP also has B's router solicitations.
						src, dst := get(d, "network.tunnel.source.ip"), get(d, "network.tunnel.destination.ip")
						if tc.outerA == "" { // MPLS, PPPoE: no outer IP header
							if src != nil || dst != nil {
								t.Errorf("%s: network.tunnel endpoints %v > %v, want none", ds, src, dst)
							}
							src, dst = "", ""
						}
						client := ds == "network_traffic.http" || ds == "network_traffic.dns"
						if client && (src != tc.outerA || dst != tc.outerB) ||
							!(src == tc.outerA && dst == tc.outerB || src == tc.outerB && dst == tc.outerA) {
							t.Errorf("%s: network.tunnel endpoints %v > %v, want %v and %v", ds, src, dst, tc.outerA, tc.outerB)
						}
					} else if get(d, "network.tunnel") != nil {
						t.Errorf("native capture has network.tunnel")
					}
					out = append(out, comparable(d))
					seen[ds]++
				}
				sort.Strings(out)
				return out
			}
			o, i := pick(outer, true), pick(inner, false)
			want := []string{"http", "icmp", "flow"}
			if tc.mode == "vxlan" || tc.mode == "gtpu" {
				want = append(want, "dns") // dig against dnsmasq
			}
			for _, ds := range want {
				if seen["network_traffic."+ds] < 2 {
					t.Errorf("only %d %s events", seen["network_traffic."+ds], ds)
				}
			}
			if strings.Join(o, "\n") != strings.Join(i, "\n") {
				t.Errorf("transactions differ:\nunderlay:\n%s\nnative:\n%s", strings.Join(o, "\n"), strings.Join(i, "\n"))
			}
		})
	}
}

// runHTTPOnly decodes a pcap with only http on 8080: the BPF filter is then
// built from the ports (plus the tunnel carriers) and applied to the file.
func runHTTPOnly(t *testing.T, file string, tunnels map[string]any) (docs []map[string]any, filter string) {
	t.Helper()
	iface := map[string]any{"file": file, "top_speed": true}
	if tunnels != nil {
		iface["tunnels"] = tunnels
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"type": "http", "ports": []any{8080}, "interface": iface},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &docsink.Sink{}
	w, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	filter = w.Filters()[0]
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.All(), filter
}

// TestTunnelFilterAndOptions: with a port-built BPF filter the tunnels
// still reach the decoder (every capture gives its HTTP transactions), and
// the interface's tunnels option does what it says.
func TestTunnelFilterAndOptions(t *testing.T) {
	for _, tc := range tunnelE2ECases {
		dir := "../../_dev/pcaps/tunnels/" + tc.mode + ".outer.pcap"
		docs, filter := runHTTPOnly(t, dir, nil)
		if len(docs) < 1 {
			t.Errorf("%s: %d HTTP events through the filter %q", tc.mode, len(docs), filter)
		}
		for _, d := range docs {
			if get(d, "network.tunnel.type") == nil {
				t.Errorf("%s: event without network.tunnel", tc.mode)
			}
		}
		off, filter := runHTTPOnly(t, dir, map[string]any{"enabled": false})
		if len(off) != 0 || strings.Contains(filter, "4789") {
			t.Errorf("%s: tunnels disabled: %d events, filter %q", tc.mode, len(off), filter)
		}
	}
	vx := "../../_dev/pcaps/tunnels/vxlan.outer.pcap"
	if docs, filter := runHTTPOnly(t, vx, map[string]any{"vxlan_ports": []any{}}); len(docs) != 0 || strings.Contains(filter, "4789") {
		t.Errorf("vxlan_ports []: %d events, filter %q", len(docs), filter)
	}
	if docs, filter := runHTTPOnly(t, vx, map[string]any{"vxlan_ports": "4789,8472", "max_depth": 1}); len(docs) != 3 || !strings.Contains(filter, "udp dst port 8472") {
		t.Errorf("vxlan_ports 4789,8472: %d events, filter %q", len(docs), filter)
	}
	// Nested VXLAN in GRE is two layers: max_depth 1 skips it.
	if docs, _ := runHTTPOnly(t, "../../_dev/pcaps/tunnels/vxlan-in-gre.outer.pcap", map[string]any{"max_depth": 1}); len(docs) != 0 {
		t.Errorf("max_depth 1 on two levels: %d events", len(docs))
	}
	for _, bad := range []map[string]any{{"max_depth": 9}, {"vxlan_ports": []any{"x"}}, {"color": "blue"}} {
		in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
			map[string]any{"type": "http", "interface": map[string]any{"file": vx, "tunnels": bad}},
		}})
		if err == nil && len(in.Captures) > 0 {
			t.Errorf("tunnels %v accepted", bad)
		}
	}
}

// TestTunnelSegmentsStayApart: the VXLAN capture replayed with every frame
// also sent again in VNI 43 (same inner addresses and ports, interleaved
// packet by packet, as two mirrored VPCs with overlapping address plans
// look to one sensor) gives every transaction and flow twice, once per
// VNI, instead of one confused connection.
func TestTunnelSegmentsStayApart(t *testing.T) {
	src := "../../_dev/pcaps/tunnels/vxlan.outer.pcap"
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "two-vnis.pcap")
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(65536, r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
		// Ethernet(14) IPv4(20) UDP(8): the VNI is bytes 4-6 of VXLAN.
		if len(data) > 50 && data[23] == 17 && binary.BigEndian.Uint16(data[36:38]) == 4789 {
			dup := append([]byte(nil), data...)
			dup[42+6] = 43
			ci.Timestamp = ci.Timestamp.Add(time.Microsecond)
			if err := w.WritePacket(ci, dup); err != nil {
				t.Fatal(err)
			}
		}
	}
	o.Close()
	one := runFile(t, src, nil)
	two := runFile(t, out, nil)
	count := func(docs []map[string]any) map[string]int {
		n := map[string]int{}
		for _, d := range docs {
			if get(d, "network.tunnel") == nil {
				continue
			}
			if get(d, "flow.underlay") == true {
				// The VTEP flow: one per outer 5-tuple whatever the
				// VNI, so the copies add to its packets instead.
				if get(d, "flow.final") == true {
					n["underlay packets"] += int(get(d, "network.packets").(float64))
				}
				continue
			}
			n[fmt.Sprint(get(d, "event.dataset"), " vni ", get(d, "network.tunnel.id"))]++
		}
		return n
	}
	c1, c2 := count(one), count(two)
	if c1["underlay packets"] == 0 || c2["underlay packets"] != 2*c1["underlay packets"] {
		t.Errorf("underlay flows: %d packets alone, %d with the VNI 43 copies", c1["underlay packets"], c2["underlay packets"])
	}
	for _, ds := range []string{"network_traffic.http", "network_traffic.dns", "network_traffic.flow", "network_traffic.icmp"} {
		n := c1[ds+" vni 42"]
		if n == 0 || c2[ds+" vni 42"] != n || c2[ds+" vni 43"] != n {
			t.Errorf("%s: %d events in VNI 42 alone; with VNI 43 added %d and %d", ds, n, c2[ds+" vni 42"], c2[ds+" vni 43"])
		}
	}
}
