package tls

import (
	"encoding/binary"
	"testing"
)

// buildHello encodes a ClientHello body with the given suites and
// extensions (code -> data in order).
func buildHello(legacy uint16, ciphers []uint16, exts []extension) []byte {
	b := binary.BigEndian.AppendUint16(nil, legacy)
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = binary.BigEndian.AppendUint16(b, uint16(2*len(ciphers)))
	for _, c := range ciphers {
		b = binary.BigEndian.AppendUint16(b, c)
	}
	b = append(b, 1, 0) // null compression
	var e []byte
	for _, x := range exts {
		e = binary.BigEndian.AppendUint16(e, x.code)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
		e = append(e, x.data...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
	return append(b, e...)
}

func u16s(prefix int, vs ...uint16) []byte {
	var b []byte
	if prefix == 1 {
		b = []byte{byte(2 * len(vs))}
	} else {
		b = binary.BigEndian.AppendUint16(nil, uint16(2*len(vs)))
	}
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

func alpnExt(names ...string) []byte {
	var l []byte
	for _, n := range names {
		l = append(l, byte(len(n)))
		l = append(l, n...)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(l))), l...)
}

// specHello is the ClientHello of the JA4 specification's worked example
// (technical_details/JA4.md and its JA4_ro line: suites and extensions in
// wire order), with GREASE values added where browsers put them, which the
// fingerprint must ignore.
func specHello(t *testing.T, alpn []byte, sni bool) *hello {
	t.Helper()
	ciphers := []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
		0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	sig := u16s(2, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
	var exts []extension
	exts = append(exts, extension{0x1a1a, nil})
	if sni {
		exts = append(exts, extension{0x0000, []byte{0, 14, 0, 0, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'}})
	}
	exts = append(exts,
		extension{0x0033, nil}, extension{0x000d, sig}, extension{0x0023, nil}, extension{0x000b, []byte{1, 0}},
		extension{0xff01, []byte{0}}, extension{0x000a, u16s(2, 0x3a3a, 0x001d, 0x0017)}, extension{0x001b, nil},
		extension{0x4469, nil}, extension{0x0012, nil}, extension{0x002d, []byte{1, 1}})
	if alpn != nil {
		exts = append(exts, extension{0x0010, alpn})
	}
	exts = append(exts, extension{0x0005, nil}, extension{0x002b, u16s(1, 0x7a7a, 0x0304, 0x0303)},
		extension{0x0017, nil}, extension{0x0015, nil}, extension{0x4a4a, nil})
	h, err := parseHello(buildHello(0x0303, ciphers, exts), true)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestJA4SpecExample checks the specification's published example: JA4
// t13d1516h2_8daaf6152771_e5627efa2ab1 and its JA4_r line.
func TestJA4SpecExample(t *testing.T) {
	h := specHello(t, alpnExt("h2", "http/1.1"), true)
	if got, want := ja4(h, false, false), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("ja4 = %s, want %s", got, want)
	}
	wantRaw := "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_" +
		"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
	if got := ja4(h, false, true); got != wantRaw {
		t.Errorf("ja4_r = %s\nwant    %s", got, wantRaw)
	}
	if got := ja4(h, true, false); got != "q13d1516h2_8daaf6152771_e5627efa2ab1" {
		t.Errorf("quic ja4 = %s", got)
	}
}

// TestJA4Parts covers the rules of part a the example does not: no SNI,
// no ALPN, the ALPN character rules, and an empty extension hash.
func TestJA4Parts(t *testing.T) {
	for _, tc := range []struct {
		alpn []byte
		sni  bool
		want string // part a
	}{
		{nil, false, "t13i151400"},
		{alpnExt("http/1.1"), true, "t13d1516h1"},
		{alpnExt("h3"), true, "t13d1516h3"},
		{alpnExt("x"), true, "t13d1516xx"},        // one character: it is both first and last
		{alpnExt("\xab\xcd"), true, "t13d1516ad"}, // not alphanumeric: hex "abcd", first and last
		{alpnExt("h2-"), true, "t13d15166d"},      // hex "68322d"
	} {
		h := specHello(t, tc.alpn, tc.sni)
		if got := ja4(h, false, false)[:10]; got != tc.want {
			t.Errorf("alpn %q sni %v: part a %s, want %s", tc.alpn, tc.sni, got, tc.want)
		}
	}
	// No cipher and no extension left: both hashes are the zero hash.
	h, err := parseHello(buildHello(0x0301, []uint16{0x0a0a}, []extension{{0x0000, []byte{0, 0}}}), true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ja4(h, false, false), "t10d000100_000000000000_000000000000"; got != want {
		t.Errorf("empty hello: %s, want %s", got, want)
	}
}
