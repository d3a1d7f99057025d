package flows

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/icmp/"

// replay runs a pcap through the production link decoder into a table,
// ticking with packet time as the engine does, and flushes at the end.
// mutate may rewrite frames (e.g. add VLAN tags).
func replay(t testing.TB, path string, cfg Config, mutate func([]byte) []byte) (*Table, *protocoltest.Collector, int) {
	t.Helper()
	frames, lt := protocoltest.ReadFrames(t, path)
	dec, err := link.NewDecoder(lt, link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	col := &protocoltest.Collector{}
	col.Meta.Dataset = "flow"
	tbl := New(cfg, col)
	var p link.Packet
	var last time.Time
	for _, fr := range frames {
		data, ci := fr.Data, fr.CI
		if mutate != nil {
			data = mutate(data)
			ci.CaptureLength, ci.Length = len(data), len(data)
		}
		ok, err := dec.Decode(data, ci, &p)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if ok {
			tbl.Packet(&p)
		} else if p.Tunnel.N > 0 {
			tbl.Underlay(&p) // as the capture loop does
		}
		tbl.Tick(ci.Timestamp)
		last = ci.Timestamp
	}
	beforeFlush := len(col.Docs)
	tbl.Flush(last)
	return tbl, col, beforeFlush
}

// withVLANs inserts 802.1Q tags (outer first) into an Ethernet frame.
func withVLANs(ids ...uint16) func([]byte) []byte {
	return func(f []byte) []byte {
		out := make([]byte, 0, len(f)+4*len(ids))
		out = append(out, f[:12]...)
		for i, id := range ids {
			tpid := uint16(0x8100)
			if i == 0 && len(ids) > 1 {
				tpid = 0x88a8
			}
			out = binary.BigEndian.AppendUint16(out, tpid)
			out = binary.BigEndian.AppendUint16(out, id)
		}
		return append(out, f[12:]...)
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
