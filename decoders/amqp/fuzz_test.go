package amqp

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

type segment struct {
	dir     protocol.Dir
	payload []byte
}

// segments returns the TCP payloads of the capture in order.
func segments(t testing.TB, name string) []segment {
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []segment
	src := gopacket.NewPacketSource(r, r.LinkType())
	for pkt := range src.Packets() {
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || len(tcp.Payload) == 0 {
			continue
		}
		d := protocol.FromClient
		if tcp.DstPort != 5672 {
			d = protocol.FromServer
		}
		out = append(out, segment{d, tcp.Payload})
	}
	return out
}

// streamBytes returns the concatenated TCP payloads of one direction of the
// capture (seeds for the fuzzer: real RabbitMQ conversations).
func streamBytes(t testing.TB, name string, toServer bool) []byte {
	var out []byte
	for _, s := range segments(t, name) {
		if (s.dir == protocol.FromClient) == toServer {
			out = append(out, s.payload...)
		}
	}
	return out
}

// FuzzParse feeds arbitrary bytes to both directions of a connection in
// pieces whose sizes come from the input, with a gap now and then, and
// encodes every event (so WriteFields runs on whatever the parser built).
// Nothing may panic, every event must be valid JSON, and the bytes left
// unconsumed must stay within the frame bound.
func FuzzParse(f *testing.F) {
	// Seeds are a few hundred bytes of the real conversations, starting at
	// a frame: the fuzzer minimises every input that finds new coverage,
	// and with whole captures a short run is spent minimising.
	at := func(b []byte, class, id uint16, n int) []byte {
		pat := []byte{byte(class >> 8), byte(class), byte(id >> 8), byte(id)}
		i := bytes.Index(b, pat)
		if i < 7 {
			f.Fatalf("method %d.%d not in the capture", class, id)
		}
		return b[i-7 : min(i-7+n, len(b))]
	}
	sc, ss := streamBytes(f, "session.pcap", true), streamBytes(f, "session.pcap", false)
	f.Add(at(sc, 60, 40, 400), at(ss, 60, 71, 400), byte(7))   // publish with headers; get-ok
	f.Add(at(sc, 50, 10, 300), at(ss, 20, 40, 300), byte(251)) // queue.declare; channel.close 406
	f.Add(at(sc, 10, 11, 200), at(ss, 10, 10, 300), byte(64))  // start-ok; start
	f.Add([]byte("AMQP\x00\x00\x09\x01"), []byte{1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 10, 0xce}, byte(1))
	f.Fuzz(runFuzzBody)
}

func runFuzzBody(t *testing.T, client, server []byte, split byte) {
	{
		opts := map[string]any{"send_request": true, "send_response": true,
			"hide_connection_information": split&1 == 0, "keep_null": split&2 == 0, "max_body_length": 64}
		spec, _ := protocol.Lookup("amqp")
		c, o, err := protocol.SplitCommon(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "amqp"}
		inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
			doc := ecsmap.Encode(&w, ev, &meta)
			if !json.Valid(doc) {
				t.Fatalf("invalid JSON: %s", doc)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:5672"), IPProtocol: 6}
		p := inst.TCP.NewConn(&conn)
		ts := time.Unix(1700000000, 0)
		step := int(split%97) + 1
		var pend [2][]byte
		data := [2][]byte{client, server}
		for i := 0; i < max(len(client), len(server)); i += step {
			for d := range 2 {
				if i >= len(data[d]) {
					continue
				}
				if split > 240 && i%(step*5) == step {
					p.Gap(protocol.Dir(d), step, ts)
					pend[d] = nil
					continue
				}
				buf := append(pend[d], data[d][i:min(i+step, len(data[d]))]...)
				n := p.Parse(protocol.Dir(d), buf, ts)
				if n < 0 || n > len(buf) {
					t.Fatalf("consumed %d of %d", n, len(buf))
				}
				pend[d] = append([]byte(nil), buf[n:]...)
				if len(pend[d]) > maxFrameSize+frameOverhead {
					t.Fatalf("%d bytes pending", len(pend[d]))
				}
			}
			ts = ts.Add(time.Second)
			if i%(step*8) == 0 {
				p.Expire(ts)
			}
		}
		p.Fin(protocol.FromClient, ts)
		p.Close(ts)
	}
}

// FuzzTable renders arbitrary field tables: no panic, valid JSON or an error.
func FuzzTable(f *testing.F) {
	f.Add([]byte("\x06tenantS\x00\x00\x00\x04acme\x05tagsA\x00\x00\x00\x07S\x00\x00\x00\x01a"))
	f.Fuzz(func(t *testing.T, tbl []byte) {
		var w ecsmap.Writer
		w.KeepNull = len(tbl)%2 == 0
		out, err := renderTable(&w, tbl)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, tbl)
		}
	})
}
