package cassandra

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func newConn(tb testing.TB, opts map[string]any, pub func(ecsmap.Event)) protocol.TCPParser {
	spec, _ := protocol.Lookup("cassandra")
	c, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := spec.New(c, o, protocol.PublisherFunc(pub))
	if err != nil {
		tb.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:9042"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn)
}

// payloads returns the TCP payloads of a capture, by direction.
func payloads(tb testing.TB, name string) (out [][2][]byte) {
	f, err := os.Open(pcapDir + "/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	src := gopacket.NewPacketSource(r, r.LinkType())
	for pkt := range src.Packets() {
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		var d [2][]byte
		if tcp.DstPort == 9042 {
			d[0] = tcp.Payload
		} else {
			d[1] = tcp.Payload
		}
		out = append(out, d)
	}
	return out
}

// FuzzParse feeds arbitrary bytes as client then server data, whole and
// split at a fuzzed point, with events encoded: no panic, consumed within
// bounds.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"v4.pcap", "v3_snappy.pcap"} {
		for _, p := range payloads(f, name) {
			if p[0] != nil {
				f.Add(p[0], []byte{}, uint8(0))
			} else {
				f.Add([]byte{}, p[1], uint8(0))
			}
		}
	}
	f.Fuzz(func(t *testing.T, req, resp []byte, split uint8) {
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "cassandra", KeepNull: true}
		c := newConn(t, map[string]any{"send_request": true, "send_response": true, "compressor": "snappy"},
			func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta) })
		ts := time.Unix(1700000000, 0)
		feed := func(dir protocol.Dir, b []byte) {
			var pending []byte
			cut := int(split) % (len(b) + 1)
			for _, part := range [][]byte{b[:cut], b[cut:]} {
				pending = append(pending, part...)
				n := c.Parse(dir, pending, ts)
				if n < 0 || n > len(pending) {
					t.Fatalf("consumed %d of %d", n, len(pending))
				}
				pending = pending[n:]
			}
		}
		// A request with stream 0 so that a fuzzed response can pair.
		feed(protocol.FromClient, []byte{4, 0, 0, 0, opQuery, 0, 0, 0, 0})
		feed(protocol.FromClient, req)
		feed(protocol.FromServer, resp)
		c.Gap(protocol.FromServer, 10, ts)
		c.Parse(protocol.FromServer, resp, ts)
		c.Expire(ts.Add(time.Minute))
		c.Close(ts)
	})
}
