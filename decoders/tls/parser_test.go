package tls

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// docString renders a document without the fields that legitimately change
// with framing (byte counts).
func docString(d map[string]any) string {
	for _, k := range []string{"source", "destination", "client", "server"} {
		if m, ok := d[k].(map[string]any); ok {
			delete(m, "bytes")
		}
	}
	delete(d, "network")
	return fmt.Sprint(d)
}

// TestChunking: the same connection handed over byte by byte, in odd
// pieces or whole segments gives the same event.
func TestChunking(t *testing.T) {
	for _, name := range pcaps {
		for _, st := range readStreams(t, name) {
			var want string
			for _, chunk := range []int{0, 1, 7, 100, 1500} {
				p, col := newProto(t, nil)
				feed(t, p, st, chunk)
				if len(col.docs) != 1 {
					t.Fatalf("%s chunk %d: %d events", name, chunk, len(col.docs))
				}
				got := docString(col.docs[0])
				if chunk == 0 {
					want = got
				} else if got != want {
					t.Errorf("%s chunk %d:\n%s\nwant\n%s", name, chunk, got, want)
				}
			}
		}
	}
}

// reframe rewrites one direction's records so that every handshake record
// carries at most n bytes: handshake messages then span records, as TLS
// allows (and large certificate chains do in practice).
func reframe(t *testing.T, stream []byte, n int) []byte {
	var out []byte
	for len(stream) >= 5 {
		l := int(binary.BigEndian.Uint16(stream[3:]))
		if len(stream) < 5+l {
			t.Fatalf("truncated record")
		}
		hdr, body := stream[:5], stream[5:5+l]
		stream = stream[5+l:]
		if hdr[0] != recHandshake {
			out = append(out, hdr...)
			out = append(out, body...)
			continue
		}
		for len(body) > 0 {
			k := min(n, len(body))
			out = append(out, hdr[0], hdr[1], hdr[2], byte(k>>8), byte(k))
			out = append(out, body[:k]...)
			body = body[k:]
		}
	}
	return append(out, stream...)
}

func TestHandshakeSpanningRecords(t *testing.T) {
	for _, name := range []string{"tls12.pcap", "mtls.pcap"} {
		st := readStreams(t, name)[0]
		p, col := newProto(t, nil)
		feed(t, p, st, 0)
		want := docString(col.docs[0])

		// Join each direction's bytes up to its ChangeCipherSpec, reframe,
		// and replay as one segment per direction turn.
		var segs []segment
		for _, s := range st.segs {
			if n := len(segs); n > 0 && segs[n-1].dir == s.dir {
				segs[n-1].data = append(segs[n-1].data, s.data...)
				continue
			}
			segs = append(segs, segment{s.dir, append([]byte(nil), s.data...), s.ts})
		}
		for i := range segs {
			segs[i].data = reframe(t, segs[i].data, 50)
		}
		p2, col2 := newProto(t, nil)
		feed(t, p2, &tcpStream{conn: st.conn, segs: segs}, 0)
		if len(col2.docs) != 1 {
			t.Fatalf("%s: %d events", name, len(col2.docs))
		}
		if got := docString(col2.docs[0]); got != want {
			t.Errorf("%s reframed:\n%s\nwant\n%s", name, got, want)
		}
		if p2.stats.ParseErrors.Load() != 0 {
			t.Errorf("%s: %d parse errors", name, p2.stats.ParseErrors.Load())
		}
	}
}

func TestOptions(t *testing.T) {
	st := readStreams(t, "mtls.pcap")[0]
	run := func(opts map[string]any) map[string]any {
		t.Helper()
		p, col := newProto(t, opts)
		feed(t, p, st, 0)
		return col.docs[0]
	}
	d := run(map[string]any{"send_certificates": false})
	for _, k := range []string{"tls.server.x509", "tls.client.x509", "tls.detailed.server_certificate_chain", "tls.detailed.client_certificate_chain"} {
		if protocoltest.Get(d, k) != nil {
			t.Errorf("send_certificates false: %s present", k)
		}
	}
	if protocoltest.Get(d, "tls.server.subject") == nil || protocoltest.Get(d, "tls.server.hash.sha1") == nil {
		t.Error("send_certificates false must keep the leaf summary")
	}

	d = run(map[string]any{"include_detailed_fields": false})
	if protocoltest.Get(d, "tls.detailed") != nil || protocoltest.Get(d, "tls.server.x509") != nil {
		t.Error("include_detailed_fields false: detailed or x509 present")
	}

	d = run(map[string]any{"fingerprints": "sha256, md5"})
	h := protocoltest.Get(d, "tls.server.hash").(map[string]any)
	if len(h["sha256"].(string)) != 64 || len(h["md5"].(string)) != 32 || h["sha1"] != nil {
		t.Errorf("fingerprints sha256,md5: %v", h)
	}

	d = run(map[string]any{"include_raw_certificates": true})
	chain, _ := protocoltest.Get(d, "tls.server.certificate_chain").([]any)
	if len(chain) != 2 {
		t.Fatalf("certificate_chain: %d entries", len(chain))
	}
	blk, _ := pem.Decode([]byte(chain[0].(string)))
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || c.Subject.String() != protocoltest.Get(d, "tls.server.subject") {
		t.Errorf("PEM leaf does not parse back to the subject: %v", err)
	}

	spec, _ := protocol.Lookup("tls")
	for _, bad := range []map[string]any{{"fingerprints": []any{"sha512"}}, {"send_certificate": true}} {
		c, o, _ := protocol.SplitCommon(spec, bad)
		if _, err := spec.New(c, o, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	c2, _, _ := protocol.SplitCommon(spec, nil)
	if fmt.Sprint(c2.Ports) != "[443 993 995 5223 8443 8883 9243]" {
		t.Errorf("default ports %v", c2.Ports)
	}
}

// TestNotTLS: plain text on a TLS port is skipped, counted, and produces
// no event; the parser consumes it instead of holding it.
func TestNotTLS(t *testing.T) {
	p, col := newProto(t, nil)
	conn := readStreams(t, "tls12.pcap")[0].conn
	c := p.NewConn(&conn)
	req := []byte("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
	if n := c.Parse(protocol.FromClient, req, time.Now()); n != len(req) {
		t.Errorf("consumed %d of %d", n, len(req))
	}
	c.Close(time.Now())
	if len(col.docs) != 0 || p.ParseErrors() != 1 {
		t.Errorf("%d events, %d parse errors", len(col.docs), p.ParseErrors())
	}
}

// TestGapMidHandshake: losing bytes publishes what the handshake showed so
// far, as an unfinished (Error) handshake.
func TestGapMidHandshake(t *testing.T) {
	st := readStreams(t, "tls12.pcap")[0]
	p, col := newProto(t, nil)
	conn := st.conn
	c := p.NewConn(&conn)
	s := st.segs[0] // the ClientHello
	c.Parse(s.dir, s.data, s.ts)
	c.Gap(protocol.FromServer, 1000, s.ts)
	c.Parse(protocol.FromServer, st.segs[1].data, st.segs[1].ts)
	c.Close(s.ts)
	if len(col.docs) != 1 {
		t.Fatalf("%d events", len(col.docs))
	}
	d := col.docs[0]
	if protocoltest.Get(d, "status") != "Error" || protocoltest.Get(d, "tls.established") != false || protocoltest.Get(d, "tls.client.ja3") == nil || protocoltest.Get(d, "tls.server") != nil {
		t.Errorf("after gap: %v", d)
	}
}

// TestTruncatedHandshakeMessage: a ClientHello whose length runs past its
// content is reported, not published as a hello.
func TestBadHello(t *testing.T) {
	st := readStreams(t, "tls12.pcap")[0]
	hello := append([]byte(nil), st.segs[0].data...)
	// Cut the hello body short but fix up both length fields so the
	// record layer delivers it.
	body := hello[5+4 : 5+4+40]
	rec := []byte{22, 3, 1, 0, byte(4 + len(body)), 1, 0, 0, byte(len(body))}
	rec = append(rec, body...)
	p, col := newProto(t, nil)
	c := p.NewConn(&st.conn)
	c.Parse(protocol.FromClient, rec, st.segs[0].ts)
	c.Close(st.segs[0].ts)
	if len(col.docs) != 0 || p.ParseErrors() != 1 {
		t.Errorf("%d events, %d parse errors", len(col.docs), p.ParseErrors())
	}
}

// TestAppDataAllocs: after the handshake, data costs no allocation.
func TestAppDataAllocs(t *testing.T) {
	st := readStreams(t, "tls12.pcap")[0]
	p, col := newProto(t, nil)
	c := p.NewConn(&st.conn)
	for _, s := range st.segs[:4] {
		c.Parse(s.dir, s.data, s.ts)
	}
	if len(col.docs) != 1 {
		t.Fatalf("handshake not published after 4 segments: %d", len(col.docs))
	}
	rec := make([]byte, 1400)
	rec[0], rec[1], rec[2] = 23, 3, 3
	ts := st.segs[3].ts
	if a := testing.AllocsPerRun(100, func() { c.Parse(protocol.FromServer, rec, ts) }); a != 0 {
		t.Errorf("%v allocations per application data segment", a)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{cipherName(0xc02f), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{cipherName(0xff85), "(unknown:0xff85)"},
		{signatureName(0x0301), "(unknown:0x0301)"},
		{groupName(0x001d), "x25519"},
		{version(0x0300).String(), "SSL 3.0"},
		{version(0x0304).String(), "TLS 1.3"},
		{alertName(40), "handshake_failure"},
		{unknown8(200), "(unknown:200)"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
	if !isGrease(0x0a0a) || !isGrease(0xfafa) || isGrease(0x0a1a) || isGrease(0x1301) {
		t.Error("isGrease")
	}
	if v, proto := version(0x0300).protocol(); v != "ssl" || proto != "3.0" {
		t.Error("ssl 3.0 protocol")
	}
	if !strings.HasPrefix(cipherName(0x1301), "TLS_AES_128") {
		t.Error(cipherName(0x1301))
	}
}
