package flows

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

const connstateDir = "../../_dev/pcaps/connstate/"

// connWant is the expected final report of one flow, found by its server
// (destination) port.
type connWant struct {
	port    float64
	state   string
	history string
}

// Each capture is one real TCP behaviour made by _dev/capture/connstate.
// The expected state and history follow Zeek's definitions
// (base/protocols/conn/main.zeek): the originator is the first packet's
// sender, its letters upper case. Why each one, from the packets tshark
// lists (tshark -r X -T fields -e ip.src -e tcp.flags.str -e tcp.len):
var connCases = []struct {
	file string
	want []connWant
}{
	// SYN, SYN-ACK, ACK, data both ways, client FIN, server FIN.
	{"sf.pcap", []connWant{{7001, "SF", "ShADadFf"}}},
	// SYN answered by RST-ACK: the responder's reset while the
	// originator is in SYN_SENT.
	{"rej.pcap", []connWant{{7009, "REJ", "Sr"}}},
	// Established, data, then the client's RST (SO_LINGER 0).
	{"rsto.pcap", []connWant{{7002, "RSTO", "ShADadR"}}},
	// Established, data, then the server's RST.
	{"rstr.pcap", []connWant{{7003, "RSTR", "ShADadr"}}},
	// The client's FIN, acknowledged, but no FIN from the server.
	{"s2.pcap", []connWant{{7004, "S2", "ShADadF"}}},
	// The server's FIN, acknowledged, but no FIN from the client.
	{"s3.pcap", []connWant{{7005, "S3", "ShADadf"}}},
	// Established with data, nothing closed.
	{"s1.pcap", []connWant{{7006, "S1", "ShADad"}}},
	// Two SYNs with one sequence number (the kernel's retransmission of
	// its SYN: one 's'), never answered.
	{"s0.pcap", []connWant{{7007, "S0", "S"}}},
	// Only the originator's packets: SYN, ACK, data, FIN; the responder
	// was never seen (half open).
	{"sh.pcap", []connWant{{7014, "SH", "SADF"}}},
	// Only the originator's packets of a scan: SYN then the kernel's RST.
	{"rstos0.pcap", []connWant{{7014, "RSTOS0", "SR"}}},
	// Mid-stream: data and its ACK, no SYN.
	{"oth.pcap", []connWant{{7010, "OTH", "Da"}}},
	// Mid-stream, then the responder's FIN (acknowledged).
	{"shr.pcap", []connWant{{7011, "SHR", "DafA"}}},
	// Mid-stream, then the responder's RST.
	{"rstrh.pcap", []connWant{{7012, "RSTRH", "Dar"}}},
	// The server advertises a zero window (w) until it reads; the client
	// sends its FIN with the last data, the server answers, then closes.
	{"zerowin.pcap", []connWant{{7013, "SF", "ShADawFdf"}}},
	// A UDP echo (both sides active) and a datagram nobody answers.
	{"udp.pcap", []connWant{{7053, "SF", "Dd"}, {7054, "S0", "D"}}},
	// sf.pcap's session over IPv6.
	{"sf6.pcap", []connWant{{7001, "SF", "ShADadFf"}}},
}

func TestConnStateCaptures(t *testing.T) {
	for _, tc := range connCases {
		t.Run(tc.file, func(t *testing.T) {
			_, col, _ := replay(t, connstateDir+tc.file, Config{Timeout: time.Minute, Period: -1}, nil)
			checkConn(t, col.Docs, tc.want)
		})
	}
}

func checkConn(t *testing.T, docs []map[string]any, want []connWant) {
	t.Helper()
	if len(docs) != len(want) {
		t.Fatalf("%d flow reports, want %d", len(docs), len(want))
	}
	for _, w := range want {
		var doc map[string]any
		for _, d := range docs {
			if d["destination"].(map[string]any)["port"] == w.port {
				doc = d
			}
		}
		if doc == nil {
			t.Errorf("no flow to port %v", w.port)
			continue
		}
		fl := doc["flow"].(map[string]any)
		if fl["conn_state"] != w.state || fl["history"] != w.history {
			t.Errorf("port %v: conn_state %v history %v, want %s %s", w.port, fl["conn_state"], fl["history"], w.state, w.history)
		}
		if src := doc["source"].(map[string]any)["ip"]; src != "10.98.0.1" && src != "fd98::1" {
			t.Errorf("port %v: source %v, want the originator 10.98.0.1 or fd98::1", w.port, src)
		}
	}
}

// replayTimes runs a capture through the link decoder into a table,
// feeding frame i times(i) times (0 drops it, 2 repeats it).
func replayTimes(t *testing.T, file string, times func(i int) int) []map[string]any {
	t.Helper()
	frames, lt := protocoltest.ReadFrames(t, file)
	dec, err := link.NewDecoder(lt, link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	col := &protocoltest.Collector{}
	tbl := New(Config{Timeout: time.Minute, Period: -1}, col)
	var p link.Packet
	for i, fr := range frames {
		for n := 0; n < times(i); n++ {
			if ok, _ := dec.Decode(fr.Data, fr.CI, &p); ok {
				tbl.Packet(&p)
			}
		}
	}
	tbl.Flush(frames[len(frames)-1].CI.Timestamp)
	return col.Docs
}

// A lost segment (the client's request, frame 4 of the real sf.pcap,
// dropped as capture loss would drop it): the server acknowledges sequence
// space the client was never seen to send, a content gap of the originator
// (G) right after the server's pure ACK.
func TestConnStateGap(t *testing.T) {
	docs := replayTimes(t, connstateDir+"sf.pcap", func(i int) int { return btoi(i != 3) })
	checkConn(t, docs, []connWant{{7001, "SF", "ShAaGdFf"}})
}

// A segment seen twice (the client's request repeated, as a retransmission
// looks on the wire): T for the originator.
func TestConnStateRetransmission(t *testing.T) {
	docs := replayTimes(t, connstateDir+"sf.pcap", func(i int) int { return 1 + btoi(i == 3) })
	checkConn(t, docs, []connWant{{7001, "SF", "ShADTadFf"}})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Zeek records t, w and g on the 1st, 10th, 100th... occurrence.
func TestScaledHistory(t *testing.T) {
	var s scaled
	var at []int
	for i := 1; i <= 1000; i++ {
		if s.hit() {
			at = append(at, i)
		}
	}
	if len(at) != 4 || at[0] != 1 || at[1] != 10 || at[2] != 100 || at[3] != 1000 {
		t.Errorf("letters at %v, want [1 10 100 1000]", at)
	}
}

// Repeated SYN, FIN and RST letters: again only when the sequence number
// changes (a new SYN after a reset reuses the flow, as port reuse does).
func TestConnStateRepeats(t *testing.T) {
	var c connState
	pkt := func(dir int, flags uint8, seq, ack uint32, n int) {
		p := link.Packet{Flags: flags, Seq: seq, Ack: ack, Window: 1000, Payload: make([]byte, n)}
		c.tcp(dir, &p)
	}
	const S, A, F, R = link.FlagSYN, link.FlagACK, link.FlagFIN, link.FlagRST
	pkt(0, S, 100, 0, 0)
	pkt(0, S, 100, 0, 0) // same SYN again: no letter
	pkt(1, S|A, 500, 101, 0)
	pkt(0, A, 101, 501, 0)
	pkt(0, A|F, 101, 501, 0)
	pkt(0, A|F, 101, 501, 0) // same FIN again: no letter
	pkt(1, A|R, 501, 102, 0)
	pkt(0, S, 9000, 0, 0) // a new connection on the same ports
	pkt(1, A|R, 0, 9001, 0)
	if h := string(c.hist[:c.nhist]); h != "ShAFrSr" {
		t.Errorf("history %q, want ShAFrSr", h)
	}
	// The flow is not split on reuse: the state stays that of the first
	// connection's endpoints (closed originator, reset responder).
	if s := c.state(6); s != "RSTR" {
		t.Errorf("state %s, want RSTR", s)
	}
}

// The flow.id every transaction carries is the id of its flow: the same
// key, whichever side the transaction calls source.
func TestTransactionFlowIDMatchesFlow(t *testing.T) {
	src, dst := netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
	k, _ := ecsmap.MakeFlowKey(6, dst, src, 7001, 43570, []uint16{7}, 0, 0) // a server packet
	var w ecsmap.Writer
	b := ecsmap.Base{Type: "http", IPProtocol: 6, VLANs: []uint16{7},
		Source:      ecsmap.Endpoint{IP: src, Port: 43570},
		Destination: ecsmap.Endpoint{IP: dst, Port: 7001}}
	doc := string(ecsmap.Encode(&w, baseEvent{&b}, &ecsmap.Meta{}))
	if want := `"flow":{"id":"` + k.ID() + `"}`; !strings.Contains(doc, want) {
		t.Errorf("%s lacks %s", doc, want)
	}
}

type baseEvent struct{ b *ecsmap.Base }

func (e baseEvent) EventBase() *ecsmap.Base    { return e.b }
func (e baseEvent) WriteFields(*ecsmap.Writer) {}

// FuzzConnState drives one TCP (or UDP) flow of the table with arbitrary
// segments: every 8-byte record is one packet (direction, flags, sequence
// and acknowledgement offsets, payload length, window). Invariants: no
// panic, conn_state from Zeek's vocabulary, history within its bound and
// made of Zeek's letters, the once-only letters once per side.
func FuzzConnState(f *testing.F) {
	// The handshake, data and close of sf.pcap, then junk.
	f.Add([]byte("\x00\x02\x00\x00\x00\x00\x00\x01" + "\x01\x12\x00\x00\x00\x01\x00\x01" +
		"\x00\x10\x00\x01\x00\x01\x00\x01" + "\x00\x18\x00\x01\x00\x01\x06\x01" +
		"\x01\x18\x00\x01\x00\x07\x0b\x01" + "\x00\x11\x00\x07\x00\x0c\x00\x01" +
		"\x01\x11\x00\x0c\x00\x08\x00\x01" + "\x00\x10\x00\x08\x00\x0d\x00\x01"))
	f.Add([]byte("\x00\x02\x00\x00\x00\x00\x00\x01" + "\x01\x14\x00\x00\x00\x01\x00\x00"))
	f.Add([]byte("\x00\x07\xff\xff\x80\x00\xff\x00" + "\x01\x05\x00\x00\x00\x00\x00\x40"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x05\x80" + "\x01\x00\x00\x00\x00\x00\x05\x80"))
	states := map[string]bool{}
	for _, s := range strings.Fields("S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH") {
		states[s] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var reports []*Event
		tbl := New(Config{Timeout: time.Minute, Period: time.Second}, publisherFunc(func(ev ecsmap.Event) {
			reports = append(reports, ev.(*Event))
		}))
		isn := [2]uint32{0xfffffff0, 7} // one side wraps
		addr := [2]netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}
		port := [2]uint16{40000, 80}
		now := time.Unix(1_700_000_000, 0)
		payload := make([]byte, 256)
		for ; len(data) >= 8; data = data[8:] {
			r := data[:8]
			d := int(r[0] & 1)
			p := link.Packet{Timestamp: now, IPVersion: 4, IPProto: 6, WireLen: 60,
				SrcIP: addr[d], DstIP: addr[1-d], SrcPort: port[d], DstPort: port[1-d],
				Flags: r[1] & 0x3f, Seq: isn[d] + uint32(binary.BigEndian.Uint16(r[2:4])),
				Ack: isn[1-d] + uint32(binary.BigEndian.Uint16(r[4:6])), Payload: payload[:r[6]]}
			if r[7]&1 != 0 {
				p.Window = 1000
			}
			if r[7]&0x80 != 0 {
				p.IPProto = 17
			}
			if r[7]&0x40 != 0 { // far jumps: sequence numbers anywhere
				p.Seq = binary.BigEndian.Uint32(r[2:6])
			}
			now = now.Add(time.Duration(r[0]>>1) * 10 * time.Millisecond)
			tbl.Packet(&p)
			tbl.Tick(now)
		}
		tbl.Flush(now)
		for _, ev := range reports {
			if ev.connState == "" {
				continue // not TCP or UDP
			}
			if !states[ev.connState] {
				t.Fatalf("conn_state %q", ev.connState)
			}
			h := ev.History()
			if len(h) > histMax || strings.Trim(h, "SHADFRTWGIQshadfrtwgiq") != "" {
				t.Fatalf("history %q", h)
			}
			for _, once := range "ADIQadiq" {
				if strings.Count(h, string(once)) > 1 {
					t.Fatalf("history %q repeats %c", h, once)
				}
			}
			if ev.connState == "RSTOS0" && !strings.HasPrefix(h, "S") {
				t.Fatalf("RSTOS0 with history %q", h)
			}
		}
	})
}

// tsharkLetters derives, from tshark's dissection of a capture
// (X.tshark.tsv, written by the capture script), which history letters
// each flow must show: per packet the letter of its flags (s, h, f, r,
// i, q, d, a as Zeek's table defines them), w for a zero window on a
// non-RST segment, d for a UDP datagram; upper case for the flow's first
// sender. Keyed by the server (destination) port of the first packet.
func tsharkLetters(t *testing.T, tsv string) map[float64]map[rune]bool {
	t.Helper()
	b, err := os.ReadFile(tsv)
	if err != nil {
		t.Fatal(err)
	}
	type flowKey struct{ a, b string }
	orig := map[flowKey]string{}
	port := map[flowKey]float64{}
	out := map[float64]map[rune]bool{}
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		c := strings.Split(line, "\t")
		if len(c) != 12 {
			t.Fatalf("%s: %q", tsv, line)
		}
		src := c[0] + c[1] // IPv4 or IPv6 source
		c = c[1:]          // then as before: flags from c[1]
		tcp := c[1] != ""
		sp, dp := c[9], c[10]
		if tcp {
			sp, dp = c[7], c[8]
		}
		from := src + ":" + sp
		k := flowKey{min(sp, dp), max(sp, dp)} // one address pair per capture
		if _, ok := orig[k]; !ok {
			orig[k] = from
			n, _ := strconv.Atoi(dp)
			port[k] = float64(n)
			out[port[k]] = map[rune]bool{}
		}
		var l rune
		syn, ack, fin, rst := c[1] == "1", c[2] == "1", c[3] == "1", c[4] == "1"
		switch {
		case !tcp:
			l = 'D'
		case btoi(syn)+btoi(fin)+btoi(rst) > 1 && fin && rst:
			l = 'I'
		case btoi(syn)+btoi(fin)+btoi(rst) > 1:
			l = 'Q'
		case syn && ack:
			l = 'H'
		case syn:
			l = 'S'
		case fin:
			l = 'F'
		case rst:
			l = 'R'
		case c[5] != "0":
			l = 'D'
		case ack:
			l = 'A'
		}
		lower := orig[k] != from
		add := func(l rune) {
			if lower {
				l = unicode.ToLower(l)
			}
			out[port[k]][l] = true
		}
		add(l)
		if tcp && c[6] == "0" && !rst {
			add('W')
		}
	}
	return out
}

// The history letters agree with tshark's dissection of the same packets:
// every letter a packet's flags call for is there, and no other (t and g
// come from sequence analysis, which the gap and retransmission tests
// cover).
func TestConnStateHistoryMatchesTshark(t *testing.T) {
	for _, tc := range connCases {
		want := tsharkLetters(t, connstateDir+strings.TrimSuffix(tc.file, ".pcap")+".tshark.tsv")
		for _, w := range tc.want {
			got := map[rune]bool{}
			for _, l := range w.history {
				if !strings.ContainsRune("TGtg", l) {
					got[l] = true
				}
			}
			if !maps.Equal(got, want[w.port]) {
				t.Errorf("%s port %v: history %s has letters %v, tshark's flags call for %v", tc.file, w.port, w.history, keys(got), keys(want[w.port]))
			}
		}
	}
}

func keys(m map[rune]bool) string {
	var s []string
	for l := range m {
		s = append(s, string(l))
	}
	sort.Strings(s)
	return strings.Join(s, "")
}

// The connection state costs no allocation per packet: real segments with
// payload, zero windows and closes, replayed over existing flows.
func TestConnStateNoAllocPerPacket(t *testing.T) {
	var pkts []link.Packet
	for _, f := range []string{"zerowin.pcap", "sf.pcap", "rstr.pcap", "udp.pcap"} {
		frames, lt := protocoltest.ReadFrames(t, connstateDir+f)
		dec, _ := link.NewDecoder(lt, link.Options{})
		for _, fr := range frames {
			var p link.Packet
			if ok, err := dec.Decode(fr.Data, fr.CI, &p); !ok || err != nil {
				t.Fatalf("%s: %v %v", f, ok, err)
			}
			p.Payload = append([]byte(nil), p.Payload...) // the decoder reuses its buffer
			pkts = append(pkts, p)
		}
	}
	tbl := New(Config{Timeout: time.Hour, Period: -1}, publisherFunc(func(ecsmap.Event) {}))
	for i := range pkts {
		tbl.Packet(&pkts[i])
	}
	allocs := testing.AllocsPerRun(50, func() {
		for i := range pkts {
			tbl.Packet(&pkts[i])
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per pass", allocs)
	}
}
