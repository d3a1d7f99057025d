package icmp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// tsharkFrame is one ICMP frame as tshark dissects it.
type tsharkFrame struct {
	ts          time.Time
	src, dst    string
	typ, code   int
	length      int     // Packetbeat's byte count, from the IP lengths
	resptime    float64 // ms, replies only
	communityID string
}

// tsharkICMP dissects path with tshark, independently of our decoders.
func tsharkICMP(t *testing.T, path string) []tsharkFrame {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", path, "--enable-protocol", "communityid",
		"-Y", "icmp or icmpv6", "-T", "fields", "-E", "separator=|",
		"-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
		"-e", "icmp.type", "-e", "icmpv6.type", "-e", "icmp.code", "-e", "icmpv6.code",
		"-e", "ip.len", "-e", "ip.hdr_len", "-e", "ipv6.plen",
		"-e", "icmp.resptime", "-e", "icmpv6.resptime", "-e", "communityid",
		"-e", "ipv6.hopopts.len_oct").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	first := func(s string) string { // inner fields of an ICMP error repeat the outer ones
		s, _, _ = strings.Cut(s, ",")
		return s
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(first(s)); return n }
	var frames []tsharkFrame
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		secs, frac, _ := strings.Cut(f[0], ".")
		sec, _ := strconv.ParseInt(secs, 10, 64)
		nsec, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		fr := tsharkFrame{ts: time.Unix(sec, nsec), communityID: f[14]}
		if f[1] != "" {
			fr.src, fr.dst = first(f[1]), first(f[3])
			fr.typ, fr.code = atoi(f[5]), atoi(f[7])
			fr.length = atoi(f[9]) - atoi(f[10]) - 8
		} else {
			fr.src, fr.dst = first(f[2]), first(f[4])
			fr.typ, fr.code = atoi(f[6]), atoi(f[8])
			fr.length = atoi(f[11]) - atoi(f[15]) - 4 // minus a hop-by-hop header (MLD)
		}
		rt := f[12] + f[13]
		if rt != "" {
			fr.resptime, _ = strconv.ParseFloat(rt, 64)
		}
		frames = append(frames, fr)
	}
	return frames
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// TestLoopbackPings: ping -c 3 127.0.0.1 and ping -6 -c 3 ::1, each pair
// checked field by field against tshark's dissection of the same frames.
func TestLoopbackPings(t *testing.T) {
	path := pcapDir + "lo_ping.pcap"
	frames := tsharkICMP(t, path)
	if len(frames) != 12 {
		t.Fatalf("tshark sees %d ICMP frames, want 12", len(frames))
	}
	tr, col := replay(t, path, DefaultConfig(), nil)
	if len(col.Docs) != 6 {
		t.Fatalf("got %d events, want 6", len(col.Docs))
	}
	for i, doc := range col.Docs {
		req, resp := frames[2*i], frames[2*i+1]
		version, reqType, respType, transport := 4, 8, 0, "icmp"
		if i >= 3 {
			version, reqType, respType, transport = 6, 128, 129, "ipv6-icmp"
		}
		checks := map[string]any{
			"type":                  "icmp",
			"status":                "OK",
			"path":                  req.dst,
			"icmp.version":          version,
			"icmp.request.type":     req.typ,
			"icmp.request.code":     req.code,
			"icmp.request.message":  "EchoRequest(0)",
			"icmp.response.type":    resp.typ,
			"icmp.response.code":    resp.code,
			"icmp.response.message": "EchoReply(0)",
			"source.ip":             req.src,
			"destination.ip":        req.dst,
			"client.ip":             req.src,
			"server.ip":             req.dst,
			"source.bytes":          req.length,
			"destination.bytes":     resp.length,
			"network.bytes":         req.length + resp.length,
			"network.transport":     transport,
			"network.type":          fmt.Sprintf("ipv%d", version),
			"network.community_id":  req.communityID,
			"event.kind":            "event",
			"event.dataset":         "icmp",
			"event.start":           req.ts.UTC().Format(time.RFC3339Nano),
			"event.end":             resp.ts.UTC().Format(time.RFC3339Nano),
			"@timestamp":            req.ts.UTC().Format(time.RFC3339Nano),
		}
		if req.typ != reqType || resp.typ != respType {
			t.Fatalf("event %d: tshark frames are types %d/%d, want %d/%d", i, req.typ, resp.typ, reqType, respType)
		}
		for path, want := range checks {
			got := protocoltest.Get(doc, path)
			if n, ok := want.(int); ok {
				if num(got) != n {
					t.Errorf("event %d %s = %v, want %d", i, path, got, n)
				}
				continue
			}
			if got != want {
				t.Errorf("event %d %s = %v, want %v", i, path, got, want)
			}
		}
		// event.duration against tshark's own response time (ms, µs precision).
		if d := float64(num(protocoltest.Get(doc, "event.duration"))) / 1e6; d-resp.resptime > 0.001 || resp.resptime-d > 0.001 {
			t.Errorf("event %d duration %vms, tshark resptime %vms", i, d, resp.resptime)
		}
		if protocoltest.Get(doc, "error") != nil {
			t.Errorf("event %d has error %v", i, protocoltest.Get(doc, "error"))
		}
		if cats := protocoltest.Get(doc, "event.category").([]any); len(cats) != 1 || cats[0] != "network" {
			t.Errorf("event.category = %v", cats)
		}
		if typs := protocoltest.Get(doc, "event.type").([]any); len(typs) != 1 || typs[0] != "connection" {
			t.Errorf("event.type = %v", typs)
		}
	}
	if s := tr.Stats(); s.Messages != 12 || s.Transactions != 6 || s.UnmatchedRequests+s.UnmatchedResponses != 0 || tr.Pending() != 0 {
		t.Errorf("stats %+v pending %d", s, tr.Pending())
	}
}

// TestVethMix: pings, unreachables, TTL exceeded and neighbour discovery on
// a veth. Every tshark request frame must appear once as a request (with
// its reply, when tshark pairs one), every other message alone.
func TestVethMix(t *testing.T) {
	path := pcapDir + "veth.pcap"
	frames := tsharkICMP(t, path)
	tr, col := replay(t, path, DefaultConfig(), nil)

	type sig struct {
		src, dst  string
		typ, code int
		length    int
	}
	want := map[sig]int{}
	replies := 0
	for _, f := range frames {
		if f.resptime > 0 { // tshark matched it to a request
			replies++
			continue
		}
		want[sig{f.src, f.dst, f.typ, f.code, f.length}]++
	}
	if len(col.Docs) != len(frames)-replies {
		t.Fatalf("got %d events for %d frames with %d replies", len(col.Docs), len(frames), replies)
	}
	var unreach, unanswered, paired int
	for i, doc := range col.Docs {
		s := sig{protocoltest.Get(doc, "source.ip").(string), protocoltest.Get(doc, "destination.ip").(string),
			num(protocoltest.Get(doc, "icmp.request.type")), num(protocoltest.Get(doc, "icmp.request.code")), num(protocoltest.Get(doc, "source.bytes"))}
		if want[s] == 0 {
			t.Errorf("event %d: request %+v not among tshark's frames", i, s)
		}
		want[s]--
		status := protocoltest.Get(doc, "status")
		msg := protocoltest.Get(doc, "icmp.request.message").(string)
		switch {
		case protocoltest.Get(doc, "icmp.response") != nil:
			paired++
			if status != "OK" {
				t.Errorf("event %d: paired echo status %v", i, status)
			}
		case strings.HasPrefix(msg, "EchoRequest"):
			unanswered++
			if status != "Error" || protocoltest.Get(doc, "error.message") != noteOrphanedRequest {
				t.Errorf("event %d: unanswered echo status %v error %v", i, status, protocoltest.Get(doc, "error"))
			}
		case s.typ == 3 && s.src == "10.99.0.2", s.typ == 1 && s.src == "fd99::2", s.typ == 11:
			unreach++
			if status != "Error" || protocoltest.Get(doc, "path") != s.dst {
				t.Errorf("event %d: %s status %v path %v", i, msg, status, protocoltest.Get(doc, "path"))
			}
		default: // neighbour discovery, MLD: OK on their own
			if status != "OK" || s.typ < 130 {
				t.Errorf("event %d: unexpected lone message %s status %v", i, msg, status)
			}
		}
	}
	// What the capture script sent: 2+2 answered pings; 1 ignored echo and
	// 3 echoes answered by unreachables + 1 by TTL exceeded; net, prohibited,
	// v6 no-route, 2 port unreachables and TTL exceeded.
	if paired != 4 || unanswered != 5 || unreach != 6 {
		t.Errorf("paired %d unanswered %d errors %d, want 4 5 6", paired, unanswered, unreach)
	}
	messages := map[string]bool{}
	for _, doc := range col.Docs {
		messages[protocoltest.Get(doc, "icmp.request.message").(string)] = true
	}
	for _, m := range []string{"DestinationUnreachable(Host)", "DestinationUnreachable(CommAdminProhibited)",
		"DestinationUnreachable(Port)", "DestinationUnreachable(NoRouteToDst)",
		"DestinationUnreachable(PortUnreachable)", "TimeExceeded(TTLExceeded)"} {
		if !messages[m] {
			t.Errorf("no event with message %s", m)
		}
	}
	if s := tr.Stats(); s.UnmatchedRequests != 5 || s.UnmatchedResponses != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestTimeout: with a short transaction_timeout the ignored echo is
// published as soon as packet time passes its deadline, not at the end.
func TestTimeout(t *testing.T) {
	cfg, err := ParseConfig(map[string]any{"transaction_timeout": "500ms"})
	if err != nil {
		t.Fatal(err)
	}
	_, col := replay(t, pcapDir+"veth.pcap", cfg, nil)
	orphan, unreach := -1, -1
	for i, doc := range col.Docs {
		if protocoltest.Get(doc, "destination.ip") == "10.99.0.2" && protocoltest.Get(doc, "error.message") == noteOrphanedRequest && orphan < 0 {
			orphan = i
		}
		if protocoltest.Get(doc, "icmp.request.message") == "DestinationUnreachable(Host)" {
			unreach = i
		}
	}
	if orphan < 0 || unreach < 0 || orphan > unreach {
		t.Fatalf("ignored echo published at %d, first unreachable at %d: want it before", orphan, unreach)
	}
}

// withVLAN inserts an 802.1Q tag into an Ethernet frame.
func withVLAN(id uint16) func([]byte) []byte {
	return func(f []byte) []byte {
		out := make([]byte, 0, len(f)+4)
		out = append(out, f[:12]...)
		out = binary.BigEndian.AppendUint16(out, 0x8100)
		out = binary.BigEndian.AppendUint16(out, id)
		return append(out, f[12:]...)
	}
}

// TestVLAN: the veth capture with every frame tagged VLAN 42 (this kernel has
// no 802.1Q module to capture tagged frames) pairs the same and reports the id.
func TestVLAN(t *testing.T) {
	_, plain := replay(t, pcapDir+"veth.pcap", DefaultConfig(), nil)
	_, tagged := replay(t, pcapDir+"veth.pcap", DefaultConfig(), withVLAN(42))
	if len(tagged.Docs) != len(plain.Docs) {
		t.Fatalf("%d events tagged, %d plain", len(tagged.Docs), len(plain.Docs))
	}
	for i, doc := range tagged.Docs {
		if protocoltest.Get(doc, "network.vlan.id") != "42" {
			t.Errorf("event %d network.vlan = %v", i, protocoltest.Get(doc, "network.vlan"))
		}
		if protocoltest.Get(doc, "status") != protocoltest.Get(plain.Docs[i], "status") {
			t.Errorf("event %d status differs with VLAN", i)
		}
	}
}

func TestOrphanResponsesAndDuplicates(t *testing.T) {
	col := &collector{}
	tr := New(DefaultConfig(), col)
	pkts := loPackets(t)
	// Replies only: each becomes a response-only event, status Error.
	for _, p := range pkts {
		if isResponse(versionOf(p), p.ICMPType) {
			tr.Packet(p)
		}
	}
	if len(col.evs) != 6 {
		t.Fatalf("%d events from 6 replies", len(col.evs))
	}
	for _, ev := range col.evs {
		b := ev.EventBase()
		if b.Status != "Error" || len(b.Notes) != 1 || b.Notes[0] != noteOrphanedResponse {
			t.Errorf("orphan reply: status %s notes %v", b.Status, b.Notes)
		}
		if _, _, ok := ev.(*Event).Request(); ok {
			t.Error("orphan reply has a request")
		}
	}
	// The same request twice: the first is closed as a duplicate.
	col.evs = nil
	tr.Packet(pkts[0])
	tr.Packet(pkts[0])
	if len(col.evs) != 1 || col.evs[0].EventBase().Notes[0] != noteDuplicate {
		t.Fatalf("duplicate: %d events", len(col.evs))
	}
	tr.Packet(pkts[1]) // its reply pairs with the second copy
	if len(col.evs) != 2 || col.evs[1].EventBase().Status != "OK" || tr.Pending() != 0 {
		t.Fatalf("reply after duplicate: %d events pending %d", len(col.evs), tr.Pending())
	}
	if s := tr.Stats(); s.DuplicateRequests != 1 || s.UnmatchedResponses != 6 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxPending(t *testing.T) {
	col := &collector{}
	cfg := DefaultConfig()
	cfg.MaxPending = 2
	tr := New(cfg, col)
	for _, p := range loPackets(t) {
		if !isResponse(versionOf(p), p.ICMPType) {
			tr.Packet(p)
		}
	}
	if tr.Pending() != 2 || len(col.evs) != 4 || tr.Stats().Overflow != 4 {
		t.Fatalf("pending %d events %d stats %+v", tr.Pending(), len(col.evs), tr.Stats())
	}
	if col.evs[0].EventBase().Notes[0] != noteOverflow {
		t.Errorf("notes %v", col.evs[0].EventBase().Notes)
	}
	tr.Flush(time.Time{})
	if tr.Pending() != 0 || len(col.evs) != 6 {
		t.Fatalf("after flush pending %d events %d", tr.Pending(), len(col.evs))
	}
}

func TestSkipsNonICMP(t *testing.T) {
	col := &collector{}
	tr := New(DefaultConfig(), col)
	p := *loPackets(t)[0]
	p.IPProto = 6
	tr.Packet(&p)
	p.IPProto = 58 // ICMPv6 number over IPv4 addresses
	tr.Packet(&p)
	if len(col.evs) != 0 || tr.Stats().Skipped != 2 {
		t.Fatalf("events %d stats %+v", len(col.evs), tr.Stats())
	}
}

// TestMessageText checks the names against gopacket's tables, which is
// where Packetbeat's names come from; Packetbeat prints "(code)" where
// gopacket 1.1.19 omits a zero code.
func TestMessageText(t *testing.T) {
	for typ := 0; typ < 256; typ++ {
		for code := 0; code < 256; code++ {
			for _, v := range []uint8{4, 6} {
				var g string
				if v == 4 {
					g = layers.CreateICMPv4TypeCode(uint8(typ), uint8(code)).String()
				} else {
					g = layers.CreateICMPv6TypeCode(uint8(typ), uint8(code)).String()
				}
				g = strings.Replace(g, "(Code: ", "(", 1)
				if !strings.HasSuffix(g, ")") {
					g += "(0)"
				}
				got := MessageText(v, uint8(typ), uint8(code))
				// gopacket lacks the MLD names' codes and v4 router types; ours are a superset.
				if got != g && !(strings.HasPrefix(got, "MLD") && g == fmt.Sprintf("%d(%d)", typ, code)) {
					t.Fatalf("v%d %d/%d: %q, gopacket %q", v, typ, code, got, g)
				}
			}
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(nil)
	if err != nil || c.TransactionTimeout != 10*time.Second || !c.Enabled || c.MaxPending != 65536 {
		t.Fatalf("defaults %+v %v", c, err)
	}
	c, err = ParseConfig(map[string]any{"transaction_timeout": "3s", "keep_null": true,
		"send_request": "true", "enabled": false, "max_pending": 10, "data_stream": map[string]any{}})
	if err != nil || c.TransactionTimeout != 3*time.Second || !c.KeepNull || !c.SendRequest || c.Enabled || c.MaxPending != 10 {
		t.Fatalf("parsed %+v %v", c, err)
	}
	for opts, msg := range map[string]map[string]any{
		`icmp: transaction_timout: unknown option`:            {"transaction_timout": "1s"},
		`icmp: transaction_timeout: "soon" is not a duration`: {"transaction_timeout": "soon"},
		`icmp: transaction_timeout: must be positive`:         {"transaction_timeout": -1},
		`icmp: max_pending: 0 is outside`:                     {"max_pending": 0},
	} {
		_, err := ParseConfig(msg)
		if err == nil || !strings.HasPrefix(err.Error(), opts) {
			t.Errorf("%v: error %v, want prefix %q", msg, err, opts)
		}
	}
}

// TestTrackerAllocs: pairing allocates per transaction (the event, its
// path), never per packet beyond that.
func TestTrackerAllocs(t *testing.T) {
	pkts := loPackets(t)
	tr := New(DefaultConfig(), protocol.PublisherFunc(func(ecsmap.Event) {}))
	allocs := testing.AllocsPerRun(100, func() {
		tr.Packet(pkts[0])
		tr.Packet(pkts[1])
	})
	if allocs > 3 {
		t.Errorf("%.1f allocations per echo transaction, want at most 3", allocs)
	}
}

type collector struct{ evs []ecsmap.Event }

func (c *collector) Publish(ev ecsmap.Event) { c.evs = append(c.evs, ev) }

func versionOf(p *link.Packet) uint8 {
	if p.IPProto == 58 {
		return 6
	}
	return 4
}

// loPackets decodes lo_ping.pcap into stable copies of its packets.
func loPackets(t testing.TB) []*link.Packet {
	t.Helper()
	var pkts []*link.Packet
	col := &collector{}
	_ = col
	raw, lt := protocoltest.ReadFrames(t, pcapDir+"lo_ping.pcap")
	dec, err := link.NewDecoder(lt, link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range raw {
		p := new(link.Packet)
		if ok, err := dec.Decode(fr.Data, fr.CI, p); !ok || err != nil {
			t.Fatalf("decode: %v %v", ok, err)
		}
		p.Payload = bytes.Clone(p.Payload)
		pkts = append(pkts, p)
	}
	return pkts
}

func BenchmarkEchoTransaction(b *testing.B) {
	pkts := loPackets(b)
	tr := New(DefaultConfig(), protocol.PublisherFunc(func(ecsmap.Event) {}))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tr.Packet(pkts[0])
		tr.Packet(pkts[1])
	}
}
