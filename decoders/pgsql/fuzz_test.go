package pgsql

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzConnection feeds arbitrary client and server bytes, in pieces and
// interleaved, with a gap now and then, and encodes every event: no panic,
// valid JSON, bounded pending bytes.
//
//	go test -fuzz FuzzConnection -fuzztime 20s ./decoders/pgsql/
func FuzzConnection(f *testing.F) {
	extended := cat(msg('P', "\x00SELECT $1;\x00", i16(0)), msg('B', "\x00\x00", i16(0), i16(0), i16(0)),
		msg('D', "P\x00"), msg('E', "\x00", i32(0)), msg('S'))
	extResp := cat(msg('1'), msg('2'), rowDesc("a"), dataRowMsg("1"), complete("SELECT 1"), ready)
	f.Add(cat(startup(), query("select 1; select 2")), cat(msg('R', i32(0)), ready, rowDesc("x", "y"), dataRowMsg("1", "2"), complete("SELECT 1"), msg('E', "SERROR\x00C22012\x00Mdivision by zero\x00\x00"), ready), byte(7), byte(0))
	f.Add(extended, extResp, byte(3), byte(1))
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, []byte("N"), byte(1), byte(0))
	f.Add(cat(query("copy t from stdin"), msg('d', "1\t2\n"), msg('c')), cat(msg('G', "\x00", i16(0)), complete("COPY 1"), ready), byte(5), byte(2))
	f.Add(query("x"), cat(msg('N', "SNOTICE\x00C00000\x00Mhi\x00\x00"), msg('I'), ready), byte(63), byte(9))
	f.Fuzz(func(t *testing.T, client, server []byte, split, gaps byte) {
		spec, _ := protocol.Lookup("pgsql")
		common, rest, err := protocol.SplitCommon(spec, map[string]any{"send_request": true, "send_response": true, "max_rows": 3, "max_row_length": 16})
		if err != nil {
			t.Fatal(err)
		}
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "pgsql"}
		inst, err := spec.New(common, rest, protocol.PublisherFunc(func(ev ecsmap.Event) {
			doc := ecsmap.Encode(&w, ev, &meta)
			if !json.Valid(doc) {
				t.Fatalf("invalid JSON: %s", doc)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:5432"), IPProtocol: 6}
		p := inst.TCP.NewConn(&conn)
		ts := time.Unix(1700000000, 0)
		step := int(split%32) + 1
		var pending [2][]byte
		data := [2][]byte{client, server}
		for i, round := 0, 0; i < max(len(client), len(server)); i, round = i+step, round+1 {
			for dir := range 2 {
				if i >= len(data[dir]) {
					continue
				}
				if gaps != 0 && round%int(gaps%16+1) == int(gaps%16) {
					p.Gap(protocol.Dir(dir), 10, ts)
					pending[dir] = nil
				}
				buf := append(pending[dir], data[dir][i:min(i+step, len(data[dir]))]...)
				n := p.Parse(protocol.Dir(dir), buf, ts)
				if n < 0 || n > len(buf) {
					t.Fatalf("consumed %d of %d", n, len(buf))
				}
				pending[dir] = append([]byte(nil), buf[n:]...)
				if len(pending[dir]) > maxParsed+maxStartup {
					t.Fatalf("%d bytes pending", len(pending[dir]))
				}
			}
			ts = ts.Add(time.Second)
			p.Expire(ts)
		}
		p.Fin(protocol.FromClient, ts)
		p.Close(ts)
	})
}
