package flows

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// conv is one tshark conversation: A is the left address, AB the "->" columns.
type conv struct {
	a, b                                 string // "ip:port"
	abFrames, abBytes, baFrames, baBytes int64
}

var convLine = regexp.MustCompile(`^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+(\d+) bytes`)

// tsharkConvs runs `tshark -q -z conv,<proto>` on path.
func tsharkConvs(t *testing.T, path, proto string) []conv {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", path, "-q", "-z", "conv,"+proto).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var cs []conv
	for _, line := range strings.Split(string(out), "\n") {
		m := convLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
		// Columns: "<-" (B to A) frames, bytes, then "->" (A to B).
		cs = append(cs, conv{a: m[1], b: m[2], baFrames: n(3), baBytes: n(4), abFrames: n(5), abBytes: n(6)})
	}
	return cs
}

// endpoint renders "ip:port" the way tshark's conversation table does.
func endpoint(doc map[string]any, side string) string {
	return fmt.Sprintf("%s:%d", protocoltest.Get(doc, side+".ip"), num(protocoltest.Get(doc, side+".port")))
}

func finals(t *testing.T, docs []map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		if protocoltest.Get(d, "flow.final") == true {
			id := protocoltest.Get(d, "flow.id").(string)
			if out[id] != nil {
				t.Errorf("flow %s has two final reports", id)
			}
			out[id] = d
		}
	}
	return out
}

// TestConversationsMatchTshark: every TCP and UDP conversation tshark finds
// in the veth capture is one flow with the same per-direction frame and byte
// counts.
func TestConversationsMatchTshark(t *testing.T) {
	path := pcapDir + "veth.pcap"
	cfg := DefaultConfig()
	_, col, _ := replay(t, path, cfg, nil)
	byEnds := map[string]map[string]any{}
	for _, d := range finals(t, col.Docs) {
		byEnds[endpoint(d, "source")+" "+endpoint(d, "destination")] = d
	}
	for _, proto := range []string{"tcp", "udp"} {
		convs := tsharkConvs(t, path, proto)
		if len(convs) < 2 {
			t.Fatalf("tshark found %d %s conversations", len(convs), proto)
		}
		for _, c := range convs {
			d := byEnds[c.a+" "+c.b]
			srcP, srcB, dstP, dstB := c.abFrames, c.abBytes, c.baFrames, c.baBytes
			if d == nil { // our source is tshark's B
				d = byEnds[c.b+" "+c.a]
				srcP, srcB, dstP, dstB = dstP, dstB, srcP, srcB
			}
			if d == nil {
				t.Errorf("%s conversation %s <-> %s: no flow", proto, c.a, c.b)
				continue
			}
			got := [4]int64{num(protocoltest.Get(d, "source.packets")), num(protocoltest.Get(d, "source.bytes")),
				num(protocoltest.Get(d, "destination.packets")), num(protocoltest.Get(d, "destination.bytes"))}
			want := [4]int64{srcP, srcB, dstP, dstB}
			if got != want {
				t.Errorf("%s %s <-> %s: packets/bytes %v, tshark %v", proto, c.a, c.b, got, want)
			}
			if num(protocoltest.Get(d, "network.packets")) != srcP+dstP || num(protocoltest.Get(d, "network.bytes")) != srcB+dstB {
				t.Errorf("%s %s: network totals %v/%v", proto, c.a, protocoltest.Get(d, "network.packets"), protocoltest.Get(d, "network.bytes"))
			}
			if protocoltest.Get(d, "network.transport") != proto {
				t.Errorf("transport %v", protocoltest.Get(d, "network.transport"))
			}
		}
	}
	// The HTTP flow over IPv4, field by field.
	d := byEnds[func() string {
		for k := range byEnds {
			if strings.HasPrefix(k, "10.99.0.1:") && strings.HasSuffix(k, " 10.99.0.2:8080") {
				return k
			}
		}
		return ""
	}()]
	if d == nil {
		t.Fatal("no IPv4 HTTP flow")
	}
	want := map[string]any{
		"type": "flow", "event.kind": "event", "event.action": "network_flow",
		"network.type": "ipv4", "source.mac": "02-00-00-00-00-0A", "destination.mac": "02-00-00-00-00-0B",
		"flow.final": true,
	}
	for k, v := range want {
		if protocoltest.Get(d, k) != v {
			t.Errorf("%s = %v, want %v", k, protocoltest.Get(d, k), v)
		}
	}
	if fmt.Sprint(protocoltest.Get(d, "event.type")) != "[connection end]" || fmt.Sprint(protocoltest.Get(d, "event.category")) != "[network]" {
		t.Errorf("event.type %v category %v", protocoltest.Get(d, "event.type"), protocoltest.Get(d, "event.category"))
	}
	start, _ := time.Parse(time.RFC3339Nano, protocoltest.Get(d, "event.start").(string))
	end, _ := time.Parse(time.RFC3339Nano, protocoltest.Get(d, "event.end").(string))
	if end.Sub(start).Nanoseconds() != num(protocoltest.Get(d, "event.duration")) || end.Sub(start) <= 0 {
		t.Errorf("start %v end %v duration %v", start, end, protocoltest.Get(d, "event.duration"))
	}
	if protocoltest.Get(d, "client") != nil || protocoltest.Get(d, "network.protocol") != nil {
		t.Error("flow documents carry no client/server or network.protocol")
	}
}

// TestCommunityIDMatchesTshark: each flow's network.community_id is the one
// tshark computes for the flow's frames.
func TestCommunityIDMatchesTshark(t *testing.T) {
	path := pcapDir + "veth.pcap"
	out, err := exec.Command("tshark", "-r", path, "--enable-protocol", "communityid", "-T", "fields", "-e", "communityid").Output()
	if err != nil {
		t.Skip("tshark with communityid not available")
	}
	ids := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		ids[l] = true
	}
	_, col, _ := replay(t, path, DefaultConfig(), nil)
	for _, d := range finals(t, col.Docs) {
		if id, _ := protocoltest.Get(d, "network.community_id").(string); !ids[id] {
			t.Errorf("flow %s <-> %s (%v): community_id %q not among tshark's", endpoint(d, "source"), endpoint(d, "destination"), protocoltest.Get(d, "network.transport"), id)
		}
	}
}

// TestPings: each ping run on loopback is one flow with 3 packets each way,
// bytes as tshark's frame lengths (98 and 118 per frame).
func TestPings(t *testing.T) {
	path := pcapDir + "lo_ping.pcap"
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.len").Output()
	if err != nil {
		t.Skip("tshark not available")
	}
	lens := strings.Fields(string(out))
	sum := func(from, to int, step int) (n int64) {
		for i := from; i < to; i += step {
			v, _ := strconv.ParseInt(lens[i], 10, 64)
			n += v
		}
		return n
	}
	_, col, _ := replay(t, path, DefaultConfig(), nil)
	fs := finals(t, col.Docs)
	if len(col.Docs) != 2 || len(fs) != 2 {
		t.Fatalf("%d docs, %d flows; want 2 final reports", len(col.Docs), len(fs))
	}
	d4, d6 := col.Docs[0], col.Docs[1]
	checks := []struct {
		d         map[string]any
		transport string
		from      int
	}{{d4, "icmp", 0}, {d6, "ipv6-icmp", 6}}
	for _, c := range checks {
		if protocoltest.Get(c.d, "network.transport") != c.transport || num(protocoltest.Get(c.d, "source.packets")) != 3 || num(protocoltest.Get(c.d, "destination.packets")) != 3 {
			t.Errorf("%s flow: %v", c.transport, c.d)
		}
		if num(protocoltest.Get(c.d, "source.bytes")) != sum(c.from, c.from+6, 2) || num(protocoltest.Get(c.d, "destination.bytes")) != sum(c.from+1, c.from+6, 2) {
			t.Errorf("%s bytes %v/%v", c.transport, protocoltest.Get(c.d, "source.bytes"), protocoltest.Get(c.d, "destination.bytes"))
		}
		if protocoltest.Get(c.d, "source.port") != nil {
			t.Errorf("ICMP flow has ports")
		}
	}
}

// TestPeriodicReports: with period 1s intermediate reports appear, counters
// only grow, and the final report holds the totals; with delta reports the
// reports of a flow add up to the same totals.
func TestPeriodicReports(t *testing.T) {
	path := pcapDir + "veth.pcap"
	_, plain, _ := replay(t, path, Config{Timeout: 30 * time.Second, Period: -1}, nil)
	totals := map[string][2]int64{}
	for id, d := range finals(t, plain.Docs) {
		totals[id] = [2]int64{num(protocoltest.Get(d, "network.packets")), num(protocoltest.Get(d, "network.bytes"))}
	}
	if len(plain.Docs) != len(totals) {
		t.Fatalf("period -1: %d reports for %d flows", len(plain.Docs), len(totals))
	}

	_, per, _ := replay(t, path, Config{Timeout: 30 * time.Second, Period: time.Second}, nil)
	last := map[string][2]int64{}
	intermediate := 0
	for _, d := range per.Docs {
		id := protocoltest.Get(d, "flow.id").(string)
		cur := [2]int64{num(protocoltest.Get(d, "network.packets")), num(protocoltest.Get(d, "network.bytes"))}
		if cur[0] < last[id][0] || cur[1] < last[id][1] {
			t.Errorf("flow %s counters went down: %v after %v", id, cur, last[id])
		}
		last[id] = cur
		if protocoltest.Get(d, "flow.final") == false {
			intermediate++
			if fmt.Sprint(protocoltest.Get(d, "event.type")) != "[connection]" {
				t.Errorf("intermediate event.type %v", protocoltest.Get(d, "event.type"))
			}
		}
	}
	if intermediate == 0 {
		t.Fatal("no intermediate reports with period 1s over a 3s capture")
	}
	for id, tot := range totals {
		if last[id] != tot {
			t.Errorf("flow %s: final %v, want %v", id, last[id], tot)
		}
	}

	_, delta, _ := replay(t, path, Config{Timeout: 30 * time.Second, Period: time.Second, DeltaReports: true}, nil)
	sums := map[string][2]int64{}
	for _, d := range delta.Docs {
		id := protocoltest.Get(d, "flow.id").(string)
		s := sums[id]
		s[0] += num(protocoltest.Get(d, "network.packets"))
		s[1] += num(protocoltest.Get(d, "network.bytes"))
		sums[id] = s
	}
	for id, tot := range totals {
		if sums[id] != tot {
			t.Errorf("delta flow %s: sum %v, want %v", id, sums[id], tot)
		}
	}
}

// TestTimeout: with a 1s timeout the first pings' flow ends while the capture
// still runs, before the flush.
func TestTimeout(t *testing.T) {
	tbl, col, beforeFlush := replay(t, pcapDir+"veth.pcap", Config{Timeout: time.Second, Period: -1}, nil)
	if tbl.Stats().Expired == 0 || beforeFlush == 0 {
		t.Fatalf("expired %d, reports before flush %d", tbl.Stats().Expired, beforeFlush)
	}
	for _, d := range col.Docs[:beforeFlush] {
		if protocoltest.Get(d, "flow.final") != true {
			t.Errorf("expiry report not final: %v", d)
		}
	}
	if int(tbl.Stats().Created) != len(col.Docs) || tbl.Len() != 0 {
		t.Errorf("created %d, reports %d, left %d", tbl.Stats().Created, len(col.Docs), tbl.Len())
	}
}

// TestEviction: a table bounded to 2 flows never holds more, and every flow
// still ends with exactly one final report carrying all its packets.
func TestEviction(t *testing.T) {
	tbl, col, _ := replay(t, pcapDir+"veth.pcap", Config{Timeout: 30 * time.Second, Period: -1, MaxFlows: 2}, nil)
	s := tbl.Stats()
	if s.Evicted == 0 || int(s.Created) != len(col.Docs) {
		t.Fatalf("stats %+v, %d reports", s, len(col.Docs))
	}
	var pkts int64
	for _, d := range col.Docs {
		pkts += num(protocoltest.Get(d, "network.packets"))
	}
	if uint64(pkts) != s.Packets {
		t.Errorf("reports hold %d packets, table counted %d", pkts, s.Packets)
	}
}

// TestVLANs: the veth capture with one tag (802.1Q 42) and with two (Q-in-Q
// 100 outer, 42 inner), tags inserted into the real frames because this
// kernel cannot make VLAN interfaces.
func TestVLANs(t *testing.T) {
	_, plain, _ := replay(t, pcapDir+"veth.pcap", DefaultConfig(), nil)
	_, one, _ := replay(t, pcapDir+"veth.pcap", DefaultConfig(), withVLANs(42))
	_, two, _ := replay(t, pcapDir+"veth.pcap", DefaultConfig(), withVLANs(100, 42))
	if len(one.Docs) != len(plain.Docs) || len(two.Docs) != len(plain.Docs) {
		t.Fatalf("reports: %d plain, %d tagged, %d double tagged", len(plain.Docs), len(one.Docs), len(two.Docs))
	}
	for i := range plain.Docs {
		if num(protocoltest.Get(one.Docs[i], "flow.vlan")) != 42 || protocoltest.Get(one.Docs[i], "network.vlan.id") != "42" {
			t.Errorf("single tag: flow.vlan %v network.vlan %v", protocoltest.Get(one.Docs[i], "flow.vlan"), protocoltest.Get(one.Docs[i], "network.vlan"))
		}
		if fmt.Sprint(protocoltest.Get(two.Docs[i], "flow.vlan")) != "[100 42]" || protocoltest.Get(two.Docs[i], "network.vlan.id") != "100" {
			t.Errorf("Q-in-Q: flow.vlan %v", protocoltest.Get(two.Docs[i], "flow.vlan"))
		}
		if protocoltest.Get(one.Docs[i], "flow.id") == protocoltest.Get(plain.Docs[i], "flow.id") || protocoltest.Get(one.Docs[i], "flow.id") == protocoltest.Get(two.Docs[i], "flow.id") {
			t.Errorf("flow.id does not depend on VLANs")
		}
		// 4 bytes more per tagged frame on the wire.
		if num(protocoltest.Get(one.Docs[i], "network.bytes")) != num(protocoltest.Get(plain.Docs[i], "network.bytes"))+4*num(protocoltest.Get(plain.Docs[i], "network.packets")) {
			t.Errorf("tagged bytes %v vs %v", protocoltest.Get(one.Docs[i], "network.bytes"), protocoltest.Get(plain.Docs[i], "network.bytes"))
		}
	}
}

func TestFlowIDStableAndDirectionless(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	pkt := func(src, dst netip.Addr, sp, dp uint16, ts int) *link.Packet {
		return &link.Packet{Timestamp: time.Unix(int64(ts), 0), WireLen: 60, IPProto: 6, IPVersion: 4,
			SrcIP: src, DstIP: dst, SrcPort: sp, DstPort: dp}
	}
	var evs []*Event
	tbl := New(Config{Timeout: 5 * time.Second, Period: time.Second}, protocol.PublisherFunc(func(e ecsmap.Event) { evs = append(evs, e.(*Event)) }))
	tbl.Packet(pkt(b, a, 80, 5000, 0)) // first sender: b
	tbl.Packet(pkt(a, b, 5000, 80, 0))
	tbl.Tick(time.Unix(2, 0))
	tbl.Packet(pkt(a, b, 5000, 80, 2))
	tbl.Flush(time.Unix(3, 0))
	if tbl.Stats().Created != 1 || len(evs) != 2 {
		t.Fatalf("created %d reports %d", tbl.Stats().Created, len(evs))
	}
	if evs[0].ID() != evs[1].ID() || evs[0].Final() || !evs[1].Final() {
		t.Errorf("ids %s %s finals %v %v", evs[0].ID(), evs[1].ID(), evs[0].Final(), evs[1].Final())
	}
	bse := evs[1].EventBase()
	if bse.Source.IP != b || bse.Source.Port != 80 || bse.Source.Packets != 1 || bse.Destination.Packets != 2 || bse.Destination.Bytes != 120 {
		t.Errorf("source %+v destination %+v", bse.Source, bse.Destination)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]any{"timeout": "30s", "period": "-1", "keep_null": true, "enable_delta_flow_reports": true, "id": "x"})
	if err != nil || c.Timeout != 30*time.Second || c.Period >= 0 || !c.KeepNull || !c.DeltaReports || c.MaxFlows != 65536 {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = ParseConfig(nil)
	if err != nil || c.Period != 10*time.Second || c.Timeout != 30*time.Second || c.SkipUnderlay {
		t.Fatalf("defaults %+v %v", c, err)
	}
	for v, skip := range map[any]bool{false: true, "false": true, true: false, nil: false} {
		if c, err := ParseConfig(map[string]any{"underlay_flows": v}); err != nil || c.SkipUnderlay != skip {
			t.Errorf("underlay_flows %v: %+v %v", v, c, err)
		}
	}
	for want, opts := range map[string]map[string]any{
		"flow: timeout: must be at least 1s":                            {"timeout": "500ms"},
		"flow: period: must be -1 (no periodic reports) or at least 1s": {"period": "10ms"},
		"flow: perod: unknown option":                                   {"perod": "10s"},
		`flow: max_flows: 0 is outside 1-67108864`:                      {"max_flows": 0},
		`flow: underlay_flows: "maybe" is not true or false`:            {"underlay_flows": "maybe"},
	} {
		if _, err := ParseConfig(opts); err == nil || err.Error() != want {
			t.Errorf("%v: %v, want %q", opts, err, want)
		}
	}
}

// TestNoAllocPerPacket: counting a packet of an existing flow allocates
// nothing.
func TestNoAllocPerPacket(t *testing.T) {
	frames, lt := protocoltest.ReadFrames(t, pcapDir+"veth.pcap")
	dec, _ := link.NewDecoder(lt, link.Options{})
	pkts := make([]link.Packet, len(frames))
	for i, fr := range frames {
		if ok, err := dec.Decode(fr.Data, fr.CI, &pkts[i]); !ok || err != nil {
			t.Fatalf("frame %d: %v %v", i, ok, err)
		}
		pkts[i].Payload = nil
	}
	tbl := New(Config{Timeout: time.Hour, Period: -1}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	for i := range pkts {
		tbl.Packet(&pkts[i])
	}
	allocs := testing.AllocsPerRun(50, func() {
		for i := range pkts {
			tbl.Packet(&pkts[i])
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per pass over existing flows", allocs)
	}
}

func BenchmarkPacketExistingFlow(b *testing.B) {
	frames, lt := protocoltest.ReadFrames(b, pcapDir+"veth.pcap")
	dec, _ := link.NewDecoder(lt, link.Options{})
	pkts := make([]link.Packet, len(frames))
	for i, fr := range frames {
		dec.Decode(fr.Data, fr.CI, &pkts[i])
		pkts[i].Payload = nil
	}
	tbl := New(Config{Timeout: time.Hour, Period: -1}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tbl.Packet(&pkts[i%len(pkts)])
	}
}

// BenchmarkPacketManyFlows: new flows until the bound, then eviction churn.
func BenchmarkPacketManyFlows(b *testing.B) {
	tbl := New(Config{Timeout: time.Hour, Period: -1, MaxFlows: 10000}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	p := link.Packet{IPProto: 17, IPVersion: 4, WireLen: 100, SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"), DstPort: 53}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.SrcPort = uint16(i)
		p.SrcIP = netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)})
		tbl.Packet(&p)
	}
}

// BenchmarkPacketTCP replays a real TCP capture (redis sessions: handshakes,
// data, closes) over and over: the per-packet cost of TCP flow accounting.
func BenchmarkPacketTCP(b *testing.B) {
	frames, lt := protocoltest.ReadFrames(b, "../../_dev/pcaps/tcp/redis.pcap")
	dec, _ := link.NewDecoder(lt, link.Options{})
	pkts := make([]link.Packet, len(frames))
	for i, fr := range frames {
		dec.Decode(fr.Data, fr.CI, &pkts[i])
		pkts[i].Payload = pkts[i].Payload[:len(pkts[i].Payload):len(pkts[i].Payload)]
	}
	tbl := New(Config{Timeout: time.Hour, Period: -1}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tbl.Packet(&pkts[i%len(pkts)])
	}
}
