package mysql

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

var fuzzOpts = map[string]any{"send_request": true, "send_response": true, "max_rows": 3, "max_row_length": 16}

// check asserts the bounds the parser promises whatever it is fed.
func check(t *testing.T, h *harness) {
	for d, p := range h.pending {
		if len(p) > maxInspect+4+4 {
			t.Fatalf("dir %d: %d bytes left pending", d, len(p))
		}
	}
	c := h.c.(*connection)
	if len(c.queue) > maxQueue || len(c.stmts) > maxStatements {
		t.Fatalf("queue %d, statements %d", len(c.queue), len(c.stmts))
	}
}

// feed delivers data in pieces of the size split suggests.
func feed(t *testing.T, h *harness, dir protocol.Dir, data []byte, split byte) {
	step := int(split%64) + 1
	for i := 0; i < len(data); i += step {
		h.send(dir, data[i:min(i+step, len(data))])
		check(t, h)
	}
}

func seeds(f *testing.F) {
	var all []byte
	for _, s := range conversation(false) {
		all = append(all, s.data...)
	}
	f.Add(all, byte(7))
	f.Add(resultSet(true, []string{"a", "NULL"}, []string{"b", "2"}), byte(3))
	f.Add(append(pkt(1, []byte{0}, u32(1), u16(1), u16(2), []byte{0}, u16(0)), colDef(2, "", "", "?")...), byte(1))
	f.Add(pkt(0, []byte{comStmtExecute}, u32(1), []byte{0}, u32(1), []byte{0, 1, typeDateTime, 0, typeTime, 0},
		[]byte{7, 0xe8, 0x07, 1, 2, 3, 4, 5}, []byte{8, 1, 1, 0, 0, 0, 2, 3, 4}), byte(60))
	f.Add(greeting(capsDep|capCompress), byte(5))
}

// FuzzServer feeds arbitrary server bytes after one request of each kind.
func FuzzServer(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		h := newHarness(t, fuzzOpts)
		h.send(protocol.FromClient, pkt(0, []byte{comStmtPrepare}, []byte("SELECT ?")))
		h.send(protocol.FromClient, query("SELECT 1"))
		feed(t, h, protocol.FromServer, data, split)
		h.c.Close(h.ts)
	})
}

// FuzzClient feeds arbitrary client bytes, with a known statement 1 of two
// parameters so executions get their parameters decoded.
func FuzzClient(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split byte) {
		h := newHarness(t, fuzzOpts)
		h.send(protocol.FromClient, pkt(0, []byte{comStmtPrepare}, []byte("SELECT ?, ?")))
		h.send(protocol.FromServer, append(pkt(1, []byte{0}, u32(1), u16(0), u16(2), []byte{0}, u16(0)),
			append(colDef(2, "", "", "?"), colDef(3, "", "", "?")...)...))
		feed(t, h, protocol.FromClient, data, split)
		h.send(protocol.FromServer, okp(1, 0, 0, 2))
		h.c.Expire(h.ts.Add(time.Hour))
		h.c.Close(h.ts)
	})
}

// FuzzStream interleaves both directions, gaps and FINs, driven by [op,
// len] pairs at the front of the input.
func FuzzStream(f *testing.F) {
	var conv []byte
	var ops []byte
	for _, s := range conversation(true) {
		conv = append(conv, s.data...)
		ops = append(ops, byte(s.dir), byte(len(s.data)-1))
	}
	f.Add(ops, conv)
	f.Add([]byte{1, 200, 4, 0, 1, 200, 6, 0}, conv)
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		h := newHarness(t, fuzzOpts)
		for i := 0; i+1 < len(ops) && len(data) > 0; i += 2 {
			dir := protocol.Dir(ops[i] & 1)
			n := min(int(ops[i+1])+1, len(data))
			switch ops[i] >> 1 & 3 {
			case 0, 1:
				h.send(dir, data[:n])
			case 2:
				h.gap(dir, int(binary.LittleEndian.Uint16(append(data[:min(2, len(data))], 0, 0))))
			case 3:
				h.c.Fin(dir, h.ts)
			}
			check(t, h)
			data = data[n:]
			h.c.Expire(h.ts)
		}
		h.c.Close(h.ts)
	})
}
