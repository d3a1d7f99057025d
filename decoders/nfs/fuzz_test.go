package nfs

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// FuzzStream feeds both directions with splits, gaps, expiry and close,
// driven by [op, len] pairs; it checks the parser never consumes more
// than it got and never leaves more than a header's worth pending.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 200, 1, 200}, append(record(call(1, 3, 3, be(0, 4, 1))), record(reply(1, 0, 0))...))
	args := append(be(0, 0, 3, opPutrootfh, opGetfh, 26), make([]byte, 16)...)
	f.Add([]byte{0, 3, 0, 255, 1, 255, 4, 9}, append(record(call(2, 4, 1, args)), record(reply(2, 0, 10008))...))
	f.Add([]byte{0, 40, 2, 7, 0, 255}, append(be(8), record(call(3, 4, 1, be(1000, 0)))...))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		c, _, _ := newTestConn(t, map[string]any{"transaction_timeout": "1s", "max_pending_calls": 4})
		var pending [2][]byte
		ts := time.Unix(1700000000, 0)
		for i := 0; i+1 < len(ops) && len(data) > 0; i += 2 {
			dir := protocol.Dir(ops[i] & 1)
			n := min(int(ops[i+1])+1, len(data))
			ts = ts.Add(time.Duration(ops[i+1]) * 10 * time.Millisecond)
			switch ops[i] >> 1 & 3 {
			case 0, 1:
				buf := append(pending[dir], data[:n]...)
				k := c.Parse(dir, buf, ts)
				if k < 0 || k > len(buf) {
					t.Fatalf("consumed %d of %d", k, len(buf))
				}
				pending[dir] = append([]byte(nil), buf[k:]...)
				if len(pending[dir]) > headLimit+4 {
					t.Fatalf("%d bytes left pending", len(pending[dir]))
				}
			case 2:
				pending[dir] = nil
				c.Gap(dir, int(binary.LittleEndian.Uint16(append(data[:min(2, len(data))], 0, 0))), ts)
			case 3:
				c.Fin(dir, ts)
			}
			data = data[n:]
			c.Expire(ts)
		}
		c.Close(ts)
	})
}
