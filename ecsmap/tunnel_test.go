package ecsmap

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestEncodeTunnel writes a nested tunnel (MPLS over the wire, then GRE with
// a key, then VXLAN, then ERSPAN type II) and reads network.tunnel back.
func TestEncodeTunnel(t *testing.T) {
	tun := &Tunnel{N: 4, NMPLS: 2, MPLS: [MaxMPLSLabels]uint32{100, 200}}
	tun.Layers[0] = TunnelLayer{Type: "mpls", ID: 100, HasID: true}
	tun.Layers[1] = TunnelLayer{Type: "gre", ID: 77, HasID: true,
		Src: netip.MustParseAddr("10.99.0.1"), Dst: netip.MustParseAddr("10.99.0.2")}
	tun.Layers[2] = TunnelLayer{Type: "vxlan", ID: 4242, HasID: true,
		Src: netip.MustParseAddr("10.210.0.1"), Dst: netip.MustParseAddr("10.210.0.2")}
	tun.Layers[3] = TunnelLayer{Type: "erspan", ID: 5, HasID: true, Version: 2,
		Src: netip.MustParseAddr("10.220.0.1"), Dst: netip.MustParseAddr("10.220.0.2")}
	ev := &testEvent{base: Base{Start: time.Unix(1, 0), Type: "dns", Transport: "udp", NetworkType: "ipv4",
		Source: Endpoint{IP: netip.MustParseAddr("192.0.2.1")}, Destination: Endpoint{IP: netip.MustParseAddr("192.0.2.2")},
		Tunnel: tun}}
	var w Writer
	raw := Encode(&w, ev, &Meta{Dataset: "network_traffic.dns"})
	var m struct {
		Network struct {
			Tunnel struct {
				Type   []string `json:"type"`
				ID     []string `json:"id"`
				Depth  int      `json:"depth"`
				Source struct {
					IP string `json:"ip"`
				} `json:"source"`
				Destination struct {
					IP string `json:"ip"`
				} `json:"destination"`
				MPLS struct {
					Label []int `json:"label"`
				} `json:"mpls"`
				ERSPAN struct {
					Version int `json:"version"`
				} `json:"erspan"`
			} `json:"tunnel"`
		} `json:"network"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	got := m.Network.Tunnel
	if fmtS(got.Type) != "[mpls gre vxlan erspan]" || fmtS(got.ID) != "[100 77 4242 5]" || got.Depth != 4 ||
		got.Source.IP != "10.99.0.1" || got.Destination.IP != "10.99.0.2" ||
		len(got.MPLS.Label) != 2 || got.MPLS.Label[1] != 200 || got.ERSPAN.Version != 2 {
		t.Errorf("network.tunnel %+v from %s", got, raw)
	}

	// One layer: plain values, not arrays; no tunnel: no field.
	one := &Tunnel{N: 1}
	one.Layers[0] = TunnelLayer{Type: "vxlan", ID: 42, HasID: true, Src: netip.MustParseAddr("fd99::1"), Dst: netip.MustParseAddr("fd99::2")}
	ev.base.Tunnel = one
	var m1 map[string]any
	_ = json.Unmarshal(Encode(&w, ev, &Meta{}), &m1)
	nt := m1["network"].(map[string]any)["tunnel"].(map[string]any)
	if nt["type"] != "vxlan" || nt["id"] != "42" || nt["source"].(map[string]any)["ip"] != "fd99::1" {
		t.Errorf("single layer %v", nt)
	}
	ev.base.Tunnel = nil
	var m0 map[string]any
	_ = json.Unmarshal(Encode(&w, ev, &Meta{}), &m0)
	if _, ok := m0["network"].(map[string]any)["tunnel"]; ok {
		t.Errorf("network.tunnel written for native traffic")
	}
}

func fmtS(s []string) string { return "[" + strings.Join(s, " ") + "]" }

// TestTunnelSegment: symmetric identifiers split, per-direction ones do not.
func TestTunnelSegment(t *testing.T) {
	var native Tunnel
	if native.Segment() != 0 {
		t.Error("native traffic has a segment")
	}
	mk := func(typ string, id uint32) Tunnel {
		tt := Tunnel{N: 1}
		tt.Layers[0] = TunnelLayer{Type: typ, ID: id, HasID: true}
		return tt
	}
	a, b := mk("vxlan", 1), mk("vxlan", 2)
	if a.Segment() == b.Segment() {
		t.Error("two VNIs share a segment")
	}
	up, down := mk("gtpu", 1001), mk("gtpu", 2001)
	if up.Segment() != down.Segment() || up.Segment() == 0 {
		t.Error("GTP-U TEIDs of the two directions split the connection")
	}
}

// TestTunnelSegmentAt: the segment of the first n layers, where the carrier
// of layer n travels: none for the outermost carrier, the GRE key's for the
// VXLAN carrier inside GRE, the whole tunnel's past the last layer.
func TestTunnelSegmentAt(t *testing.T) {
	var tun Tunnel
	tun.Layers[0] = TunnelLayer{Type: "gre", ID: 77, HasID: true}
	tun.Layers[1] = TunnelLayer{Type: "vxlan", ID: 4242, HasID: true}
	tun.N = 2
	for n, want := range map[int]uint64{-1: 0, 0: 0, 1: 1<<32 | 77, 2: 2<<32 | 77, 3: 2<<32 | 77, 9: 2<<32 | 77} {
		if got := tun.SegmentAt(n); got != want {
			t.Errorf("SegmentAt(%d) = %#x, want %#x", n, got, want)
		}
	}
	if tun.Segment() != tun.SegmentAt(2) {
		t.Errorf("Segment %#x", tun.Segment())
	}
}
