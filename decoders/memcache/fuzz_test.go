package memcache

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzParse feeds arbitrary bytes to both directions of a TCP connection
// (split at an arbitrary point, as segments) and as UDP datagrams, encoding
// every event so WriteFields runs on whatever the parser produced. It must
// never panic, and unconsumed data must stay within the bounds.
func FuzzParse(f *testing.F) {
	f.Add([]byte(textExchangeReq), []byte(textExchangeResp), uint16(7))
	f.Add([]byte(binMsg(0x80, 0x01, "bk", "\x00\x00\x00\x01\x00\x00\x00\x00", "vvv", 9, 0)+binMsg(0x80, 0x10, "", "", "", 10, 0)),
		[]byte(binMsg(0x81, 0x01, "", "", "", 9, 0)+binMsg(0x81, 0x10, "pid", "", "42", 10, 0)+binMsg(0x81, 0x10, "", "", "", 10, 0)), uint16(30))
	f.Add([]byte("get a b c\r\n"), []byte("VALUE a 0 1\r\nx\r\nVALUE b 1 2 99\r\nyy\r\nEND\r\n"), uint16(3))
	f.Add([]byte(string(udpDatagram(1, 0, 1, "incr k 1\r\n"))), []byte(string(udpDatagram(1, 0, 1, "5\r\n"))), uint16(0))
	f.Fuzz(func(t *testing.T, req, resp []byte, split uint16) {
		spec, _ := protocol.Lookup("memcache")
		common, opts, err := protocol.SplitCommon(spec, map[string]any{
			"maxvalues": -1, "maxbytespervalue": 16, "parseunknown": true, "send_request": true,
		})
		if err != nil {
			t.Fatal(err)
		}
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "memcache"}
		inst, err := spec.New(common, opts, protocol.PublisherFunc(func(ev ecsmap.Event) {
			ecsmap.Encode(&w, ev, &meta)
		}))
		if err != nil {
			t.Fatal(err)
		}
		conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:11211"), IPProtocol: 6}
		c := inst.TCP.NewConn(&conn)
		ts := time.Unix(1700000000, 0)
		var pending [2][]byte
		feed := func(dir protocol.Dir, b []byte) {
			buf := append(pending[dir], b...)
			n := c.Parse(dir, buf, ts)
			if n < 0 || n > len(buf) {
				t.Fatalf("consumed %d of %d", n, len(buf))
			}
			pending[dir] = append([]byte(nil), buf[n:]...)
			if len(pending[dir]) > maxLineBytes+binHeaderLen+1<<16+256 {
				t.Fatalf("%d bytes left unconsumed", len(pending[dir]))
			}
		}
		s := min(int(split), len(req))
		feed(protocol.FromClient, req[:s])
		feed(protocol.FromServer, resp[:min(int(split), len(resp))])
		feed(protocol.FromClient, req[s:])
		c.Gap(protocol.FromServer, int(split)%7, ts)
		feed(protocol.FromServer, resp[min(int(split), len(resp)):])
		c.Expire(ts.Add(time.Minute))
		c.Close(ts)

		uconn := conn
		uconn.IPProtocol = 17
		inst.UDP.Datagram(&uconn, protocol.FromClient, req, ts)
		inst.UDP.Datagram(&uconn, protocol.FromServer, resp, ts)
		if len(resp) > 8 {
			inst.UDP.Datagram(&uconn, protocol.FromServer, resp[:len(resp)/2], ts)
		}
		inst.UDP.Expire(ts.Add(time.Minute))
		inst.UDP.Flush()
	})
}
