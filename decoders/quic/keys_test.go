package quic

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInitialSecrets checks the key derivation against the published
// vectors: RFC 9001 appendix A.1 (v1) and RFC 9369 appendix A.1 (v2), both
// for the Destination Connection ID 0x8394c8f03e515708.
func TestInitialSecrets(t *testing.T) {
	dcid := unhex(t, "8394c8f03e515708")
	for _, tc := range []struct {
		p                              *versionParams
		ckey, civ, chp, skey, siv, shp string
	}{
		{paramsV1,
			"1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2",
			"cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314"},
		{paramsV2,
			"8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9",
			"82db637861d55e1d011f19ea71d5d2a7", "dd13c276499c0249d3310652", "edf6d05c83121201b436e16877593c3a"},
	} {
		initial, err := hkdf.Extract(sha256.New, dcid, tc.p.salt)
		if err != nil {
			t.Fatal(err)
		}
		for _, side := range []struct{ label, key, iv, hp string }{
			{"client in", tc.ckey, tc.civ, tc.chp}, {"server in", tc.skey, tc.siv, tc.shp},
		} {
			secret, _ := expandLabel(initial, side.label, 32)
			key, _ := expandLabel(secret, tc.p.keyLabel, 16)
			iv, _ := expandLabel(secret, tc.p.ivLabel, 12)
			hp, _ := expandLabel(secret, tc.p.hpLabel, 16)
			if hex.EncodeToString(key) != side.key || hex.EncodeToString(iv) != side.iv || hex.EncodeToString(hp) != side.hp {
				t.Errorf("%s %s: key %x iv %x hp %x", tc.p.keyLabel, side.label, key, iv, hp)
			}
		}
		if _, _, err := initialKeys(tc.p, dcid); err != nil {
			t.Error(err)
		}
	}
}

// TestRetryIntegrity checks the Retry vectors of RFC 9001 appendix A.4 and
// RFC 9369 appendix A.4, and that a changed byte fails.
func TestRetryIntegrity(t *testing.T) {
	odcid := unhex(t, "8394c8f03e515708")
	for _, tc := range []struct {
		p   *versionParams
		pkt string
	}{
		{paramsV1, "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba"},
		{paramsV2, "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6"},
	} {
		pkt := unhex(t, tc.pkt)
		h, _, err := parseLong(pkt)
		if err != nil || h.kind != kindRetry || string(h.token) != "token" {
			t.Fatalf("%s: parse %v kind %d token %q", tc.p.keyLabel, err, h.kind, h.token)
		}
		if _, err := checkRetry(tc.p, odcid, pkt, nil); err != nil {
			t.Errorf("%s: %v", tc.p.keyLabel, err)
		}
		pkt[len(pkt)-20] ^= 1
		if _, err := checkRetry(tc.p, odcid, pkt, nil); err == nil {
			t.Errorf("%s: a changed token verified", tc.p.keyLabel)
		}
	}
}

// TestDecodePN is RFC 9000 appendix A.3's example and the wrap cases.
func TestDecodePN(t *testing.T) {
	for _, tc := range []struct {
		largest, truncated uint64
		bits               int
		want               uint64
	}{
		{0xa82f30ea, 0x9b32, 16, 0xa82f9b32},
		{0, 0, 8, 0},
		{0xff, 0x01, 8, 0x101},
		{0x100, 0xff, 8, 0xff},
	} {
		if got := decodePN(tc.largest, tc.truncated, tc.bits); got != tc.want {
			t.Errorf("decodePN(%#x, %#x, %d) = %#x, want %#x", tc.largest, tc.truncated, tc.bits, got, tc.want)
		}
	}
}

// TestDecryptAllocs: removing header protection and opening an Initial
// allocates nothing (the hot path of every Initial packet).
func TestDecryptAllocs(t *testing.T) {
	d := datagrams(t, "gov1.pcap")[0]
	h, _, err := parseLong(d.payload)
	if err != nil {
		t.Fatal(err)
	}
	ck, _, err := initialKeys(paramsFor(h.version), h.dcid)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(h.pkt))
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, h.pkt)
		if _, _, err := decrypt(ck, buf, h.pnOffset, h.length, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Initial", allocs)
	}
}
