package flows

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzTable feeds random packets into a small table. Each 12-byte record is
// one packet: addresses from a small pool (so flows repeat), ports,
// protocol, ICMP type/id, VLANs, a time step, a length and tunnel layers
// (underlay flows, with or without a decoded inner packet). Invariants: the
// table stays within MaxFlows, every flow ends with exactly one final
// report, reports add up to every packet and byte counted, and every
// document is valid JSON.
func FuzzTable(f *testing.F) {
	f.Add([]byte("\x00\x01\x00\x50\x06\x00\x00\x00\x00\x01\x40\x00\x01\x00\x00\x50\x06\x00\x00\x00\x00\x01\x40\x00"))
	f.Add([]byte("\x02\x02\x00\x00\x01\x08\x00\x07\x00\x00\x62\x00\x02\x02\x00\x00\x01\x00\x00\x07\x00\x00\x62\x00"))
	f.Add([]byte("\x08\x11\x00\x50\x06\x00\x00\x00\x00\x01\x40\x02\x11\x08\x00\x50\x06\x00\x00\x00\x00\x01\x40\x19"))
	pool := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
		netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("fd00::2"), {}}
	protos := []uint8{6, 17, 1, 58, 47}
	f.Fuzz(func(t *testing.T, data []byte) {
		var w ecsmap.Writer
		meta := &ecsmap.Meta{Dataset: "flow"}
		finals := map[string]int{}
		var repPackets, repBytes int64
		cfg := Config{Timeout: 2 * time.Second, Period: time.Second, MaxFlows: 3}
		if len(data) > 0 && data[0]&1 == 1 {
			cfg.DeltaReports = true
		}
		tbl := New(cfg, publisherFunc(func(ev ecsmap.Event) {
			if !json.Valid(ecsmap.Encode(&w, ev, meta)) {
				t.Fatal("invalid JSON")
			}
			fe := ev.(*Event)
			b := ev.EventBase()
			if fe.Final() {
				finals[fe.ID()]++
			}
			if cfg.DeltaReports || fe.Final() {
				repPackets += b.Source.Packets + b.Destination.Packets
				repBytes += b.Source.Bytes + b.Destination.Bytes
			}
		}))
		now := time.Unix(1_700_000_000, 0)
		var bytesIn int64
		for ; len(data) >= 12; data = data[12:] {
			r := data[:12]
			p := link.Packet{
				SrcIP: pool[int(r[0])%len(pool)], DstIP: pool[int(r[1])%len(pool)],
				SrcPort: binary.BigEndian.Uint16(r[2:4]) % 4, DstPort: 80,
				IPProto: protos[int(r[4])%len(protos)], ICMPType: r[5], ICMPID: uint16(r[6] % 3),
				NVLANs: int(r[7] % 3), VLANs: [2]uint16{uint16(r[8]), 7},
				WireLen: int(r[10]),
			}
			if p.SrcIP.Is4() != p.DstIP.Is4() {
				continue // no such IP packet
			}
			now = now.Add(time.Duration(r[9]) * 50 * time.Millisecond)
			p.Timestamp = now
			// r[11]: up to two tunnel layers whose carriers are underlay
			// flows (addresses from the pool, so some have none), and
			// whether the inner packet decoded (else only Underlay runs).
			for i := range int(r[11] % 3) {
				typ, proto := link.TunnelVXLAN, uint8(17)
				if r[11]&0x10 != 0 {
					typ, proto = link.TunnelGRE, 47
				}
				p.Tunnel.Layers[i] = ecsmap.TunnelLayer{Type: typ, ID: uint32(r[8] % 2), HasID: true,
					Src: pool[int(r[0]>>3+byte(i))%len(pool)], Dst: pool[int(r[1]>>3)%len(pool)]}
				p.Underlay[i] = link.Underlay{IPProto: proto, SrcPort: uint16(r[11] >> 5), DstPort: 4789, WireLen: int(r[10]) + 50}
				p.Tunnel.N++
				if l := p.Tunnel.Layers[i]; l.Src.IsValid() && l.Dst.IsValid() && l.Src.Is4() == l.Dst.Is4() {
					bytesIn += int64(p.Underlay[i].WireLen)
				}
			}
			before := tbl.Stats().Packets
			if r[11]&0x08 != 0 && p.Tunnel.N > 0 {
				tbl.Underlay(&p)
			} else {
				tbl.Packet(&p)
			}
			if tbl.Stats().Packets > before {
				bytesIn += int64(max(p.WireLen, p.IPLen))
			}
			if tbl.Len() > cfg.MaxFlows {
				t.Fatalf("%d flows beyond bound %d", tbl.Len(), cfg.MaxFlows)
			}
			tbl.Tick(now)
		}
		tbl.Flush(now)
		s := tbl.Stats()
		if tbl.Len() != 0 || uint64(len(finals)) > s.Created {
			t.Fatalf("left %d flows; %d distinct finals for %d created", tbl.Len(), len(finals), s.Created)
		}
		var nfinal int
		for _, n := range finals {
			nfinal += n
		}
		if uint64(nfinal) != s.Created {
			t.Fatalf("%d final reports for %d flows", nfinal, s.Created)
		}
		if uint64(repPackets) != s.Packets+s.UnderlayPackets || repBytes != bytesIn {
			t.Fatalf("reports hold %d packets / %d bytes, counted %d+%d / %d", repPackets, repBytes, s.Packets, s.UnderlayPackets, bytesIn)
		}
	})
}

type publisherFunc func(ecsmap.Event)

func (f publisherFunc) Publish(ev ecsmap.Event) { f(ev) }
