package icmp

import (
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/icmp/"

// replay decodes a pcap with the production link decoder and feeds every
// ICMP packet to a tracker, ticking it with packet time as the engine does.
// mutate, when set, may rewrite each frame first (e.g. to add a VLAN tag).
func replay(t testing.TB, path string, cfg Config, mutate func([]byte) []byte) (*Tracker, *protocoltest.Collector) {
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
	dec, err := link.NewDecoder(r.LinkType(), link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	col := &protocoltest.Collector{}
	col.Meta.Dataset = "icmp"
	tr := New(cfg, col)
	var p link.Packet
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			data = mutate(data)
			ci.CaptureLength, ci.Length = len(data), len(data)
		}
		ok, err := dec.Decode(data, ci, &p)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		last = ci.Timestamp
		if ok && (p.IPProto == 1 || p.IPProto == 58) {
			tr.Packet(&p)
		}
		tr.Tick(ci.Timestamp)
	}
	tr.Flush(last)
	return tr, col
}
