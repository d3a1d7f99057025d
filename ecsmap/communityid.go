package ecsmap

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
)

// Community ID v1 (https://github.com/corelight/community-id-spec), seed 0.
// Endpoints are ordered so both directions of a connection hash the same.
// ICMP uses type/code in place of ports, mapped to the request type where
// the message has a paired counterpart, as the spec describes.

var icmp4Pairs = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
var icmp6Pairs = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144}

// AppendCommunityID appends "1:<base64 sha1>" for the flow to dst.
func AppendCommunityID(dst []byte, proto uint8, srcIP, dstIP netip.Addr, srcPort, dstPort uint16, icmpType, icmpCode uint8, isICMP bool) []byte {
	oneWay := false
	if isICMP {
		srcPort, dstPort = uint16(icmpType), uint16(icmpCode)
		pairs := icmp4Pairs
		if proto == 58 {
			pairs = icmp6Pairs
		}
		if peer, ok := pairs[icmpType]; ok {
			dstPort = uint16(peer)
		} else {
			oneWay = true
		}
	}
	src := srcIP.Unmap()
	dst2 := dstIP.Unmap()
	// Order: the smaller (ip, port) pair first unless ICMP is one-way.
	if !oneWay {
		c := src.Compare(dst2)
		if c > 0 || (c == 0 && srcPort > dstPort) {
			src, dst2 = dst2, src
			srcPort, dstPort = dstPort, srcPort
		}
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	n := 0
	buf[0], buf[1] = 0, 0 // seed
	n = 2
	if src.Is4() && dst2.Is4() { // mixed families cannot happen on the wire; As16 does not panic
		a, b := src.As4(), dst2.As4()
		n += copy(buf[n:], a[:])
		n += copy(buf[n:], b[:])
	} else {
		a, b := src.As16(), dst2.As16()
		n += copy(buf[n:], a[:])
		n += copy(buf[n:], b[:])
	}
	buf[n] = proto
	buf[n+1] = 0
	n += 2
	hasPorts := isICMP || proto == 6 || proto == 17 || proto == 132
	if hasPorts {
		buf[n], buf[n+1] = byte(srcPort>>8), byte(srcPort)
		buf[n+2], buf[n+3] = byte(dstPort>>8), byte(dstPort)
		n += 4
	}
	sum := sha1.Sum(buf[:n])
	dst = append(dst, '1', ':')
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// communityIDCache remembers the Community IDs of recent flows. The events
// of one connection (every transaction of a keep-alive HTTP or redis
// connection) share one, and the SHA-1 costs more than writing the rest of
// the network group. Direct-mapped: a collision just recomputes.
type communityIDCache [64]struct {
	key communityIDKey
	id  [30]byte // "1:" and 28 base64 characters
	ok  bool
}

type communityIDKey struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
	proto            uint8
	icmpType         uint8
	icmpCode         uint8
	isICMP           bool
}

// appendCommunityID appends AppendCommunityID's result, cached.
func (w *Writer) appendCommunityID(dst []byte, k communityIDKey) []byte {
	if w.cids == nil {
		w.cids = new(communityIDCache)
	}
	a, b := k.src.As16(), k.dst.As16()
	h := uint(k.srcPort)*0x9E37 ^ uint(k.dstPort)*0x85EB ^ uint(a[15])<<2 ^ uint(b[15])<<6 ^ uint(k.proto)
	e := &w.cids[h%uint(len(w.cids))]
	if !e.ok || e.key != k {
		id := AppendCommunityID(e.id[:0], k.proto, k.src, k.dst, k.srcPort, k.dstPort, k.icmpType, k.icmpCode, k.isICMP)
		if len(id) != len(e.id) { // cannot happen: the id has a fixed length
			e.ok = false
			return append(dst, id...)
		}
		e.key, e.ok = k, true
	}
	return append(dst, e.id[:]...)
}
