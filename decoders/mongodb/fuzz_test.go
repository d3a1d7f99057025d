package mongodb

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// fuzzConn builds a parser whose events are encoded, so WriteFields runs on
// whatever the parser produced.
func fuzzConn(t testing.TB, events *int) protocol.TCPParser {
	spec, _ := protocol.Lookup("mongodb")
	c, o, err := protocol.SplitCommon(spec, map[string]any{"send_request": true, "send_response": true, "max_doc_length": 200})
	if err != nil {
		t.Fatal(err)
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "mongodb"}
	inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		ecsmap.Encode(&w, ev, &meta)
		*events++
	}))
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:27017"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn)
}

// msgFrame frames an OP_MSG with one body section.
func msgFrame(reqID, respTo int32, flags uint32, body []byte) []byte {
	b := make([]byte, 16, 16+5+len(body))
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = append(b, 0)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	binary.LittleEndian.PutUint32(b[4:], uint32(reqID))
	binary.LittleEndian.PutUint32(b[8:], uint32(respTo))
	binary.LittleEndian.PutUint32(b[12:], opMsg)
	return b
}

// doc builds {k: "v"}-style documents from string pairs.
func doc(kv ...string) []byte {
	b := []byte{0, 0, 0, 0}
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, 0x02)
		b = append(b, kv[i]...)
		b = append(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[i+1])+1))
		b = append(b, kv[i+1]...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// FuzzParse feeds arbitrary bytes both ways, whole and split: never a
// panic, never more consumed than given, and events always encode.
func FuzzParse(f *testing.F) {
	f.Add(msgFrame(1, 0, 0, doc("find", "c", "$db", "d")), msgFrame(2, 1, 0, doc("ok", "x")), byte(7))
	f.Add(msgFrame(1, 0, 1, doc("ping", "1")), msgFrame(2, 1, 0, doc("$err", "bad")), byte(3))
	// The first messages of the real captures.
	for _, name := range []string{"opmsg.pcap", "legacy.pcap"} {
		if b, err := os.ReadFile(filepath.Join(pcapDir, name)); err == nil && len(b) > 600 {
			f.Add(b[100:400], b[400:600], byte(16))
		}
	}
	f.Fuzz(func(t *testing.T, req, resp []byte, split byte) {
		events := 0
		p := fuzzConn(t, &events)
		ts := time.Unix(1700000000, 0)
		feed := func(dir protocol.Dir, data []byte) {
			step := int(split%64) + 1
			var held []byte
			for i := 0; i < len(data); i += step {
				held = append(held, data[i:min(i+step, len(data))]...)
				n := p.Parse(dir, held, ts)
				if n < 0 || n > len(held) {
					t.Fatalf("consumed %d of %d", n, len(held))
				}
				held = held[n:]
			}
		}
		feed(protocol.FromClient, req)
		feed(protocol.FromServer, resp)
		p.Expire(ts.Add(time.Hour))
		p.Close(ts)
	})
}

// FuzzBSON renders arbitrary documents: bounded output, no panic.
func FuzzBSON(f *testing.F) {
	f.Add(doc("a", "b", "c", "d"))
	f.Add([]byte{5, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := renderDoc(b, 100)
		if len(s) > 104 {
			t.Fatalf("%d bytes rendered", len(s))
		}
	})
}
