package redis

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// fuzzConn builds a parser whose events are encoded, so WriteFields runs on
// whatever the parser produced.
func fuzzConn(t *testing.T) protocol.TCPParser {
	spec, _ := protocol.Lookup("redis")
	c, o, err := protocol.SplitCommon(spec, map[string]any{
		"send_request": true, "send_response": true, "queue_max_messages": 8, "queue_max_bytes": 4096, "transaction_timeout": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	var w ecsmap.Writer
	meta := ecsmap.Meta{Dataset: "redis", KeepNull: true}
	inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta) }))
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1234"), Server: netip.MustParseAddrPort("10.0.0.2:6379"), IPProtocol: 6}
	return inst.TCP.NewConn(&conn)
}

// FuzzParse checks the parser alone: whatever the split, it never
// consumes more than it got, never leaves more than a line's worth
// pending, and a whole-buffer parse agrees with a byte-split one.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"*3\r\n$3\r\nSET\r\n$4\r\nkey3\r\n$2\r\nme\r\n", "PING\r\nGET a\r\n",
		"%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n,2.5\r\n", "$?\r\n;4\r\nHell\r\n;0\r\n",
		"|1\r\n+a\r\n:1\r\n*?\r\n#t\r\n_\r\n.\r\n", "=8\r\ntxt:abcd\r\n!3\r\nERR\r\n",
	} {
		f.Add([]byte(s), true, byte(1))
		f.Add([]byte(s), false, byte(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, isReq bool, split byte) {
		whole, errWhole := parseAll(isReq, string(data), max(len(data), 1))
		step := int(split%32) + 1
		parts, errParts := parseAll(isReq, string(data), step)
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("whole: %v, split %d: %v", errWhole, step, errParts)
		}
		if errWhole == nil && len(whole) != len(parts) {
			t.Fatalf("whole %q, split %q", whole, parts)
		}
		for i := range whole {
			if i < len(parts) && whole[i] != parts[i] {
				t.Fatalf("message %d: whole %q split %q", i, whole[i], parts[i])
			}
		}
	})
}

// FuzzStream interleaves both directions, gaps, FINs and expiry, driven by
// [op, len] pairs at the front of the input.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 40, 1, 10, 0, 60, 1, 60}, []byte(cmd("GET", "a")+"$1\r\nA\r\n"+cmd("SUBSCRIBE", "x", "y")+"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\ny\r\n:2\r\n"))
	f.Add([]byte{1, 200, 4, 0, 0, 200, 6, 3}, []byte(">3\r\n+message\r\n+x\r\n+hi\r\nPING\r\n+PONG\r\n"))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		p := fuzzConn(t)
		var pending [2][]byte
		ts := time.Unix(1700000000, 0)
		for i := 0; i+1 < len(ops) && len(data) > 0; i += 2 {
			dir := protocol.Dir(ops[i] & 1)
			n := min(int(ops[i+1])+1, len(data))
			ts = ts.Add(time.Duration(ops[i+1]) * 10 * time.Millisecond)
			switch ops[i] >> 1 & 3 {
			case 0, 1:
				buf := append(pending[dir], data[:n]...)
				c := p.Parse(dir, buf, ts)
				if c < 0 || c > len(buf) {
					t.Fatalf("consumed %d of %d", c, len(buf))
				}
				pending[dir] = append([]byte(nil), buf[c:]...)
				if len(pending[dir]) > maxLineBytes+1 {
					t.Fatalf("%d bytes left pending", len(pending[dir]))
				}
			case 2:
				pending[dir] = nil
				p.Gap(dir, int(binary.LittleEndian.Uint16(append(data[:min(2, len(data))], 0, 0))), ts)
			case 3:
				p.Fin(dir, ts)
			}
			data = data[n:]
			p.Expire(ts)
		}
		p.Close(ts)
	})
}
