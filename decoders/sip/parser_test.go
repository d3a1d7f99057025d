package sip

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// A hand-written request exercising what the captures do not: folding,
// several Via values in one header, mixed-case names, IPv6, P-Associated-URI,
// Allow/Supported lists, bare-URI From, Proxy-Authorization.
const crafted = "OPTIONS sips:Bob:pw@[2001:db8::1]:5061;transport=tls SIP/2.0\r\n" +
	"VIA: SIP/2.0/TLS [2001:db8::2]:5061;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb\r\n" +
	"v: SIP/2.0/UDP 10.0.0.2\r\n" +
	"from: sip:carol@example.org;tag=abc\r\n" +
	"To: \"Bob, the builder\" <sips:bob@[2001:db8::1]>\r\n" +
	"Subject: folded\r\n" +
	" continues here\r\n" +
	"Call-ID: xyz\r\n" +
	"\tfolded-too\r\n" +
	"CSeq: 7 options\r\n" +
	"Contact: \"C\" <sip:carol@10.0.0.2:5070;transport=TCP;line=l1>;expires=60;q=0.5, <sip:other@x>\r\n" +
	"Allow: INVITE, ACK ,Options\r\n" +
	"k: 100rel,Timer\r\n" +
	"Accept: Application/SDP\r\n" +
	"P-Associated-URI: <sip:priv@ims.example:5080>\r\n" +
	"Proxy-Authorization: Digest username=\"carol\", realm=\"ims\", uri=\"sips:[2001:db8::1]:5061\"\r\n" +
	"Max-Forwards: 69\r\n" +
	"Content-Length: 0\r\n\r\n"

func encode(t testing.TB, ev ecsmap.Event) map[string]any {
	var w ecsmap.Writer
	raw := ecsmap.Encode(&w, ev, &ecsmap.Meta{Dataset: "sip"})
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("invalid JSON %v: %s", err, raw)
	}
	return m
}

func TestCrafted(t *testing.T) {
	var m Message
	n, err := Parse([]byte(crafted), &m, true)
	if err != nil || n != len(crafted) {
		t.Fatalf("Parse: %d %v", n, err)
	}
	if m.NVia != 3 {
		t.Errorf("%d via values", m.NVia)
	}
	cfg := DefaultConfig()
	ev := newEvent([]byte(crafted), true, &cfg, time.Unix(1, 0))
	c := protocol.Conn{Client: netip.MustParseAddrPort("[2001:db8::2]:40000"), Server: netip.MustParseAddrPort("[2001:db8::1]:5061"), IPProtocol: 6}
	fillConn(ev, &c, protocol.FromClient, n)
	doc := encode(t, ev)
	expect(t, doc, map[string]string{
		"sip.method": "OPTIONS", "event.action": "sip-options", "event.sequence": "7",
		"sip.uri.scheme": "sips", "sip.uri.username": "Bob", "sip.uri.host": "2001:db8::1", "sip.uri.port": "5061",
		"sip.via.original":      "SIP/2.0/TLS [2001:db8::2]:5061;branch=z9hG4bKa;SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb;SIP/2.0/UDP 10.0.0.2",
		"sip.from.uri.original": "sip:carol@example.org", "sip.from.tag": "abc", "sip.from.display_info": "",
		"sip.to.display_info": "Bob, the builder", "sip.to.uri.host": "2001:db8::1", "sip.to.uri.port": "",
		"sip.call_id":              "xyz\r\n\tfolded-too",
		"sip.cseq.method":          "OPTIONS",
		"sip.contact.display_info": "C", "sip.contact.uri.port": "5070", "sip.contact.transport": "tcp",
		"sip.contact.line": "l1", "sip.contact.expires": "60", "sip.contact.q": "0.5",
		"sip.allow": "invite;ack;options", "sip.supported": "100rel;timer", "sip.accept": "application/sdp",
		"sip.private.uri.original": "sip:priv@ims.example:5080", "sip.private.uri.username": "priv",
		"sip.private.uri.port": "5080",
		"sip.auth.scheme":      "Digest", "sip.auth.realm": "ims", "sip.auth.uri.host": "2001:db8::1",
		"sip.auth.uri.port": "5061", "user.name": "carol",
		"sip.max_forwards": "69", "network.type": "ipv6", "network.iana_number": "6",
		"related.user":  "Bob;carol;bob;priv",
		"related.hosts": "2001:db8::1;example.org;10.0.0.2;ims.example",
		// Proxy-Authorization is parsed but only Authorization marks authentication (Packetbeat).
		"event.category": "network;protocol",
	})
}

func TestParseErrors(t *testing.T) {
	invite := []byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nv=0\n")
	for _, tc := range []struct {
		in     string
		stream bool
		err    error
	}{
		{"HTTP/1.1 200 OK\r\n\r\n", false, ErrStartLine},
		{"INVITE sip:a@b HTTP/1.1\r\n\r\n", false, ErrStartLine},
		{"SIP/2.0 2x0 OK\r\n\r\n", false, ErrStartLine},
		{"SIP/2.0 099 Low\r\n\r\n", false, ErrStartLine},
		{"IN<VITE sip:a SIP/2.0\r\n\r\n", false, ErrStartLine},
		{"\x00\x01\x02\x03\x04\x05\x06\x07\x08", true, ErrStartLine},
		{"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", false, ErrHeader},
		{"INVITE sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", false, ErrContentLength},
		{"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n", false, ErrTooLarge},
		{"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", true, ErrNeedMore},
		{"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", false, ErrNeedMore},
		{"INVITE sip", true, ErrNeedMore},
		{string(invite[:len(invite)-1]), false, ErrNeedMore},
		{"OPTIONS sip:a SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 100)+"\r\n", 700), true, ErrTooLarge},
	} {
		var m Message
		if _, err := Parse([]byte(tc.in), &m, tc.stream); err != tc.err {
			t.Errorf("%.40q: %v, want %v", tc.in, err, tc.err)
		}
	}
	var m Message
	if n, err := Parse(invite, &m, true); err != nil || n != len(invite) || string(m.Body) != "v=0\n" {
		t.Errorf("%d %v %q", n, err, m.Body)
	}
	// Datagram without Content-Length: the body is the rest.
	if _, err := Parse([]byte("MESSAGE sip:a SIP/2.0\r\nContent-Type: text/plain\r\n\r\nhello"), &m, false); err != nil || string(m.Body) != "hello" {
		t.Errorf("%v %q", err, m.Body)
	}
	// On a stream it is zero.
	if n, err := Parse([]byte("MESSAGE sip:a SIP/2.0\r\n\r\nhello"), &m, true); err != nil || n != 25 || len(m.Body) != 0 {
		t.Errorf("%d %v %q", n, err, m.Body)
	}
}

func TestURIAndNameAddr(t *testing.T) {
	for in, want := range map[string]string{
		"sip:alice@atlanta.com":                      "sip|alice|atlanta.com|0|",
		"sip:alice:secret@atlanta.com;transport=tcp": "sip|alice|atlanta.com|0|transport=tcp",
		"sips:[::1]:5061":                            "sips||::1|5061|",
		"tel:+1-212-555-1212":                        "tel||+1-212-555-1212|0|",
		"sip:host:notaport":                          "sip||host|0|",
		"garbage":                                    "|||0|",
		"sip:bob@biloxi.com?subject=x":               "sip|bob|biloxi.com|0|",
	} {
		u := ParseURI([]byte(in))
		got := strings.Join([]string{string(u.Scheme), string(u.User), string(u.Host), itoa(u.Port), string(u.Params)}, "|")
		if got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	n := ParseNameAddr([]byte(` "A \"q\"" <sip:a@b>;tag=1;x`))
	if string(n.Display) != `A \"q\` { // quotes trimmed, escapes kept
		t.Errorf("display %q", n.Display)
	}
	if tag, _ := Param(n.Params, "tag"); string(tag) != "1" {
		t.Errorf("tag %q", tag)
	}
	if _, ok := Param(n.Params, "x"); !ok {
		t.Error("valueless param not found")
	}
	// Unterminated '<' must not panic.
	_ = ParseNameAddr([]byte("Bob <sip:bob@x"))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSDP(t *testing.T) {
	s := ParseSDP([]byte("v=0\no=- 1 2 IN IP6 ::1\ns=Talk\nc=IN IP6 ::2\nm=audio 1 RTP/AVP 0\nc=IN IP4 9.9.9.9\n"))
	if s.OwnerUser != nil || string(s.OwnerIP) != "::1" || string(s.SessionName) != "Talk" || string(s.ConnAddr) != "::2" {
		t.Errorf("%+v", s)
	}
	s = ParseSDP([]byte("o=short\nc=\n"))
	if s.OwnerSessID != nil || s.ConnAddr != nil {
		t.Errorf("%+v", s)
	}
}

// TestSDPHostOwner: an SDP origin with a host name is not an ip field value.
func TestSDPHostOwner(t *testing.T) {
	msg := "INVITE sip:a@b SIP/2.0\r\nContent-Type: Application/SDP; charset=x\r\nContent-Length: 37\r\n\r\no=u 1 2 IN IP4 host.example\r\nc=IN IP4\r\n"
	cfg := DefaultConfig()
	ev := newEvent([]byte(msg), false, &cfg, time.Unix(1, 0))
	doc := encode(t, ev)
	expect(t, doc, map[string]string{"sip.sdp.owner.username": "u", "sip.sdp.owner.ip": "", "sip.sdp.connection.address": "IP4", "sip.content_type": "application/sdp; charset=x"})
	// Encoded bodies are not parsed (as Packetbeat).
	msg = strings.Replace(msg, "Content-Length", "e: gzip\r\nContent-Length", 1)
	if doc := encode(t, newEvent([]byte(msg), false, &cfg, time.Unix(1, 0))); protocoltest.Get(doc, "sip.sdp") != nil {
		t.Error("sdp parsed despite Content-Encoding")
	}
}

type sink struct {
	docs []map[string]any
	t    testing.TB
}

func (s *sink) Publish(ev ecsmap.Event) { s.docs = append(s.docs, encode(s.t, ev)) }

// feed emulates the engine's stream: unconsumed bytes come back with the
// next chunk.
func feed(p protocol.TCPParser, dir protocol.Dir, data []byte, chunk int) {
	var pending []byte
	for len(data) > 0 {
		k := min(chunk, len(data))
		pending = append(pending, data[:k]...)
		data = data[k:]
		n := p.Parse(dir, pending, time.Unix(1, 0))
		pending = append(pending[:0], pending[n:]...)
	}
}

func TestTCPFraming(t *testing.T) {
	msgs := crafted + "\r\n\r\n" + // keep-alive between messages
		"SIP/2.0 200 OK\r\nCSeq: 7 OPTIONS\r\nContent-Type: application/sdp\r\nl: 10\r\n\r\nv=0\r\ns=x\r\n" +
		"BYE sip:a SIP/2.0\r\nCall-ID: last\r\n\r\n"
	for _, chunk := range []int{1, 2, 7, 100, len(msgs)} {
		sk := &sink{t: t}
		p := New(protocol.Common{}, DefaultConfig(), sk)
		c := &protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5060"), IPProtocol: 6}
		feed(p.NewConn(c), protocol.FromClient, []byte(msgs), chunk)
		if len(sk.docs) != 3 || p.ParseErrors() != 0 {
			t.Fatalf("chunk %d: %d events, %d errors", chunk, len(sk.docs), p.ParseErrors())
		}
		expect(t, sk.docs[1], map[string]string{"sip.code": "200", "sip.sdp.session.name": "x", "sip.content_length": "10"})
		expect(t, sk.docs[2], map[string]string{"sip.call_id": "last", "sip.method": "BYE"})
	}
}

func TestTCPResync(t *testing.T) {
	sk := &sink{t: t}
	p := New(protocol.Common{}, DefaultConfig(), sk)
	c := &protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5060"), IPProtocol: 6}
	tc := p.NewConn(c)
	// Garbage, then a message: one error, the message still decoded.
	feed(tc, protocol.FromClient, []byte("\x16\x03\x01 binary junk\r\nmore junk\r\nBYE sip:a SIP/2.0\r\nCall-ID: one\r\n\r\n"), 5)
	// A gap in the middle of a body: the rest of that message is skipped.
	feed(tc, protocol.FromClient, []byte("INVITE sip:a SIP/2.0\r\nContent-Length: 20\r\n\r\nv=0\r\n"), 1000)
	tc.Gap(protocol.FromClient, 10, time.Unix(2, 0))
	feed(tc, protocol.FromClient, []byte("t=0 0\r\nACK sip:a SIP/2.0\r\nCall-ID: two\r\n\r\n"), 1000)
	if len(sk.docs) != 2 {
		t.Fatalf("%d events", len(sk.docs))
	}
	expect(t, sk.docs[0], map[string]string{"sip.call_id": "one"})
	expect(t, sk.docs[1], map[string]string{"sip.call_id": "two"})
	if p.ParseErrors() != 1 {
		t.Errorf("%d parse errors, want 1", p.ParseErrors())
	}
	tc.Fin(protocol.FromClient, time.Unix(3, 0))
	tc.Expire(time.Unix(3, 0))
	tc.Close(time.Unix(3, 0))
}

func TestUDPGarbage(t *testing.T) {
	sk := &sink{t: t}
	p := New(protocol.Common{}, DefaultConfig(), sk)
	c := &protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:5060"), IPProtocol: 17}
	ts := time.Unix(1, 0)
	p.Datagram(c, protocol.FromClient, []byte("\r\n\r\n"), ts) // keep-alive: neither event nor error
	p.Datagram(c, protocol.FromClient, []byte{0x80, 0x00, 0x01, 0x02, 0xde, 0xad, 0xbe, 0xef, 0, 0}, ts)
	p.Datagram(c, protocol.FromClient, []byte("INVITE sip:a SIP/2.0\r\nContent-Length: 50\r\n\r\nv=0\r\n"), ts)
	p.Datagram(c, protocol.FromServer, []byte("SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n"), ts)
	if len(sk.docs) != 1 || p.ParseErrors() != 2 || p.Stats().Truncated.Load() != 1 || p.Stats().Messages.Load() != 1 {
		t.Fatalf("%d events, %d errors, %d truncated", len(sk.docs), p.ParseErrors(), p.Stats().Truncated.Load())
	}
	expect(t, sk.docs[0], map[string]string{"sip.code": "100", "event.action": "sip-invite", "source.ip": "10.0.0.2", "destination.port": "1"})
}
