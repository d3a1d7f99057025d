package flows

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/icmp/"

type frame struct {
	data []byte
	ci   gopacket.CaptureInfo
}

// readFrames loads every frame of a pcap into memory.
func readFrames(t testing.TB, path string) ([]frame, layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []frame
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		frames = append(frames, frame{bytes.Clone(data), ci})
	}
	return frames, r.LinkType()
}

// replay runs a pcap through the production link decoder into a table,
// ticking with packet time as the engine does, and flushes at the end.
// mutate may rewrite frames (e.g. add VLAN tags).
func replay(t testing.TB, path string, cfg Config, mutate func([]byte) []byte) (*Table, *protocoltest.Collector, int) {
	t.Helper()
	frames, lt := readFrames(t, path)
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
		data, ci := fr.data, fr.ci
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

// get walks a dotted path through a decoded document.
func get(doc map[string]any, path string) any {
	var cur any = doc
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '.' {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[path[start:i]]
			start = i + 1
		}
	}
	return cur
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
