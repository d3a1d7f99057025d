package dns

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// pcapMessages returns the DNS messages of a capture in order: UDP payloads
// and, for TCP, the payload segments with the 2-byte length stripped (each
// segment of these captures holds exactly one message).
func pcapMessages(t testing.TB, file string) [][]byte {
	t.Helper()
	f, err := os.Open(pcapDir + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		if u, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out = append(out, append([]byte(nil), u.Payload...))
		} else if tc, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && len(tc.Payload) > 2 {
			out = append(out, append([]byte(nil), tc.Payload[2:]...))
		}
	}
}

// realMessages are the valid DNS messages of all captures.
func realMessages(t testing.TB) [][]byte {
	var out [][]byte
	for _, f := range []string{"udp.pcap", "tcp.pcap", "dnssec.pcap"} {
		for _, m := range pcapMessages(t, f) {
			if _, err := Check(m); err == nil {
				out = append(out, m)
			}
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d messages in the captures", len(out))
	}
	return out
}

// header builds a 12-byte header.
func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// wireName encodes a dotted name without compression.
func wireName(s string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// rr encodes a record with the given rdata.
func rr(name []byte, typ, class uint16, ttl uint32, rdata []byte) []byte {
	return cat(name, u16(typ), u16(class), u32(ttl), u16(uint16(len(rdata))), rdata)
}

func TestCompressionLoops(t *testing.T) {
	cases := map[string]struct {
		msg  []byte
		want []error
	}{
		// A pointer to itself.
		"self": {cat(header(1, 0, 1, 0, 0, 0), []byte{0xC0, 12}, u16(1), u16(1)), []error{ErrNameLoop}},
		// Two pointers pointing at each other.
		"ping-pong": {cat(header(1, 0, 1, 0, 0, 0), []byte{0xC0, 14, 0xC0, 12}, u16(1), u16(1)), []error{ErrNameLoop}},
		// A label then a pointer back to it: the name grows each lap.
		"growing":        {cat(header(1, 0, 1, 0, 0, 0), []byte{1, 'a', 0xC0, 12}, u16(1), u16(1)), []error{ErrNameLoop, ErrNameTooLong}},
		"beyond":         {cat(header(1, 0, 1, 0, 0, 0), []byte{0xC0, 0xFF}, u16(1), u16(1)), []error{ErrPointer}},
		"reserved label": {cat(header(1, 0, 1, 0, 0, 0), []byte{0x40, 0}, u16(1), u16(1)), []error{ErrLabelType}},
		"too long":       {cat(header(1, 0, 1, 0, 0, 0), wireName(strings.Repeat("a.", 128)), u16(1), u16(1)), []error{ErrNameTooLong}},
		// A loop hidden in an answer's rdata (CNAME target).
		"rdata loop": {cat(header(1, 0x8180, 1, 1, 0, 0), wireName("a.test"), u16(1), u16(1),
			rr([]byte{0xC0, 12}, TypeCNAME, 1, 60, []byte{0xC0, 36})), nil},
	}
	for name, c := range cases {
		_, err := Check(c.msg)
		if c.want == nil {
			// Check does not look inside rdata; Parse must still terminate
			// and fall back to raw text for the broken target.
			if err != nil {
				t.Errorf("%s: Check: %v", name, err)
				continue
			}
			m, err := Parse(c.msg)
			if err != nil || len(m.Answers) != 1 || m.Answers[0].Data != `\192$` {
				t.Errorf("%s: Parse = %+v, %v", name, m, err)
			}
			continue
		}
		ok := false
		for _, w := range c.want {
			ok = ok || errors.Is(err, w)
		}
		if !ok {
			t.Errorf("%s: Check error %v, want one of %v", name, err, c.want)
		}
		if _, perr := Parse(c.msg); perr == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}

func TestEveryPrefixOfRealMessagesIsRejected(t *testing.T) {
	for _, m := range realMessages(t) {
		if _, err := Parse(m); err != nil {
			t.Fatalf("full message: %v", err)
		}
		for n := 0; n < len(m); n++ {
			if _, err := Check(m[:n]); err == nil {
				t.Fatalf("prefix %d/%d of a %x message accepted", n, len(m), m[:2])
			}
			if _, err := Parse(m[:n]); err == nil {
				t.Fatalf("Parse accepted prefix %d/%d", n, len(m))
			}
		}
	}
}

func TestEmptyMessageIsNotDNS(t *testing.T) {
	if _, err := Check(header(7, 0, 0, 0, 0, 0)); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty message: %v", err)
	}
	if _, err := Check([]byte{1, 2, 3}); !errors.Is(err, ErrShort) {
		t.Errorf("short message: %v", err)
	}
}

func TestEscapedNames(t *testing.T) {
	label := []byte{3, 'a', '.', 'b', 3, 'c', ' ', 0xFF, 4, 't', 'e', 's', 't', 0}
	m, err := Parse(cat(header(1, 0, 1, 0, 0, 0), label, u16(1), u16(1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Questions[0].Name; got != `a\.b.c\ \255.test` {
		t.Errorf("name %q", got)
	}
	root, err := Parse(cat(header(1, 0, 1, 0, 0, 0), []byte{0}, u16(TypeNS), u16(1)))
	if err != nil || root.Questions[0].Name != "." {
		t.Errorf("root: %+v %v", root, err)
	}
}

// ednsResponse is a BADVERS-style response with EDNS options.
func ednsResponse() []byte {
	opts := cat(
		u16(10), u16(8), []byte{1, 2, 3, 4, 5, 6, 7, 8}, // cookie
		u16(3), u16(2), []byte("ab"), // nsid
		u16(8), u16(7), u16(1), []byte{24, 0, 192, 0, 2}, // client subnet 192.0.2.0/24
		u16(12), u16(3), []byte{0, 0, 0}, // padding: not reported
		u16(65002), u16(1), []byte{0xCD}, // local use, overwritten by the next
		u16(65001), u16(1), []byte{0xAB}, // local use
	)
	// TTL of OPT: ext rcode 1, version 0, DO.
	opt := rr([]byte{0}, TypeOPT, 4096, 0x01008000, opts)
	return cat(header(0x1234, 0x8180, 1, 0, 0, 1), wireName("example.test"), u16(1), u16(1), opt)
}

func TestEDNS(t *testing.T) {
	m, err := Parse(ednsResponse())
	if err != nil {
		t.Fatal(err)
	}
	o := m.OPT
	if o == nil || o.UDPSize != 4096 || o.ExtRcode != 1 || o.Version != 0 || !o.DO {
		t.Fatalf("OPT %+v", o)
	}
	if m.Rcode() != 16 || RcodeString(m.Rcode()) != "BADSIG" {
		t.Errorf("extended rcode %d %s", m.Rcode(), RcodeString(m.Rcode()))
	}
	if m.AdditionalsCount != 0 || len(m.Additionals) != 0 {
		t.Errorf("OPT counted as an additional record")
	}
	got := map[string]string{}
	for _, f := range o.Options {
		got[f.Key] = f.Str
	}
	want := map[string]string{"cookie": "0102030405060708", "nsid": "6162", "subnet": "192.0.2.0/24/0", "local": "65001:0xab"}
	if len(got) != len(want) {
		t.Errorf("options %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("option %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestMalformedRDataFallsBackToRawText(t *testing.T) {
	// An A record with 3 bytes of rdata and an MX without its name.
	msg := cat(header(1, 0x8180, 1, 2, 0, 0), wireName("x.test"), u16(1), u16(1),
		rr([]byte{0xC0, 12}, TypeA, 1, 5, []byte{192, 0, 2}),
		rr([]byte{0xC0, 12}, TypeMX, 1, 5, []byte{0, 10}))
	m, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Answers[0]; a.Data != `\192\000\002` || a.IP.IsValid() {
		t.Errorf("short A: %+v", a)
	}
	if mx := m.Answers[1]; mx.Data != `\000\n` || mx.Fields != nil {
		t.Errorf("short MX: %+v", mx)
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	msgs := realMessages(t)
	allocs := testing.AllocsPerRun(100, func() {
		for _, m := range msgs {
			if _, err := Check(m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Check allocates %.1f times per run", allocs)
	}
}

func BenchmarkCheck(b *testing.B) {
	msgs := realMessages(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Check(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	msgs := realMessages(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, m := range realMessages(f) {
		f.Add(m)
	}
	f.Add(ednsResponse())
	f.Add(cat(header(1, 0, 1, 0, 0, 0), []byte{0xC0, 14, 0xC0, 12}, u16(1), u16(1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Check(data)
		m, perr := Parse(data)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Check says %v, Parse says %v", err, perr)
		}
		if err != nil {
			return
		}
		if len(m.Questions) != int(h.QDCount) || len(m.Answers) != int(h.ANCount) || len(m.Authorities) != int(h.NSCount) {
			t.Fatalf("section sizes %d/%d/%d vs header %+v", len(m.Questions), len(m.Answers), len(m.Authorities), h)
		}
		// The whole event path must produce valid JSON for any message.
		checkEventJSON(t, data)
	})
}
