package tls

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

const pcapDir = "../../_dev/pcaps/tls"

// segment is one TCP payload of a connection in capture order.
type segment struct {
	dir  protocol.Dir
	data []byte
	ts   time.Time
}

// tcpStream is a connection read straight from a clean loopback capture
// (no loss, no retransmission): its payloads in order.
type tcpStream struct {
	conn protocol.Conn
	segs []segment
}

// readStreams splits a pcap into its TCP connections; the client is the
// side that sent the SYN.
func readStreams(t testing.TB, name string) []*tcpStream {
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
	type key struct{ a, b netip.AddrPort }
	byKey := map[key]*tcpStream{}
	var out []*tcpStream
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, ok2 := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || !ok2 {
			continue
		}
		s, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		d, _ := netip.AddrFromSlice(ip.DstIP.To4())
		from, to := netip.AddrPortFrom(s, uint16(tcp.SrcPort)), netip.AddrPortFrom(d, uint16(tcp.DstPort))
		st, dir := byKey[key{from, to}], protocol.FromClient
		if st == nil {
			if st = byKey[key{to, from}]; st != nil {
				dir = protocol.FromServer
			}
		}
		if st == nil {
			if !tcp.SYN || tcp.ACK {
				continue
			}
			st = &tcpStream{conn: protocol.Conn{Client: from, Server: to, IPProtocol: 6}}
			byKey[key{from, to}] = st
			out = append(out, st)
		}
		if len(tcp.Payload) > 0 {
			st.segs = append(st.segs, segment{dir, append([]byte(nil), tcp.Payload...), ci.Timestamp})
		}
	}
	return out
}

// collector encodes every event it gets.
type collector struct {
	events []*Event
	docs   []map[string]any
	w      ecsmap.Writer
}

func (c *collector) Publish(ev ecsmap.Event) {
	raw := ecsmap.Encode(&c.w, ev, &ecsmap.Meta{Dataset: "tls"})
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	c.events = append(c.events, ev.(*Event))
	c.docs = append(c.docs, m)
}

func newProto(t testing.TB, opts map[string]any) (*Protocol, *collector) {
	t.Helper()
	spec, _ := protocol.Lookup("tls")
	common, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	inst, err := spec.New(common, o, col)
	if err != nil {
		t.Fatal(err)
	}
	return inst.TCP.(*Protocol), col
}

// feed replays a stream into a new parser, handing each direction's bytes
// in pieces of at most chunk bytes (0: whole segments) and keeping the
// unconsumed tail as the engine does.
func feed(t testing.TB, p *Protocol, st *tcpStream, chunk int) {
	conn := st.conn
	c := p.NewConn(&conn)
	var pending [2][]byte
	var last time.Time
	for _, s := range st.segs {
		data := s.data
		for len(data) > 0 {
			n := len(data)
			if chunk > 0 && n > chunk {
				n = chunk
			}
			buf := append(pending[s.dir], data[:n]...)
			used := c.Parse(s.dir, buf, s.ts)
			if used < 0 || used > len(buf) {
				t.Fatalf("consumed %d of %d", used, len(buf))
			}
			pending[s.dir] = append([]byte(nil), buf[used:]...)
			data = data[n:]
		}
		last = s.ts
	}
	c.Close(last)
}

func byPort(docs []map[string]any) map[int]map[string]any {
	m := map[int]map[string]any{}
	for _, d := range docs {
		m[int(protocoltest.Get(d, "source.port").(float64))] = d
	}
	return m
}

func sortedKeys(m map[int]map[string]any) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}
