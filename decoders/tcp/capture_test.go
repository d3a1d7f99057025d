package tcp

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// The capture and tshark's stream dumps come from _dev/capture/tcp.sh.
const pcapDir = "../../_dev/pcaps/tcp"

// readPackets decodes every TCP packet of a capture. Payloads alias the
// frames read, which stay alive.
func readPackets(t testing.TB, name string) []link.Packet {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	d, err := link.NewDecoder(r.LinkType(), link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []link.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		var p link.Packet
		if ok, err := d.Decode(data, ci, &p); ok && p.IPProto == 6 {
			out = append(out, p)
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// follow is one tshark "Follow TCP stream" dump: node 0 is the side that
// sent the first packet (the client here), lines indented by a tab are
// node 1's.
type follow struct {
	node [2]netip.AddrPort
	data [2][]byte
}

func readFollow(t *testing.T, name string) follow {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fl follow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Node 0: "):
			fl.node[0] = netip.MustParseAddrPort(strings.TrimPrefix(line, "Node 0: "))
		case strings.HasPrefix(line, "Node 1: "):
			fl.node[1] = netip.MustParseAddrPort(strings.TrimPrefix(line, "Node 1: "))
		case strings.HasPrefix(line, "=") || strings.Contains(line, ":"):
		default:
			n := 0
			if strings.HasPrefix(line, "\t") {
				n, line = 1, line[1:]
			}
			b, err := hex.DecodeString(line)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			fl.data[n] = append(fl.data[n], b...)
		}
	}
	if !fl.node[0].IsValid() {
		t.Fatalf("%s: no node lines", name)
	}
	return fl
}

// runCapture feeds packets to an assembler whose parsers record everything
// and returns the recorders by client endpoint.
func runCapture(t *testing.T, pkts []link.Packet, cfg Config) (map[netip.AddrPort]*recorder, *Assembler) {
	recs := map[netip.AddrPort]*recorder{}
	a := NewAssembler(cfg, func(c *protocol.Conn) protocol.TCPParser {
		if c.Server.Port() != 6390 {
			return nil
		}
		r := &recorder{conn: *c}
		recs[c.Client] = r
		return r
	})
	for i := range pkts {
		a.Packet(&pkts[i])
	}
	a.FlushAll(pkts[len(pkts)-1].Timestamp)
	return recs, a
}

func checkAgainstFollow(t *testing.T, recs map[netip.AddrPort]*recorder) {
	t.Helper()
	for n := range 4 {
		fl := readFollow(t, "redis.follow"+string(rune('0'+n))+".txt")
		r := recs[fl.node[0]]
		if r == nil {
			t.Errorf("stream %d: no connection from %v", n, fl.node[0])
			continue
		}
		if r.conn.Server != fl.node[1] {
			t.Errorf("stream %d: server %v, tshark %v", n, r.conn.Server, fl.node[1])
		}
		for d := range 2 {
			if string(r.data[d]) != string(fl.data[d]) {
				t.Errorf("stream %d dir %d: %d bytes delivered, tshark follow has %d (equal prefix %v)",
					n, d, len(r.data[d]), len(fl.data[d]),
					strings.HasPrefix(string(fl.data[d]), string(r.data[d])))
			}
		}
		if len(fl.data[0]) == 0 || len(fl.data[1]) == 0 {
			t.Errorf("stream %d: empty direction in tshark dump", n)
		}
		if got := strings.Join(r.events, ","); got != "fin client,fin server,close" && got != "fin server,fin client,close" {
			t.Errorf("stream %d: events %q", n, got)
		}
	}
}

// TestRedisCaptureMatchesTsharkFollow: the bytes delivered per direction are
// exactly tshark's "Follow TCP stream" content.
func TestRedisCaptureMatchesTsharkFollow(t *testing.T) {
	pkts := readPackets(t, "redis.pcap")
	recs, a := runCapture(t, pkts, Config{})
	checkAgainstFollow(t, recs)
	if st := a.Stats(); st.Gaps != 0 || st.Connections != 4 || st.Active != 0 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRedisCaptureReordered replays the same capture with every run of
// consecutive same-direction data segments reversed and its last segment
// sent twice: out-of-order buffering and retransmit trimming must still
// produce tshark's bytes.
func TestRedisCaptureReordered(t *testing.T) {
	pkts := readPackets(t, "redis.pcap")
	var out []link.Packet
	for i := 0; i < len(pkts); {
		j := i
		for j < len(pkts) && len(pkts[j].Payload) > 0 && pkts[j].Flags&(link.FlagFIN|link.FlagSYN|link.FlagRST) == 0 &&
			pkts[j].SrcPort == pkts[i].SrcPort && pkts[j].SrcIP == pkts[i].SrcIP {
			j++
		}
		if j == i {
			out = append(out, pkts[i])
			i++
			continue
		}
		for k := j - 1; k >= i; k-- {
			out = append(out, pkts[k])
		}
		out = append(out, pkts[j-1])
		i = j
	}
	recs, a := runCapture(t, out, Config{})
	checkAgainstFollow(t, recs)
	st := a.Stats()
	if st.OutOfOrder == 0 || st.Retransmits == 0 || st.Gaps != 0 {
		t.Errorf("reordering not exercised: %+v", st)
	}
}

func BenchmarkRedisCapture(b *testing.B) {
	pkts := readPackets(b, "redis.pcap")
	var sink int
	parser := &countParser{n: &sink}
	a := NewAssembler(Config{}, func(c *protocol.Conn) protocol.TCPParser { return parser })
	var bytes int64
	for _, p := range pkts {
		bytes += int64(len(p.Payload))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range pkts {
			a.Packet(&pkts[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// countParser consumes everything, counting bytes; shared by connections.
type countParser struct{ n *int }

func (c *countParser) Parse(d protocol.Dir, data []byte, _ time.Time) int {
	*c.n += len(data)
	return len(data)
}
func (*countParser) Gap(protocol.Dir, int, time.Time) {}
func (*countParser) Fin(protocol.Dir, time.Time)      {}
func (*countParser) Expire(time.Time)                 {}
func (*countParser) Close(time.Time)                  {}
