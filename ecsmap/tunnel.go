package ecsmap

import (
	"net/netip"
	"strconv"
)

// MaxTunnelLayers is how many nested encapsulations a packet may record.
const MaxTunnelLayers = 4

// MaxMPLSLabels is how many labels of an MPLS stack are recorded (top first).
const MaxMPLSLabels = 4

// TunnelLayer is one encapsulation a packet was carried in.
type TunnelLayer struct {
	// Type is the encapsulation: "vxlan", "geneve", "gre", "erspan", "gtpu",
	// "mpls", "pppoe", "ipv4-in-ipv4", "ipv6-in-ipv4", "ipv6-in-ipv6",
	// "ipv4-in-ipv6". Always one of the package's constant strings.
	Type string
	// ID is the layer's identifier when it has one: VXLAN/Geneve VNI, GRE
	// key, ERSPAN session id, GTP-U TEID, top MPLS label, PPPoE session id.
	ID    uint32
	HasID bool
	// Version is the ERSPAN type (1, 2 or 3), or the GRE version (1 for
	// PPTP's enhanced GRE, whose call ids differ per direction); else 0.
	Version uint8
	// Src and Dst are the addresses of the IP header that carried this
	// layer; invalid for MPLS and PPPoE found straight on Ethernet.
	Src, Dst netip.Addr
}

// Tunnel is every encapsulation around a packet, outer first. It is a value
// type so that the link decoder fills it without allocating.
type Tunnel struct {
	Layers [MaxTunnelLayers]TunnelLayer
	N      uint8
	// MPLS is the label stack of the outermost MPLS layer, top first.
	MPLS  [MaxMPLSLabels]uint32
	NMPLS uint8
}

// Segment names the overlay a packet belongs to, the same in both
// directions, for connection and flow keys: two overlays may reuse the same
// inner addresses (cloud VPCs mirrored to one sensor). It is the depth and
// the identifier of the outermost layer that names a segment symmetrically
// (VXLAN and Geneve VNI, GRE key, PPPoE session). GTP-U TEIDs, PPTP call
// ids and MPLS labels differ per direction, and ERSPAN sessions name a
// mirror, so they do not take part. Zero for native traffic.
func (t *Tunnel) Segment() uint64 { return t.SegmentAt(int(t.N)) }

// SegmentAt is the Segment of the first n layers only: the segment the
// carrier of layer n travels in (0 for the outermost carrier, which is
// native traffic), for the flow table's underlay flows.
func (t *Tunnel) SegmentAt(n int) uint64 {
	n = min(n, int(t.N), MaxTunnelLayers)
	if n <= 0 {
		return 0
	}
	for _, l := range t.Layers[:n] {
		switch l.Type {
		case "vxlan", "geneve", "gre", "pppoe":
			if l.HasID && !(l.Type == "gre" && l.Version == 1) {
				return uint64(n)<<32 | uint64(l.ID)
			}
		}
	}
	return uint64(n) << 32
}

// Outer returns the outermost layer that has IP endpoints, or nil.
func (t *Tunnel) Outer() *TunnelLayer {
	for i := range t.Layers[:t.N] {
		if t.Layers[i].Src.IsValid() {
			return &t.Layers[i]
		}
	}
	return nil
}

// writeTunnel writes network.tunnel: the layer types outer first, their
// identifiers, the depth, the endpoints of the outermost IP-carried layer
// (the addresses seen on the capture's network), the MPLS labels and the
// ERSPAN version.
func writeTunnel(w *Writer, t *Tunnel) {
	if t == nil || t.N == 0 {
		return
	}
	ls := t.Layers[:min(int(t.N), MaxTunnelLayers)]
	w.Object("tunnel")
	if len(ls) == 1 {
		w.Str("type", ls[0].Type)
	} else {
		w.ArrayStart("type")
		for i := range ls {
			w.ElemStr(ls[i].Type)
		}
		w.ArrayEnd()
	}
	var ids [MaxTunnelLayers]uint32
	nid := 0
	for i := range ls {
		if ls[i].HasID {
			ids[nid] = ls[i].ID
			nid++
		}
	}
	// Identifiers are keywords (a VNI and a TEID are names, not amounts).
	switch {
	case nid == 1:
		w.key("id")
		w.Buf = appendQuotedUint(w.Buf, ids[0])
	case nid > 1:
		w.ArrayStart("id")
		for _, id := range ids[:nid] {
			w.elem()
			w.Buf = appendQuotedUint(w.Buf, id)
		}
		w.ArrayEnd()
	}
	w.Uint("depth", uint64(len(ls)))
	if o := t.Outer(); o != nil {
		w.Object("source")
		w.IP("ip", o.Src)
		w.End()
		w.Object("destination")
		w.IP("ip", o.Dst)
		w.End()
	}
	if t.NMPLS > 0 {
		w.Object("mpls")
		w.ArrayStart("label")
		for _, l := range t.MPLS[:min(int(t.NMPLS), MaxMPLSLabels)] {
			w.ElemInt(int64(l))
		}
		w.ArrayEnd()
		w.End()
	}
	for i := range ls {
		if ls[i].Type == "erspan" && ls[i].Version != 0 {
			w.Object("erspan")
			w.Uint("version", uint64(ls[i].Version))
			w.End()
			break
		}
	}
	w.End()
}

func appendQuotedUint(b []byte, v uint32) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(v), 10)
	return append(b, '"')
}
