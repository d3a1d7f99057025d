package quic

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// QUIC versions this decoder can decrypt the Initial packets of.
const (
	version1 uint32 = 0x00000001 // RFC 9000
	version2 uint32 = 0x6b3343cf // RFC 9369
)

// versionParams are what a version changes in Initial protection: the
// salt of the initial secret, the HKDF labels and the Retry integrity
// key and nonce (RFC 9001 sections 5.2 and 5.8, RFC 9369 section 3.3).
type versionParams struct {
	salt                   []byte
	keyLabel, ivLabel      string
	hpLabel                string
	retryKey, retryNonce   []byte
	initialType, retryType uint8 // long-header packet type bits
}

var (
	paramsV1 = &versionParams{
		salt:     []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
		keyLabel: "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
		retryKey:    []byte{0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e},
		retryNonce:  []byte{0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb},
		initialType: 0, retryType: 3,
	}
	paramsV2 = &versionParams{
		salt:     []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
		keyLabel: "quicv2 key", ivLabel: "quicv2 iv", hpLabel: "quicv2 hp",
		retryKey:    []byte{0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92},
		retryNonce:  []byte{0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a},
		initialType: 1, retryType: 0,
	}
)

func paramsFor(v uint32) *versionParams {
	switch v {
	case version1:
		return paramsV1
	case version2:
		return paramsV2
	}
	return nil
}

// keys protect one direction's Initial packets: AEAD_AES_128_GCM and
// AES-128 header protection.
type keys struct {
	aead  cipher.AEAD
	iv    [12]byte
	hp    cipher.Block
	mask  [16]byte // scratch of decrypt
	nonce [12]byte // scratch of decrypt
}

// clientKeys derives only the client's Initial keys.
func clientKeys(p *versionParams, dcid []byte) (*keys, error) {
	secret, err := hkdf.Extract(sha256.New, dcid, p.salt)
	if err != nil {
		return nil, err
	}
	return deriveKeys(p, secret, "client in")
}

// initialKeys derives the client's and the server's Initial keys from the
// client's first Destination Connection ID (RFC 9001 section 5.2).
func initialKeys(p *versionParams, dcid []byte) (client, server *keys, err error) {
	secret, err := hkdf.Extract(sha256.New, dcid, p.salt)
	if err != nil {
		return nil, nil, err
	}
	if client, err = deriveKeys(p, secret, "client in"); err != nil {
		return nil, nil, err
	}
	if server, err = deriveKeys(p, secret, "server in"); err != nil {
		return nil, nil, err
	}
	return client, server, nil
}

func deriveKeys(p *versionParams, initial []byte, label string) (*keys, error) {
	secret, err := expandLabel(initial, label, sha256.Size)
	if err != nil {
		return nil, err
	}
	key, err := expandLabel(secret, p.keyLabel, 16)
	if err != nil {
		return nil, err
	}
	iv, err := expandLabel(secret, p.ivLabel, 12)
	if err != nil {
		return nil, err
	}
	hp, err := expandLabel(secret, p.hpLabel, 16)
	if err != nil {
		return nil, err
	}
	k := &keys{}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	copy(k.iv[:], iv)
	if k.hp, err = aes.NewCipher(hp); err != nil {
		return nil, err
	}
	return k, nil
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context
// (RFC 8446 section 7.1).
func expandLabel(secret []byte, label string, n int) ([]byte, error) {
	info := make([]byte, 0, 4+6+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}

var errRetryTag = errors.New("retry integrity tag mismatch")

// checkRetry verifies a Retry packet's integrity tag (RFC 9001 section
// 5.8): AES-128-GCM with the version's fixed key over the original DCID
// and the packet without its tag. scratch is reused for the pseudo-packet.
func checkRetry(p *versionParams, odcid, pkt []byte, scratch []byte) ([]byte, error) {
	if len(pkt) < 16 {
		return scratch, errRetryTag
	}
	block, err := aes.NewCipher(p.retryKey)
	if err != nil {
		return scratch, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return scratch, err
	}
	pseudo := append(scratch[:0], byte(len(odcid)))
	pseudo = append(pseudo, odcid...)
	pseudo = append(pseudo, pkt[:len(pkt)-16]...)
	if _, err := aead.Open(nil, p.retryNonce, pkt[len(pkt)-16:], pseudo); err != nil {
		return pseudo, errRetryTag
	}
	return pseudo, nil
}
