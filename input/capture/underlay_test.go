package capture

import (
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tsharkConv is one row of `tshark -q -z conv,...`: A and B as tshark
// prints them ("ip:port" for udp, "ip" for ip/ipv6), AB the "->" columns.
type tsharkConv struct {
	a, b                                 string
	abFrames, abBytes, baFrames, baBytes int64
}

var tsharkConvLine = regexp.MustCompile(`^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+(\d+) bytes`)

func tsharkConvTable(t *testing.T, path, table, filter string) []tsharkConv {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	z := "conv," + table
	if filter != "" {
		z += "," + filter
	}
	out, err := exec.Command("tshark", "-r", path, "-q", "-z", z).Output()
	if err != nil {
		t.Fatalf("tshark -z %s: %v", z, err)
	}
	var cs []tsharkConv
	for _, line := range strings.Split(string(out), "\n") {
		m := tsharkConvLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
		// Columns: "<-" (B to A) frames and bytes, then "->" (A to B).
		cs = append(cs, tsharkConv{a: m[1], b: m[2], baFrames: n(3), baBytes: n(4), abFrames: n(5), abBytes: n(6)})
	}
	return cs
}

// underlayEnds renders a flow's endpoint as tshark's conversation tables
// do: "ip:port" with ports, "ip" without.
func underlayEnd(d map[string]any, side string) string {
	ip := fmt.Sprint(get(d, side+".ip"))
	if p, ok := get(d, side+".port").(float64); ok {
		return fmt.Sprintf("%s:%d", ip, int(p))
	}
	return ip
}

func n64(v any) int64 { f, _ := v.(float64); return int64(f) }

// underlayCase says where tshark finds a capture's outermost carriers: the
// conversation table, a display filter selecting the tunnel's frames, and
// which of the table's conversations are the carriers (the table also
// lists the inner conversations of those frames).
type underlayCase struct {
	mode      string
	table     string // udp, ip, ipv6
	filter    string
	carrier   func(c tsharkConv) bool
	transport string // network.transport of the underlay flows
	tunnel    string // network.tunnel.type of the underlay flows
}

func port(p string) func(tsharkConv) bool {
	return func(c tsharkConv) bool { return strings.HasSuffix(c.a, ":"+p) || strings.HasSuffix(c.b, ":"+p) }
}

func pair(x, y string) func(tsharkConv) bool {
	return func(c tsharkConv) bool { return c.a == x && c.b == y || c.a == y && c.b == x }
}

var underlayCases = []underlayCase{
	{"vxlan", "udp", "", port("4789"), "udp", "vxlan"},
	{"vxlan6", "udp", "", port("4789"), "udp", "vxlan"},
	{"geneve", "udp", "", port("6081"), "udp", "geneve"},
	{"gtpu", "udp", "", port("2152"), "udp", "gtpu"},
	{"gre", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "gre"},
	{"gretap", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "gre"},
	{"erspan1", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "erspan"},
	{"erspan2", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "erspan"},
	{"erspan3", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "erspan"},
	{"pptp", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "gre"},
	{"mplsgre", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "gre"},
	{"vxlan-in-gre", "ip", "gre", pair("10.99.0.1", "10.99.0.2"), "gre", "gre"},
	{"ipip", "ip", "ip.proto==4", pair("10.99.0.1", "10.99.0.2"), "4", "ipv4-in-ipv4"},
	{"sit", "ip", "ip.proto==41", pair("10.99.0.1", "10.99.0.2"), "ipv6", "ipv6-in-ipv4"},
	{"mplsip", "ip", "ip.proto==137", pair("10.99.0.1", "10.99.0.2"), "137", "mpls"},
	{"ip6ip6", "ipv6", "ipv6.nxt==41 or ipv6.dstopts.nxt==41", pair("fd99::1", "fd99::2"), "ipv6", "ipv6-in-ipv6"},
	{"ip4ip6", "ipv6", "ipv6.nxt==4 or ipv6.dstopts.nxt==4", pair("fd99::1", "fd99::2"), "4", "ipv4-in-ipv6"},
}

// finalFlows returns the final flow reports of docs that pass keep.
func finalFlows(docs []map[string]any, keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if get(d, "event.dataset") == "network_traffic.flow" && get(d, "flow.final") == true && keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// compareConvs checks that flows and tshark's conversations are the same
// set of endpoint pairs with the same frames and bytes per direction; with
// bytes false only frames are compared.
func compareConvs(t *testing.T, what string, flows []map[string]any, convs []tsharkConv, bytes bool) {
	t.Helper()
	byEnds := map[string]map[string]any{}
	for _, d := range flows {
		k := underlayEnd(d, "source") + " " + underlayEnd(d, "destination")
		if byEnds[k] != nil {
			t.Errorf("%s: two underlay flows %s", what, k)
		}
		byEnds[k] = d
	}
	for _, c := range convs {
		d := byEnds[c.a+" "+c.b]
		srcP, srcB, dstP, dstB := c.abFrames, c.abBytes, c.baFrames, c.baBytes
		k := c.a + " " + c.b
		if d == nil { // our source is tshark's B
			k = c.b + " " + c.a
			d = byEnds[k]
			srcP, srcB, dstP, dstB = dstP, dstB, srcP, srcB
		}
		if d == nil {
			t.Errorf("%s: tshark conversation %s <-> %s has no underlay flow", what, c.a, c.b)
			continue
		}
		delete(byEnds, k)
		got := [4]int64{n64(get(d, "source.packets")), n64(get(d, "source.bytes")), n64(get(d, "destination.packets")), n64(get(d, "destination.bytes"))}
		want := [4]int64{srcP, srcB, dstP, dstB}
		if !bytes {
			got[1], got[3], want[1], want[3] = 0, 0, 0, 0
		}
		if got != want {
			t.Errorf("%s: %s <-> %s packets/bytes %v, tshark %v", what, c.a, c.b, got, want)
		}
	}
	for k := range byEnds {
		t.Errorf("%s: underlay flow %s is not among tshark's conversations", what, k)
	}
}

// TestUnderlayFlowsMatchTshark: through the production worker, the
// outermost carriers of every real tunnel capture (kernel VXLAN, the
// userspace encapsulator for the rest) are reported as underlay flows, one
// per outer conversation, with tshark's frame and byte counts per
// direction: every encapsulated frame is counted, including those whose
// inner packet does not decode alone (inner fragments, ARP in VXLAN).
// The inner flows are those of TestTunnelTransactionsEqualNative, unchanged.
func TestUnderlayFlowsMatchTshark(t *testing.T) {
	for _, tc := range underlayCases {
		t.Run(tc.mode, func(t *testing.T) {
			path := "../../_dev/pcaps/tunnels/" + tc.mode + ".outer.pcap"
			// Two flow shards, as on the CI's two cores: frames are
			// sharded by their outer addresses, so each carrier stays on
			// one shard.
			docs := runFile(t, path, map[string]any{"workers": 2})
			outer := finalFlows(docs, func(d map[string]any) bool {
				return get(d, "flow.underlay") == true && n64(get(d, "network.tunnel.depth")) == 1
			})
			var convs []tsharkConv
			for _, c := range tsharkConvTable(t, path, tc.table, tc.filter) {
				if tc.carrier(c) {
					convs = append(convs, c)
				}
			}
			if len(convs) == 0 {
				t.Fatalf("tshark finds no carrier conversation")
			}
			compareConvs(t, tc.mode, outer, convs, true)
			for _, d := range outer {
				if get(d, "network.transport") != tc.transport || fmt.Sprint(get(d, "network.tunnel.type")) != tc.tunnel {
					t.Errorf("underlay flow %s: transport %v, tunnel type %v; want %s, %s", underlayEnd(d, "source"),
						get(d, "network.transport"), get(d, "network.tunnel.type"), tc.transport, tc.tunnel)
				}
				// Outermost: network.tunnel's endpoints are the flow's own.
				src, dst := get(d, "network.tunnel.source.ip"), get(d, "network.tunnel.destination.ip")
				if src != get(d, "source.ip") || dst != get(d, "destination.ip") {
					t.Errorf("underlay flow %s: network.tunnel endpoints %v > %v", underlayEnd(d, "source"), src, dst)
				}
			}
			// Inner flows never carry the mark, and each inner flow's
			// tunnel is deeper than its carrier's.
			for _, d := range finalFlows(docs, func(d map[string]any) bool { return get(d, "flow.underlay") == nil }) {
				if get(d, "network.tunnel") != nil && n64(get(d, "network.tunnel.depth")) < 1 {
					t.Errorf("inner flow without depth: %v", d)
				}
			}
		})
	}
}

// TestUnderlayWithoutIPCarrier: MPLS and PPPoE straight on Ethernet have
// no IP header around the tunnel, so there is no underlay flow; tshark
// finds no IP conversation between tunnel endpoints either (every IP
// conversation of these captures is an inner one).
func TestUnderlayWithoutIPCarrier(t *testing.T) {
	for _, mode := range []string{"mpls", "mplseth", "pppoe"} {
		docs := runFile(t, "../../_dev/pcaps/tunnels/"+mode+".outer.pcap", nil)
		if u := finalFlows(docs, func(d map[string]any) bool { return get(d, "flow.underlay") != nil }); len(u) != 0 {
			t.Errorf("%s: %d underlay flows", mode, len(u))
		}
		if len(finalFlows(docs, func(d map[string]any) bool { return get(d, "network.tunnel") != nil })) == 0 {
			t.Errorf("%s: no inner flows", mode)
		}
	}
}

// TestUnderlayNested: VXLAN carried in GRE gives an underlay flow at each
// level: the GRE flow between the routers (above, depth 1) and, inside it,
// one VXLAN flow per VTEP conversation (depth 2, network.tunnel [gre,
// vxlan]) with tshark's frame counts and, as bytes, the lengths of the
// packets inside GRE (the second IP header's total length, what a capture
// on the GRE device counts), not the outer frames'.
func TestUnderlayNested(t *testing.T) {
	path := "../../_dev/pcaps/tunnels/vxlan-in-gre.outer.pcap"
	docs := runFile(t, path, nil)
	inner := finalFlows(docs, func(d map[string]any) bool {
		return get(d, "flow.underlay") == true && n64(get(d, "network.tunnel.depth")) == 2
	})
	var convs []tsharkConv
	for _, c := range tsharkConvTable(t, path, "udp", "") {
		if port("4789")(c) {
			convs = append(convs, c)
		}
	}
	if len(convs) < 4 {
		t.Fatalf("tshark finds %d VXLAN conversations", len(convs))
	}
	compareConvs(t, "vxlan in gre", inner, convs, false)

	// Bytes: per VTEP conversation, the sum of the second ip.len.
	out, err := exec.Command("tshark", "-r", path, "-Y", "vxlan", "-T", "fields",
		"-e", "ip.src", "-e", "udp.srcport", "-e", "ip.len", "-E", "aggregator=,").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		ips, ports, lens := strings.Split(f[0], ","), strings.Split(f[1], ","), strings.Split(f[2], ",")
		n, _ := strconv.ParseInt(lens[1], 10, 64)
		want[ips[1]+":"+ports[0]] += n
	}
	got := map[string]int64{}
	for _, d := range inner {
		got[underlayEnd(d, "source")] += n64(get(d, "source.bytes"))
		if b := n64(get(d, "destination.bytes")); b > 0 {
			got[underlayEnd(d, "destination")] += b
		}
		if fmt.Sprint(get(d, "network.tunnel.type")) != "[gre vxlan]" || fmt.Sprint(get(d, "network.tunnel.id")) != "[77 4242]" ||
			get(d, "network.tunnel.source.ip") == get(d, "source.ip") {
			t.Errorf("nested underlay flow %s: network.tunnel %v", underlayEnd(d, "source"), get(d, "network.tunnel"))
		}
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Errorf("nested underlay bytes per sender\n got %v\nwant %v (tshark, second ip.len)", sorted(got), sorted(want))
	}
}

func sorted(m map[string]int64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

// TestUnderlayFlowsOff: underlay_flows: false leaves exactly the flows of
// before (inner ones and native traffic).
func TestUnderlayFlowsOff(t *testing.T) {
	path := "../../_dev/pcaps/tunnels/vxlan.outer.pcap"
	on := runFile(t, path, nil)
	off := runFileFlow(t, path, map[string]any{"underlay_flows": false})
	under := finalFlows(on, func(d map[string]any) bool { return get(d, "flow.underlay") == true })
	if len(under) == 0 {
		t.Fatal("no underlay flows by default")
	}
	rest := func(docs []map[string]any) []string {
		var out []string
		for _, d := range finalFlows(docs, func(d map[string]any) bool { return get(d, "flow.underlay") == nil }) {
			out = append(out, comparable(d))
		}
		sort.Strings(out)
		return out
	}
	if u := finalFlows(off, func(d map[string]any) bool { return get(d, "flow.underlay") != nil }); len(u) != 0 {
		t.Errorf("underlay_flows false: %d underlay flows", len(u))
	}
	if a, b := rest(on), rest(off); strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) == 0 {
		t.Errorf("underlay_flows changes the other flows:\non:\n%s\noff:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// runFileFlow is runFile with options for the flow stream.
func runFileFlow(t *testing.T, file string, flowOpts map[string]any) []map[string]any {
	t.Helper()
	return runFileWith(t, file, nil, flowOpts)
}

// TestUnderlayPastMaxDepth: with max_depth 1, VXLAN in GRE is nested too
// deep to decode, yet every frame still counts in the GRE underlay flow,
// as tshark counts it; no VXLAN underlay and no inner flow is reported.
func TestUnderlayPastMaxDepth(t *testing.T) {
	path := "../../_dev/pcaps/tunnels/vxlan-in-gre.outer.pcap"
	docs := runFile(t, path, map[string]any{"tunnels": map[string]any{"max_depth": 1}})
	var convs []tsharkConv
	for _, c := range tsharkConvTable(t, path, "ip", "gre") {
		if pair("10.99.0.1", "10.99.0.2")(c) {
			convs = append(convs, c)
		}
	}
	gre := finalFlows(docs, func(d map[string]any) bool { return get(d, "flow.underlay") == true })
	compareConvs(t, "max_depth 1", gre, convs, true)
	if n := len(finalFlows(docs, func(d map[string]any) bool { return get(d, "network.tunnel") != nil && get(d, "flow.underlay") == nil })); n != 0 {
		t.Errorf("%d inner flows past max_depth", n)
	}
}
