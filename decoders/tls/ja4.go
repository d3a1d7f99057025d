package tls

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
)

// JA4 (FoxIO, BSD-3-Clause specification, technical_details/JA4.md)
// fingerprints a ClientHello as three parts joined by "_":
//
//	a: transport ("t" TLS over TCP, "q" QUIC), the highest offered version
//	   (supported_versions, else legacy_version) as two characters, "d"
//	   with a server_name extension or "i" without, the cipher and
//	   extension counts (two digits each, at most 99) and the first and
//	   last character of the first ALPN value ("00" for none);
//	b: the first 12 hex digits of the SHA-256 of the cipher codes, four
//	   lower-case hex digits each, sorted, comma-separated;
//	c: the same hash of the sorted extension codes without server_name
//	   (0000) and ALPN (0010), then "_" and the signature algorithms in
//	   wire order when the hello has any.
//
// GREASE values (RFC 8701) are left out everywhere, counts included. The
// raw form (JA4_r) is the same with b and c unhashed. Only JA4 itself is
// implemented: JA4S, JA4H, JA4X and the rest of JA4+ are under FoxIO's
// non-commercial licence.

// ja4 returns the fingerprint of a ClientHello; with raw, the unhashed
// JA4_r form. quic selects the "q" transport.
func ja4(h *hello, quic, raw bool) string {
	var ciphers, exts, sigs []uint16
	h.cipherList(func(v uint16) { ciphers = append(ciphers, v) })
	nExt := 0
	for _, e := range h.exts {
		if isGrease(e.code) {
			continue
		}
		nExt++
		if e.code != extServerName && e.code != extALPN {
			exts = append(exts, e.code)
		}
	}
	if d, ok := h.ext(extSignatureAlgs); ok {
		u16List(d, 2, func(v uint16) { sigs = append(sigs, v) })
	}
	slices.Sort(ciphers)
	slices.Sort(exts)

	b := make([]byte, 0, 128)
	if quic {
		b = append(b, 'q')
	} else {
		b = append(b, 't')
	}
	b = append(b, ja4Version(h)...)
	if _, ok := h.ext(extServerName); ok {
		b = append(b, 'd')
	} else {
		b = append(b, 'i')
	}
	b = appendCount(b, len(ciphers))
	b = appendCount(b, nExt)
	b = append(b, ja4ALPN(h)...)

	b = append(b, '_')
	list := appendHexList(nil, ciphers)
	switch {
	case raw:
		b = append(b, list...)
	case len(ciphers) == 0:
		b = append(b, "000000000000"...)
	default:
		b = appendHash12(b, list)
	}

	b = append(b, '_')
	list = appendHexList(list[:0], exts)
	if len(sigs) > 0 {
		list = append(list, '_')
		list = appendHexList(list, sigs)
	}
	switch {
	case raw:
		b = append(b, list...)
	case len(exts) == 0:
		// The specification's rule: no extensions left to hash gives the
		// zero hash, signature algorithms or not.
		b = append(b, "000000000000"...)
	default:
		b = appendHash12(b, list)
	}
	return string(b)
}

// ja4Version is the two-character version of part a: the highest
// non-GREASE supported_versions entry, else the hello's legacy_version.
func ja4Version(h *hello) string {
	v := uint16(h.version)
	if d, ok := h.ext(extSupportedVersion); ok {
		var max uint16
		if u16List(d, 1, func(x uint16) {
			if x > max {
				max = x
			}
		}) && max != 0 {
			v = max
		}
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// ja4ALPN is the first and last character of the first ALPN value ("00"
// without one). The specification: when either of those bytes is not an
// ASCII letter or digit, the first and last characters of the value's hex
// form stand instead.
func ja4ALPN(h *hello) string {
	d, ok := h.ext(extALPN)
	if !ok || len(d) < 3 {
		return "00"
	}
	// protocol_name_list: u16 length, then u8-length-prefixed names.
	l := int(d[2])
	if l == 0 || 3+l > len(d) {
		return "00"
	}
	v := d[3 : 3+l]
	first, last := v[0], v[len(v)-1]
	if alnum(first) && alnum(last) {
		return string([]byte{first, last})
	}
	x := hex.EncodeToString(v)
	return string([]byte{x[0], x[len(x)-1]})
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

func appendCount(b []byte, n int) []byte {
	if n > 99 {
		n = 99
	}
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

func appendHexList(b []byte, vs []uint16) []byte {
	var x [2]byte
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		binary.BigEndian.PutUint16(x[:], v)
		b = hex.AppendEncode(b, x[:])
	}
	return b
}

func appendHash12(b, s []byte) []byte {
	sum := sha256.Sum256(s)
	return hex.AppendEncode(b, sum[:6])
}
