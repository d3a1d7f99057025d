package ecsmap

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type testEvent struct{ base Base }

func (e *testEvent) EventBase() *Base { return &e.base }
func (e *testEvent) WriteFields(w *Writer) {
	w.Object("dns")
	w.Str("name", "a\"b\\c\n\x01\xff")
	w.OptStr("empty", "")
	w.End()
}

func TestEncodeProducesValidJSONWithEscapes(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	ev := &testEvent{base: Base{
		Start: start, End: start.Add(1500 * time.Microsecond), Type: "dns",
		Transport: "udp", IPProtocol: 17, NetworkType: "ipv4", ClientServer: true,
		Source:      Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 5353, Bytes: 40},
		Destination: Endpoint{IP: netip.MustParseAddr("192.0.2.2"), Port: 53, Bytes: 90},
		Status:      "OK", VLANs: []uint16{100, 7},
	}}
	var w Writer
	raw := Encode(&w, ev, &Meta{Dataset: "network_traffic.dns", Tags: []string{"t1"}, Extra: []byte(`"data_stream":{"type":"logs"}`)})
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", raw, err)
	}
	dns := m["dns"].(map[string]any)
	if got := dns["name"]; got != "a\"b\\c\n\x01\uFFFD" {
		t.Errorf("escaped string round-trips to %q", got)
	}
	if _, ok := dns["empty"]; ok {
		t.Errorf("empty optional field written without keep_null")
	}
	if m["@timestamp"] != "2026-11-25T10:00:00.123456789Z" {
		t.Errorf("@timestamp %v", m["@timestamp"])
	}
	evm := m["event"].(map[string]any)
	if evm["duration"] != 1.5e6 || evm["dataset"] != "network_traffic.dns" {
		t.Errorf("event group %v", evm)
	}
	net := m["network"].(map[string]any)
	if net["bytes"] != 130.0 || net["vlan"].(map[string]any)["id"] != "100" {
		t.Errorf("network group %v", net)
	}
	if m["client"].(map[string]any)["port"] != 5353.0 || m["server"].(map[string]any)["bytes"] != 90.0 {
		t.Errorf("client/server copies wrong: %v %v", m["client"], m["server"])
	}
	if ips := m["related"].(map[string]any)["ip"].([]any); len(ips) != 2 {
		t.Errorf("related.ip %v", ips)
	}
	if m["data_stream"].(map[string]any)["type"] != "logs" || m["tags"].([]any)[0] != "t1" {
		t.Errorf("meta not applied: %s", raw)
	}
}

func TestKeepNullWritesNulls(t *testing.T) {
	ev := &testEvent{base: Base{Start: time.Unix(0, 0), Type: "dns"}}
	var w Writer
	raw := Encode(&w, ev, &Meta{KeepNull: true})
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	dns := m["dns"].(map[string]any)
	if v, ok := dns["empty"]; !ok || v != nil {
		t.Errorf("keep_null: want empty: null, got %v (present %v)", v, ok)
	}
}

// Both directions of a connection, and an echo request and its reply, share
// one id. Agreement with tshark's communityid dissector is checked end to end
// on a real capture in cmd/network-traffic.
func TestCommunityIDOrderIndependent(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	x := string(AppendCommunityID(nil, 6, a, b, 40000, 80, 0, 0, false))
	y := string(AppendCommunityID(nil, 6, b, a, 80, 40000, 0, 0, false))
	if x != y {
		t.Errorf("direction changes the id: %s vs %s", x, y)
	}
	req := string(AppendCommunityID(nil, 1, a, b, 0, 0, 8, 0, true))
	rep := string(AppendCommunityID(nil, 1, b, a, 0, 0, 0, 0, true))
	if req != rep {
		t.Errorf("echo request and reply differ: %s vs %s", req, rep)
	}
}

func BenchmarkEncode(b *testing.B) {
	start := time.Now()
	ev := &testEvent{base: Base{Start: start, End: start.Add(time.Millisecond), Type: "dns", Transport: "udp", IPProtocol: 17,
		NetworkType: "ipv4", ClientServer: true,
		Source:      Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 5353, Bytes: 40},
		Destination: Endpoint{IP: netip.MustParseAddr("192.0.2.2"), Port: 53, Bytes: 90}}}
	var w Writer
	meta := &Meta{Dataset: "network_traffic.dns"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Encode(&w, ev, meta)
	}
}

// The cached-second timestamp writer and the SWAR string scan must agree
// with their plain counterparts (time.RFC3339Nano, byte by byte escaping).
func TestTimeMatchesRFC3339Nano(t *testing.T) {
	var w Writer
	base := time.Date(2026, 11, 25, 23, 59, 59, 0, time.UTC)
	for _, tm := range []time.Time{
		base, base.Add(1), base.Add(10), base.Add(time.Microsecond), base.Add(123456789),
		base.Add(time.Second), base.Add(999999999), base.Add(time.Second + 500*time.Millisecond),
		time.Unix(0, 0), time.Date(1999, 12, 31, 23, 59, 59, 100, time.FixedZone("x", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		base, // same second again: served from the cache
	} {
		got := string(w.appendTime(nil, tm))
		if want := tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("%v: got %s, want %s", tm, got, want)
		}
	}
}

func TestIsPlain(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", "abcdefg\"", "abcdefgh\\ijk",
		"0123456789abcdef\x1f", "0123456789abcdef\x7f", "01234567\xc3\xa9", "        ", "~~~~~~~~~~~~~~~~!",
		"\x00bcdefgh", "abc\x20\x21\x22", "/f3.txt?q=1&b=2#x", "content-length", "ab", "a\"", "abcd", "abc\\",
		"\x1fbcd", "abcde", "abcd\xff", "abcdefg", "\"bcdefg", "abcdefghijklmnop", "abcdefghijklmno\n", "abcdefghi\x7fklmnop"} {
		want := true
		for i := 0; i < len(s); i++ {
			want = want && plain[s[i]]
		}
		if got := isPlain(s); got != want {
			t.Errorf("isPlain(%q) = %v, want %v", s, got, want)
		}
	}
	// Every single byte value in every position of short strings.
	for n := 1; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if got := isPlain(string(b)); got != plain[c] {
					t.Fatalf("isPlain(%q) = %v, want %v", b, got, plain[c])
				}
			}
		}
	}
}

// The Community ID cache returns what AppendCommunityID computes, through
// collisions and evictions.
func TestCommunityIDCache(t *testing.T) {
	var w Writer
	pairs := [][2]netip.Addr{
		{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")},
		{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")},
		{netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::2")},
		{netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("10.0.0.3")},
		{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::1")}, // nonsense, but no panic
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 500; i++ {
			p := pairs[(i/3)%len(pairs)]
			k := communityIDKey{src: p[0], dst: p[1],
				srcPort: uint16(40000 + i%97), dstPort: uint16(i % 7), proto: []uint8{6, 17, 1, 58}[i%4]}
			if k.proto == 1 || k.proto == 58 {
				k.isICMP, k.icmpType, k.icmpCode = true, uint8(i%20), uint8(i%3)
			}
			got := string(w.appendCommunityID(nil, k))
			want := string(AppendCommunityID(nil, k.proto, k.src, k.dst, k.srcPort, k.dstPort, k.icmpType, k.icmpCode, k.isICMP))
			if got != want {
				t.Fatalf("%+v: cached %s, computed %s", k, got, want)
			}
		}
	}
}
