package thrift

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// fuzzRun feeds data split into step-byte segments the way the engine
// does (unconsumed bytes kept and handed back with the next segment),
// alternating directions at 0xF0 marker bytes, and returns the encoded
// events and the parse error count.
func fuzzRun(t *testing.T, data []byte, framed bool, step int) ([]string, int64) {
	spec, _ := protocol.Lookup("thrift")
	opts := map[string]any{"send_request": true, "send_response": true, "collection_max_size": 3,
		"string_max_size": 8, "drop_after_n_struct_fields": 20}
	if framed {
		opts["transport_type"] = "framed"
	}
	c, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "thrift", KeepNull: true}
	var out []string
	inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
		b := ecsmap.Encode(&w, ev, &meta)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		out = append(out, string(b))
	}))
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:9090"), IPProtocol: 6}
	p := inst.TCP.NewConn(&conn)
	var tail [2][]byte
	dir := protocol.FromClient
	ts := time.Unix(1700000000, 0)
	for off := 0; off < len(data); off += step {
		seg := data[off:min(off+step, len(data))]
		buf := append(tail[dir], seg...)
		for len(buf) > 0 {
			n := p.Parse(dir, buf, ts)
			if n < 0 || n > len(buf) {
				t.Fatalf("consumed %d of %d", n, len(buf))
			}
			if n == 0 {
				break
			}
			buf = buf[n:]
		}
		tail[dir] = append([]byte(nil), buf...)
		if len(seg) > 0 && seg[len(seg)-1] == 0xF0 {
			dir ^= 1
		}
	}
	p.Expire(ts.Add(time.Minute))
	p.Close(ts)
	return out, inst.TCP.(*Protocol).stats.ParseErrors.Load()
}

// FuzzParse: no panic, no over-consumption, valid JSON whatever the bytes
// and segmentation.
func FuzzParse(f *testing.F) {
	add := callMsg("add", 1, 1, 2)
	f.Add(add, false, byte(3))
	f.Add(append(add, result("add", 1, 3)...), false, byte(7))
	f.Add([]byte(append(enc(nil).i32(int32(len(add))), add...)), true, byte(5))
	f.Add([]byte(enc(nil).i32(strictHeader(mCall)).str("m").i32(0).
		field(tMap, 1).i8(tString).i8(tList).i32(1).str("k").i8(tSet).i32(2).i32(1).i32(2).
		field(tString, 2).str("héllo wörld, long string").stop()), false, byte(1))
	f.Fuzz(func(t *testing.T, data []byte, framed bool, step byte) {
		fuzzRun(t, data, framed, int(step%64)+1)
	})
}
