package quic

import (
	"encoding/binary"
	"errors"
)

var (
	errShort   = errors.New("truncated packet")
	errCID     = errors.New("connection id longer than 20 bytes")
	errDecrypt = errors.New("initial packet does not decrypt")
	errFrame   = errors.New("malformed or unexpected frame in an initial packet")
)

// Long-header packet kinds, whatever bits the version gives them.
const (
	kindInitial = iota
	kindZeroRTT
	kindHandshake
	kindRetry
	kindVersionNegotiation
	kindUnknownVersion
)

// longHeader is one long-header packet of a datagram (RFC 9000 section
// 17.2, RFC 8999 for what every version shares). Its slices point into
// the datagram.
type longHeader struct {
	kind       int
	version    uint32
	dcid, scid []byte
	token      []byte // Initial and Retry
	pnOffset   int    // Initial: where the protected packet number starts
	length     int    // Initial: the Length field (packet number + payload)
	pkt        []byte // the whole packet
	versions   []byte // Version Negotiation: the supported versions list
}

// varint reads a QUIC variable-length integer (RFC 9000 section 16).
func varint(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, false
	}
	v := uint64(b[0] & 0x3f)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, true
}

// parseLong parses the long-header packet at the start of b and returns
// it with the rest of the datagram (coalesced packets follow an Initial,
// RFC 9000 section 12.2).
func parseLong(b []byte) (longHeader, []byte, error) {
	var h longHeader
	if len(b) < 7 {
		return h, nil, errShort
	}
	h.version = binary.BigEndian.Uint32(b[1:])
	p := 5
	dl := int(b[p])
	if len(b) < p+1+dl+1 {
		return h, nil, errShort
	}
	h.dcid = b[p+1 : p+1+dl]
	p += 1 + dl
	sl := int(b[p])
	if len(b) < p+1+sl {
		return h, nil, errShort
	}
	h.scid = b[p+1 : p+1+sl]
	p += 1 + sl
	if h.version == 0 {
		h.kind = kindVersionNegotiation
		h.versions = b[p:]
		h.pkt = b
		return h, nil, nil
	}
	vp := paramsFor(h.version)
	if vp == nil {
		// Beyond the invariants, an unknown version's packet cannot be
		// read, nor where it ends.
		h.kind = kindUnknownVersion
		h.pkt = b
		return h, nil, nil
	}
	if dl > 20 || sl > 20 {
		return h, nil, errCID
	}
	// The fixed bit (0x40) is not checked: a peer may grease it (RFC 9287).
	switch t := (b[0] >> 4) & 3; t {
	case vp.initialType:
		h.kind = kindInitial
	case vp.retryType:
		h.kind = kindRetry
		if len(b) < p+16 {
			return h, nil, errShort
		}
		h.token = b[p : len(b)-16]
		h.pkt = b
		return h, nil, nil
	default:
		// 0-RTT and Handshake: v1 numbers them 1 and 2, v2 2 and 3.
		if t == (vp.initialType+1)&3 {
			h.kind = kindZeroRTT
		} else {
			h.kind = kindHandshake
		}
	}
	if h.kind == kindInitial {
		tl, n, ok := varint(b[p:])
		if !ok || uint64(len(b)-p-n) < tl {
			return h, nil, errShort
		}
		h.token = b[p+n : p+n+int(tl)]
		p += n + int(tl)
	}
	l, n, ok := varint(b[p:])
	if !ok || uint64(len(b)-p-n) < l {
		return h, nil, errShort
	}
	p += n
	h.pnOffset, h.length = p, int(l)
	h.pkt = b[:p+int(l)]
	return h, b[p+int(l):], nil
}

// decrypt removes header protection from pkt (a copy the caller owns: it
// is changed in place) and opens its payload, returning the plaintext
// frames and the full packet number (RFC 9001 sections 5.3 to 5.4).
// largest is the highest packet number seen so far in that direction.
func decrypt(k *keys, pkt []byte, pnOffset, length int, largest uint64) ([]byte, uint64, error) {
	if length < 20 || pnOffset+4+16 > len(pkt) {
		return nil, 0, errShort
	}
	// mask and nonce live in k: arrays on the stack would escape through
	// the cipher interfaces, an allocation per packet.
	mask := k.mask[:]
	k.hp.Encrypt(mask, pkt[pnOffset+4:pnOffset+20])
	pkt[0] ^= mask[0] & 0x0f
	pnLen := int(pkt[0]&3) + 1
	var truncated uint64
	for i := 0; i < pnLen; i++ {
		pkt[pnOffset+i] ^= mask[1+i]
		truncated = truncated<<8 | uint64(pkt[pnOffset+i])
	}
	pn := decodePN(largest, truncated, pnLen*8)
	k.nonce = k.iv
	for i := 0; i < 8; i++ {
		k.nonce[4+i] ^= byte(pn >> (56 - 8*i))
	}
	end := pnOffset + length
	ct := pkt[pnOffset+pnLen : end]
	plain, err := k.aead.Open(ct[:0], k.nonce[:], ct, pkt[:pnOffset+pnLen])
	if err != nil {
		return nil, 0, errDecrypt
	}
	return plain, pn, nil
}

// decodePN is RFC 9000 appendix A.3.
func decodePN(largest, truncated uint64, bits int) uint64 {
	expected := largest + 1
	win := uint64(1) << bits
	half := win / 2
	mask := win - 1
	candidate := (expected &^ mask) | truncated
	switch {
	case candidate+half <= expected && candidate < (1<<62)-win:
		return candidate + win
	case candidate > expected+half && candidate >= win:
		return candidate - win
	}
	return candidate
}

// frames walks the frames of a decrypted Initial payload and calls
// crypto for each CRYPTO frame. Only the frames RFC 9000 allows in
// Initial packets are expected (section 12.4).
func frames(b []byte, crypto func(off uint64, data []byte) error) error {
	for len(b) > 0 {
		t := b[0]
		switch {
		case t == 0x00: // PADDING
			b = b[1:]
		case t == 0x01: // PING
			b = b[1:]
		case t == 0x02 || t == 0x03: // ACK
			b = b[1:]
			var vals [4]uint64
			for i := range vals {
				v, n, ok := varint(b)
				if !ok {
					return errFrame
				}
				vals[i], b = v, b[n:]
			}
			ranges := vals[2]
			if ranges > uint64(len(b)) {
				return errFrame
			}
			skip := 2 * ranges
			if t == 0x03 {
				skip += 3 // ECN counts
			}
			for ; skip > 0; skip-- {
				_, n, ok := varint(b)
				if !ok {
					return errFrame
				}
				b = b[n:]
			}
		case t == 0x06: // CRYPTO
			b = b[1:]
			off, n, ok := varint(b)
			if !ok {
				return errFrame
			}
			b = b[n:]
			l, n, ok := varint(b)
			if !ok || uint64(len(b)-n) < l {
				return errFrame
			}
			b = b[n:]
			if err := crypto(off, b[:l]); err != nil {
				return err
			}
			b = b[l:]
		case t == 0x1c || t == 0x1d: // CONNECTION_CLOSE
			b = b[1:]
			fields := 2
			if t == 0x1c {
				fields = 3 // error code, frame type, reason length
			}
			var v uint64
			for i := 0; i < fields; i++ {
				var n int
				var ok bool
				v, n, ok = varint(b)
				if !ok {
					return errFrame
				}
				b = b[n:]
			}
			if uint64(len(b)) < v {
				return errFrame
			}
			b = b[v:]
		default:
			return errFrame
		}
	}
	return nil
}
