package tls

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
)

// JA3 (Salesforce) fingerprints a ClientHello as the MD5 of
// "version,ciphers,extensions,groups,point_formats", each list dash-joined
// decimal codes in wire order, GREASE values left out. JA3S fingerprints a
// ServerHello as "version,cipher,extensions".

func ja3String(h *hello) []byte {
	b := make([]byte, 0, 256)
	b = strconv.AppendUint(b, uint64(h.version), 10)
	b = append(b, ',')
	first := true
	h.cipherList(func(v uint16) {
		b = appendDash(b, &first, v)
	})
	b = append(b, ',')
	b = appendExtCodes(b, h)
	b = append(b, ',')
	if d, ok := h.ext(extSupportedGroups); ok {
		first = true
		u16List(d, 2, func(v uint16) { b = appendDash(b, &first, v) })
	}
	b = append(b, ',')
	if d, ok := h.ext(extPointFormats); ok && len(d) >= 1 && int(d[0])+1 == len(d) {
		for i, f := range d[1:] {
			if i > 0 {
				b = append(b, '-')
			}
			b = strconv.AppendUint(b, uint64(f), 10)
		}
	}
	return b
}

func ja3sString(h *hello) []byte {
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, uint64(h.version), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(h.cipher), 10)
	b = append(b, ',')
	return appendExtCodes(b, h)
}

func appendExtCodes(b []byte, h *hello) []byte {
	first := true
	for _, e := range h.exts {
		if !isGrease(e.code) {
			b = appendDash(b, &first, e.code)
		}
	}
	return b
}

func appendDash(b []byte, first *bool, v uint16) []byte {
	if !*first {
		b = append(b, '-')
	}
	*first = false
	return strconv.AppendUint(b, uint64(v), 10)
}

func md5Hex(s []byte) string {
	sum := md5.Sum(s)
	return hex.EncodeToString(sum[:])
}
