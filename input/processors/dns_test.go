package processors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers PTR queries from names (reverse name -> host) and A
// queries for "host-1.lab.", NXDOMAIN otherwise; it counts queries.
type fakeDNS struct {
	names   map[string]string
	queries atomic.Int64
}

func (f *fakeDNS) answer(req []byte) []byte {
	var m dnsmessage.Message
	if err := m.Unpack(req); err != nil || len(m.Questions) != 1 {
		return nil
	}
	f.queries.Add(1)
	q := m.Questions[0]
	hdr := dnsmessage.Header{ID: m.ID, Response: true, RecursionAvailable: true}
	host, ok := f.names[q.Name.String()]
	if !ok {
		hdr.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, hdr)
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if ok {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: 300}
		switch q.Type {
		case dnsmessage.TypePTR:
			b.PTRResource(rh, dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(host)})
		case dnsmessage.TypeA:
			b.AResource(rh, dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}})
		}
	}
	out, _ := b.Finish()
	return out
}

func (f *fakeDNS) serveUDP(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := f.answer(buf[:n]); out != nil {
				pc.WriteTo(out, addr)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func (f *fakeDNS) serveTLS(t *testing.T, cfg *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				req := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, req); err != nil {
					return
				}
				out := f.answer(req)
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out))))
				c.Write(out)
			}()
		}
	}()
	return ln.Addr().String()
}

// silentUDP is a nameserver that never answers.
func silentUDP(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

var labNames = map[string]string{
	"1.0.0.10.in-addr.arpa.": "host-1.lab.",
	"2.0.0.10.in-addr.arpa.": "host-2.lab.",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.": "v6.lab.",
	"host-1.lab.": "",
}

// The example of Beats' dns documentation (with its nameservers replaced
// by local ones): one unanswered server first, then a real answer.
func TestDNSReverseDocExample(t *testing.T) {
	f := &fakeDNS{names: labNames}
	addr := f.serveUDP(t)
	c := chainFromYAML(t, `
processors:
  - dns:
      type: reverse
      action: append
      fields:
        server.ip: server.domain
        client.ip: client.domain
      success_cache:
        capacity.initial: 1000
        capacity.max: 10000
        min_ttl: 1m
      failure_cache:
        capacity.initial: 1000
        capacity.max: 10000
        ttl: 1m
      nameservers: ['`+addr+`']
      timeout: 500ms
      tag_on_failure: [_dns_reverse_lookup_failed]
`)
	m, err := process(t, c, `{"client":{"ip":"10.0.0.1"},"server":{"ip":"fd00::1","domain":"given.example"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"client.domain": "host-1.lab", "server.domain": []any{"given.example", "v6.lab"}, "tags": nil})
	// Cached: the same addresses again send no query.
	before := f.queries.Load()
	process(t, c, `{"client":{"ip":"10.0.0.1"},"server":{"ip":"fd00::1"}}`)
	if f.queries.Load() != before {
		t.Errorf("cache miss: %d more queries", f.queries.Load()-before)
	}
	// NXDOMAIN: tagged, cached as a failure.
	m, _ = process(t, c, `{"client":{"ip":"10.9.9.9"}}`)
	wantFields(t, m, map[string]any{"client.domain": nil, "tags": []any{"_dns_reverse_lookup_failed"}})
	before = f.queries.Load()
	process(t, c, `{"client":{"ip":"10.9.9.9"}}`)
	if f.queries.Load() != before {
		t.Error("failure not cached")
	}
}

// A nameserver that never answers costs at most timeout, then the next
// one is asked; replace overwrites.
func TestDNSTimeoutAndReplace(t *testing.T) {
	f := &fakeDNS{names: labNames}
	good := f.serveUDP(t)
	dead := silentUDP(t)
	p, err := parseDNS(map[string]any{"type": "reverse", "fields": map[string]any{"source.ip": "source.domain"},
		"nameservers": []any{dead, good}, "timeout": "300ms", "action": "replace", "tag_on_failure": "dns_failed"})
	if err != nil {
		t.Fatal(err)
	}
	// With one server that hangs, the lookup fails after ~timeout.
	p.servers = []string{dead}
	doc := map[string]any{"source": map[string]any{"ip": "10.0.0.2", "domain": "old"}}
	start := time.Now()
	p.run(doc)
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Errorf("hanging server took %s", el)
	}
	if js(doc["tags"]) != `["dns_failed"]` {
		t.Errorf("tags %v", doc["tags"])
	}
	p.failCache.m = map[string]cacheEntry{}
	if !p.openUntil.After(time.Now()) {
		t.Error("a timeout did not pause lookups")
	}
	p.openUntil = time.Time{}                 // (TestDNSBreaker covers the pause)
	p.servers = []string{"127.0.0.1:1", good} // refused, then answered
	doc = map[string]any{"source": map[string]any{"ip": "10.0.0.2", "domain": "old"}}
	p.run(doc)
	if got, _ := getPath(doc, "source.domain"); got != "host-2.lab" {
		t.Errorf("source.domain %v", got)
	}
	// Expiry: after the min_ttl the entry is asked again.
	n := f.queries.Load()
	p.now = func() time.Time { return time.Now().Add(6 * time.Minute) }
	p.run(map[string]any{"source": map[string]any{"ip": "10.0.0.2"}})
	if f.queries.Load() != n+1 {
		t.Error("expired entry not refreshed")
	}
}

func TestDNSOverTLSAndForward(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dns.test"},
		DNSNames: []string{"dns.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	f := &fakeDNS{names: labNames}
	addr := f.serveTLS(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	dnsTLSConfig = &tls.Config{RootCAs: pool}
	defer func() { dnsTLSConfig = nil }()
	c := chainFromYAML(t, `
processors:
  - dns: {type: reverse, transport: tls, nameservers: ['`+addr+`'], fields: {client.ip: client.domain}}
  - dns: {type: A, transport: tls, nameservers: ['`+addr+`'], fields: {client.domain: client.resolved}}
`)
	m, _ := process(t, c, `{"client":{"ip":"10.0.0.1"}}`)
	wantFields(t, m, map[string]any{"client.domain": "host-1.lab", "client.resolved": "10.0.0.1"})
	// An untrusted certificate fails the lookup.
	dnsTLSConfig = nil
	c2 := chainFromYAML(t, `
processors:
  - dns: {type: reverse, transport: tls, nameservers: ['`+addr+`'], fields: {client.ip: client.domain}, tag_on_failure: [x]}
`)
	m, _ = process(t, c2, `{"client":{"ip":"10.0.0.1"}}`)
	wantFields(t, m, map[string]any{"client.domain": nil, "tags": []any{"x"}})
}

func TestDNSConfigErrors(t *testing.T) {
	wantConfigError(t, `processors: [{dns: {fields: {a: b}, nameservers: [127.0.0.1]}}]`, "(dns)", "type: required")
	wantConfigError(t, `processors: [{dns: {type: MX, fields: {a: b}, nameservers: [127.0.0.1]}}]`, "(dns)", `type: "MX"`)
	wantConfigError(t, `processors: [{dns: {type: reverse, fields: {a: b}, nameservers: [nope]}}]`, "(dns)", "nameservers")
	wantConfigError(t, `processors: [{dns: {type: reverse, fields: {a: b}, nameservers: [127.0.0.1], success_cache: {size: 1}}}]`, "(dns)", "success_cache", `"size"`)
	wantConfigError(t, `processors: [{dns: {type: reverse, fields: {a: b}, nameservers: [127.0.0.1], transport: tcp}}]`, "(dns)", "transport")
	if !strings.Contains(js(Names()), "dns") {
		t.Error("dns not registered")
	}
}

// A nameserver that stops answering costs the timeout once, then lookups
// pause (events tagged at once) until a probe succeeds again.
func TestDNSBreaker(t *testing.T) {
	dead := silentUDP(t)
	f := &fakeDNS{names: labNames}
	good := f.serveUDP(t)
	p, err := parseDNS(map[string]any{"type": "reverse", "fields": map[string]any{"source.ip": "source.domain"},
		"nameservers": []any{dead}, "timeout": "200ms", "tag_on_failure": "dns_failed"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p.now = func() time.Time { return now }
	start := time.Now()
	for i := 0; i < 50; i++ {
		doc := map[string]any{"source": map[string]any{"ip": "10.1.0." + strconv.Itoa(i)}}
		p.run(doc)
		if js(doc["tags"]) != `["dns_failed"]` {
			t.Fatalf("event %d: %v", i, doc)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("50 new addresses with a dead nameserver took %s", el)
	}
	// The nameserver comes back: after the pause, lookups resolve.
	p.servers = []string{good}
	now = now.Add(2 * time.Second)
	doc := map[string]any{"source": map[string]any{"ip": "10.0.0.1"}}
	p.run(doc)
	if got, _ := getPath(doc, "source.domain"); got != "host-1.lab" {
		t.Errorf("after recovery: %v", doc)
	}
}
