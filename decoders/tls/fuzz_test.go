package tls

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzParse feeds arbitrary bytes as both directions of a connection, in
// pieces, and encodes whatever event comes out. The seeds are the real
// captures' streams (client bytes, then server bytes, per connection).
func FuzzParse(f *testing.F) {
	for _, name := range pcaps {
		for _, st := range readStreams(f, name) {
			var cl, sv []byte
			for _, s := range st.segs {
				if s.dir == protocol.FromClient {
					cl = append(cl, s.data...)
				} else {
					sv = append(sv, s.data...)
				}
			}
			f.Add(cl, sv, uint8(0))
			f.Add(cl, sv, uint8(37))
		}
	}
	opts := map[string]any{"fingerprints": []any{"sha1", "sha256", "md5"}, "include_raw_certificates": true}
	f.Fuzz(func(t *testing.T, cl, sv []byte, split uint8) {
		spec, _ := protocol.Lookup("tls")
		common, o, err := protocol.SplitCommon(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "tls", KeepNull: split&1 == 1}
		inst, err := spec.New(common, o, protocol.PublisherFunc(func(ev ecsmap.Event) {
			ecsmap.Encode(&w, ev, &meta)
		}))
		if err != nil {
			t.Fatal(err)
		}
		conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443"), IPProtocol: 6}
		c := inst.TCP.NewConn(&conn)
		ts := time.Unix(1700000000, 0)
		// Small pieces exercise reassembly, but a piece at a time costs a
		// copy of what waits (up to a record): keep big inputs in big pieces.
		step := int(split)*61 + 1
		if len(cl)+len(sv) > 32<<10 {
			step += 4096
		}
		var pending [2][]byte
		data := [2][]byte{cl, sv}
		// Alternate directions a piece at a time, as a conversation would.
		for i := 0; len(data[0]) > 0 || len(data[1]) > 0; i++ {
			d := i & 1
			n := min(step, len(data[d]))
			buf := append(pending[d], data[d][:n]...)
			data[d] = data[d][n:]
			used := c.Parse(protocol.Dir(d), buf, ts)
			if used < 0 || used > len(buf) {
				t.Fatalf("consumed %d of %d", used, len(buf))
			}
			pending[d] = append([]byte(nil), buf[used:]...)
			// A record is at most 5+maxRecordLen bytes: more left waiting
			// means the parser is holding data it should have consumed.
			if len(pending[d]) > 5+maxRecordLen {
				t.Fatalf("%d bytes pending", len(pending[d]))
			}
		}
		c.Expire(ts.Add(time.Minute))
		c.Close(ts)
	})
}
