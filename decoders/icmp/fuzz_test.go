package icmp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzTracker feeds arbitrary IP packets (raw link type) through the link
// decoder into a tracker with a tiny pending bound. Input: a sequence of
// records [len byte][time step byte][len bytes of IP packet]. Every event
// must encode to valid JSON and the pending table must stay bounded.
func FuzzTracker(f *testing.F) {
	for _, name := range []string{"lo_ping.pcap", "veth.pcap"} {
		frames, lt := protocoltest.ReadFrames(f, pcapDir+name)
		var seed []byte
		for _, fr := range frames {
			ip := fr.Data
			if lt == layers.LinkTypeEthernet {
				ip = ip[14:]
			}
			if len(ip) > 255 {
				ip = ip[:255]
			}
			seed = append(seed, byte(len(ip)), 1)
			seed = append(seed, ip...)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, err := link.NewDecoder(layers.LinkTypeRaw, link.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var w ecsmap.Writer
		meta := &ecsmap.Meta{Dataset: "icmp"}
		cfg := DefaultConfig()
		cfg.MaxPending = 4
		cfg.TransactionTimeout = 2 * time.Second
		pub := publisherFunc(func(ev ecsmap.Event) {
			doc := ecsmap.Encode(&w, ev, meta)
			if !json.Valid(doc) {
				t.Fatalf("invalid JSON: %s", doc)
			}
		})
		tr := New(cfg, pub)
		now := time.Unix(1_700_000_000, 0)
		var p link.Packet
		for len(data) >= 2 {
			n, step := int(data[0]), data[1]
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			pkt := data[:n]
			data = data[n:]
			now = now.Add(time.Duration(step) * 100 * time.Millisecond)
			ci := gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(pkt), Length: len(pkt)}
			if ok, err := dec.Decode(pkt, ci, &p); ok && err == nil {
				tr.Packet(&p)
			}
			tr.Tick(now)
			if tr.Pending() > cfg.MaxPending {
				t.Fatalf("pending %d beyond bound %d", tr.Pending(), cfg.MaxPending)
			}
		}
		tr.Flush(now)
		if tr.Pending() != 0 {
			t.Fatal("flush left pending requests")
		}
	})
}

type publisherFunc func(ecsmap.Event)

func (f publisherFunc) Publish(ev ecsmap.Event) { f(ev) }
