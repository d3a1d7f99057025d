package dns

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// The pcaps come from _dev/capture/dns.sh (dig against dnsmasq and unbound).
const pcapDir = "../../_dev/pcaps/dns/"

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// rrSummary renders records as "TYPE data" for compact expectations.
func rrSummary(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, it := range list {
		m := it.(map[string]any)
		out = append(out, fmt.Sprintf("%s %s", m["type"], m["data"]))
	}
	return out
}

func replay(t *testing.T, file string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "dns", opts)
	protocoltest.Replay(t, pcapDir+file, inst)
	return col.Docs, inst.UDP.(*Protocol)
}

type want struct {
	id                 int64
	query, status      string
	rcode, typ         string
	srcBytes, dstBytes int64
	answers            []string
	note               string
}

func checkDocs(t *testing.T, docs []map[string]any, wants []want) {
	t.Helper()
	if len(docs) != len(wants) {
		t.Fatalf("got %d events, want %d", len(docs), len(wants))
	}
	for i, w := range wants {
		d := docs[i]
		name := fmt.Sprintf("event %d (%s)", i, w.query)
		if got := num(protocoltest.Get(d, "dns.id")); got != w.id {
			t.Errorf("%s: dns.id %d, want %d", name, got, w.id)
		}
		for path, exp := range map[string]string{
			"query": w.query, "status": w.status, "dns.response_code": w.rcode, "dns.type": w.typ,
			"method": "QUERY", "type": "dns", "network.protocol": "dns",
		} {
			if got, _ := protocoltest.Get(d, path).(string); got != exp {
				t.Errorf("%s: %s = %q, want %q", name, path, got, exp)
			}
		}
		if got := num(protocoltest.Get(d, "source.bytes")); got != w.srcBytes {
			t.Errorf("%s: source.bytes %d, want %d", name, got, w.srcBytes)
		}
		if got := num(protocoltest.Get(d, "destination.bytes")); got != w.dstBytes {
			t.Errorf("%s: destination.bytes %d, want %d", name, got, w.dstBytes)
		}
		if got := rrSummary(protocoltest.Get(d, "dns.answers")); strings.Join(got, "|") != strings.Join(w.answers, "|") {
			t.Errorf("%s: answers %q, want %q", name, got, w.answers)
		}
		if got := num(protocoltest.Get(d, "dns.answers_count")); got != int64(len(w.answers)) {
			t.Errorf("%s: answers_count %d, want %d", name, got, len(w.answers))
		}
		if got, _ := protocoltest.Get(d, "error.message").(string); got != w.note {
			t.Errorf("%s: error.message %q, want %q", name, got, w.note)
		}
	}
}

func TestUDPCapture(t *testing.T) {
	docs, p := replay(t, "udp.pcap", map[string]any{"include_additionals": true})
	checkDocs(t, docs, []want{
		{0xb261, "class IN, type A, www.example.test", "OK", "NOERROR", "answer", 57, 61, []string{"A 192.0.2.1"}, ""},
		{0xee75, "class IN, type AAAA, www.example.test", "OK", "NOERROR", "answer", 57, 73, []string{"AAAA 2001:db8::1"}, ""},
		{0x7cf6, "class IN, type MX, example.test", "OK", "NOERROR", "answer", 53, 90, []string{"MX mail.example.test"}, ""},
		{0x57cb, "class IN, type TXT, example.test", "OK", "NOERROR", "answer", 53, 77, []string{"TXT v=spf1 -all hello world"}, ""},
		{0x8e99, "class IN, type SRV, _sip._tcp.example.test", "OK", "NOERROR", "answer", 63, 87, []string{"SRV sip.example.test"}, ""},
		{0xc4de, "class IN, type A, alias.example.test", "OK", "NOERROR", "answer", 59, 93, []string{"CNAME www.example.test", "A 192.0.2.1"}, ""},
		{0x17ac, "class IN, type PTR, 1.2.0.192.in-addr.arpa", "OK", "NOERROR", "answer", 63, 81, []string{"PTR www.example.test"}, ""},
		// Packetbeat shows CAA rdata as escaped raw bytes.
		{0x4699, "class IN, type CAA, example.test", "OK", "NOERROR", "answer", 53, 75, []string{`CAA \000\005issueletsencrypt.org`}, ""},
		{0x2807, "class IN, type A, nx.example.test", "Error", "NXDOMAIN", "answer", 56, 44, nil, ""},
		{0x1dec, "class IN, type A, www.example.test", "OK", "NOERROR", "answer", 72, 61, []string{"A 192.0.2.1"}, ""},
		{0xa0a7, "class IN, type A, www.example.test", "OK", "NOERROR", "answer", 34, 50, []string{"A 192.0.2.1"}, ""},
		// Sent to 127.0.0.54 where nothing listens: published at the end of
		// the file as unanswered.
		{0xdc1a, "class IN, type A, lost.example.test", "Error", "NOERROR", "query", 58, 0, nil, noteNoResponse},
	})

	// Field-by-field review of the richer documents.
	mx := docs[2]
	for path, exp := range map[string]any{
		"dns.answers":              []any{map[string]any{"name": "example.test", "type": "MX", "class": "IN", "ttl": "300", "data": "mail.example.test", "preference": 10.0}},
		"dns.additionals":          []any{map[string]any{"name": "mail.example.test", "type": "A", "class": "IN", "ttl": "300", "data": "192.0.2.25"}},
		"dns.additionals_count":    1.0,
		"dns.authorities_count":    0.0,
		"dns.header_flags":         []any{"AA", "RD", "RA"},
		"dns.flags.authoritative":  true,
		"dns.flags.authentic_data": false,
		"dns.opt":                  map[string]any{"version": "0", "do": false, "udp_size": 1232.0, "ext_rcode": "NOERROR"},
		"dns.question":             map[string]any{"name": "example.test", "type": "MX", "class": "IN", "etld_plus_one": "example.test", "registered_domain": "example.test", "top_level_domain": "test"},
		"resource":                 "example.test",
		"network.transport":        "udp",
		"network.bytes":            143.0,
		"client.ip":                "127.0.0.1",
		"server.ip":                "127.0.0.53",
		"server.port":              53.0,
		"event.duration":           64000.0,
	} {
		if got := protocoltest.Get(mx, path); fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("MX event: %s = %v, want %v", path, got, exp)
		}
	}
	a := docs[0]
	if got := fmt.Sprint(protocoltest.Get(a, "dns.resolved_ip")); got != "[192.0.2.1]" {
		t.Errorf("resolved_ip %s", got)
	}
	if got := fmt.Sprint(protocoltest.Get(a, "dns.question.subdomain")); got != "www" {
		t.Errorf("subdomain %s", got)
	}
	// +dnssec sets DO, reported in opt and header_flags.
	if got := fmt.Sprint(protocoltest.Get(docs[9], "dns.header_flags"), protocoltest.Get(docs[9], "dns.opt.do")); got != "[AA RD RA DO] true" {
		t.Errorf("DO query: %s", got)
	}
	// +noedns: no opt group at all.
	if protocoltest.Get(docs[10], "dns.opt") != nil {
		t.Errorf("non-EDNS response has dns.opt")
	}
	// The unanswered query describes the query itself, with dig's cookie.
	lost := docs[11]
	if c, _ := protocoltest.Get(lost, "dns.opt.cookie").(string); len(c) != 16 {
		t.Errorf("query cookie %q", c)
	}
	if protocoltest.Get(lost, "event.end") != nil || protocoltest.Get(lost, "destination.bytes") != nil {
		t.Errorf("unanswered query has an end or response bytes")
	}
	// The two garbage datagrams are counted, not published.
	if got := p.Stats().ParseErrors.Load(); got != 2 {
		t.Errorf("parse errors %d, want 2", got)
	}
	if got := p.Stats().UnmatchedQueries.Load(); got != 1 {
		t.Errorf("unmatched queries %d, want 1", got)
	}
	crossCheckTshark(t, "udp.pcap", docs)
}

func TestTCPCapture(t *testing.T) {
	docs, p := replay(t, "tcp.pcap", map[string]any{"send_request": true, "send_response": true})
	checkDocs(t, docs, []want{
		// TCP sizes include the 2-byte length prefix, as in Packetbeat.
		{0xf3b1, "class IN, type A, www.example.test", "OK", "NOERROR", "answer", 59, 63, []string{"A 192.0.2.1"}, ""},
		{0x8e6b, "class IN, type MX, example.test", "OK", "NOERROR", "answer", 55, 92, []string{"MX mail.example.test"}, ""},
		{0x8799, "class IN, type AAAA, www.example.test", "OK", "NOERROR", "answer", 59, 75, []string{"AAAA 2001:db8::1"}, ""},
		{0x2900, "class IN, type A, nx.example.test", "Error", "NXDOMAIN", "answer", 58, 46, nil, ""},
	})
	if got := protocoltest.Get(docs[1], "response"); got != "ID 36459; QR response; OPCODE QUERY; FLAGS aa rd ra; RCODE NOERROR; QUESTION class IN, type MX, example.test; ANSWER mail.example.test; ADDITIONAL 192.0.2.25" {
		t.Errorf("response text %q", got)
	}
	if got, _ := protocoltest.Get(docs[1], "request").(string); !strings.HasPrefix(got, "ID 36459; QR query; OPCODE QUERY; FLAGS rd ad; RCODE NOERROR; QUESTION class IN, type MX, example.test") {
		t.Errorf("request text %q", got)
	}
	// Three queries shared one connection.
	if docs[1]["source"].(map[string]any)["port"] != docs[3]["source"].(map[string]any)["port"] {
		t.Errorf("keepopen queries on different connections")
	}
	if protocoltest.Get(docs[0], "network.transport") != "tcp" {
		t.Errorf("transport %v", protocoltest.Get(docs[0], "network.transport"))
	}
	if p.Stats().ParseErrors.Load() != 0 {
		t.Errorf("parse errors on clean TCP")
	}
	crossCheckTshark(t, "tcp.pcap", docs)
}

func TestDNSSECCapture(t *testing.T) {
	docs, _ := replay(t, "dnssec.pcap", map[string]any{"include_authorities": true})
	type rr = map[string]any
	wants := []struct {
		query  string
		answer rr
	}{
		{"class IN, type SOA, sec.test", rr{"name": "sec.test", "type": "SOA", "class": "IN", "ttl": "3600", "data": "ns1.sec.test", "rname": "hostmaster.sec.test", "serial": 2024010101.0, "refresh": 7200.0, "retry": 3600.0, "expire": 1209600.0, "minimum": 300.0}},
		{"class IN, type NS, sec.test", rr{"name": "sec.test", "type": "NS", "class": "IN", "ttl": "3600", "data": "ns1.sec.test"}},
		{"class IN, type DS, sec.test", rr{"name": "sec.test", "type": "DS", "class": "IN", "ttl": "3600", "data": "F9C7AF7EBCBF098B9F5F37361D1B168BB2E5B98D930CEEF0F055377A8C94DB61", "key_tag": "12345", "algorithm": "ECDSAP256SHA256", "digest_type": "SHA256"}},
		{"class IN, type DNSKEY, sec.test", rr{"name": "sec.test", "type": "DNSKEY", "class": "IN", "ttl": "3600", "data": "KvipEEs/ZO1kDYx+KY0tSA8Do2EMvCszR0Mh7FkCSkhZLqhUXkHgnV0RCHWd9I7eAFTyJd851PDzEkUOCqndJQ==", "flags": "257", "protocol": "3", "algorithm": "ECDSAP256SHA256"}},
		{"class IN, type RRSIG, www.sec.test", rr{"name": "www.sec.test", "type": "RRSIG", "class": "IN", "ttl": "3600", "data": "KvipEEs/ZO1kDYx+KY0tSA8Do2EMvCszR0Mh7FkCSkhZLqhUXkHgnV0RCHWd9I7eAFTyJd851PDzEkUOCqndJQ==", "type_covered": "A", "algorithm": "ECDSAP256SHA256", "labels": "3", "original_ttl": "3600", "expiration": "20300101000000", "inception": "20240101000000", "key_tag": "12345", "signer_name": "sec.test"}},
		{"class IN, type NSEC, www.sec.test", rr{"name": "www.sec.test", "type": "NSEC", "class": "IN", "ttl": "3600", "data": "zzz.sec.test.", "type_bits": "A RRSIG NSEC"}},
		{"class IN, type NSEC3, h1.sec.test", rr{"name": "h1.sec.test", "type": "NSEC3", "class": "IN", "ttl": "3600", "data": "2T7B4G4VSA5SMI47K61MV5BV1A22BOJR", "hash": "SHA1", "flags": "0", "iterations": "10", "salt": "AABBCCDD", "type_bits": "A RRSIG"}},
		{"class IN, type NSEC3PARAM, sec.test", rr{"name": "sec.test", "type": "NSEC3PARAM", "class": "IN", "ttl": "3600", "data": "AABBCCDD", "hash": "SHA1", "flags": "0", "iterations": "10"}},
		{"class IN, type HTTPS, sec.test", rr{"name": "sec.test", "type": "HTTPS", "class": "IN", "ttl": "3600", "data": `\000\001\000\000\001\000\006\002h2\002h3`}},
		{"class IN, type SVCB, _svc.sec.test", rr{"name": "_svc.sec.test", "type": "SVCB", "class": "IN", "ttl": "3600", "data": `\000\001\003svc\003sec\004test\000\000\003\000\002 \251`}},
	}
	if len(docs) != len(wants)+1 {
		t.Fatalf("got %d events, want %d", len(docs), len(wants)+1)
	}
	for i, w := range wants {
		d := docs[i]
		if d["query"] != w.query || d["status"] != "OK" {
			t.Errorf("event %d: query %v status %v, want %q OK", i, d["query"], d["status"], w.query)
		}
		if got := fmt.Sprint(protocoltest.Get(d, "dns.answers")); got != fmt.Sprint([]any{w.answer}) {
			t.Errorf("%s:\n got  %s\n want %s", w.query, got, fmt.Sprint([]any{w.answer}))
		}
		if protocoltest.Get(d, "dns.opt.do") != true {
			t.Errorf("%s: DO not set", w.query)
		}
	}
	nx := docs[len(wants)]
	if nx["status"] != "Error" || protocoltest.Get(nx, "dns.response_code") != "NXDOMAIN" || num(protocoltest.Get(nx, "dns.authorities_count")) != 1 {
		t.Errorf("NXDOMAIN event: %v %v %v", nx["status"], protocoltest.Get(nx, "dns.response_code"), protocoltest.Get(nx, "dns.authorities_count"))
	}
	if got := rrSummary(protocoltest.Get(nx, "dns.authorities")); fmt.Sprint(got) != "[SOA ns1.sec.test]" {
		t.Errorf("authorities %v", got)
	}
	crossCheckTshark(t, "dnssec.pcap", docs)
}

// TestAuthoritiesOption: without include_authorities only the count shows.
func TestAuthoritiesOption(t *testing.T) {
	docs, _ := replay(t, "dnssec.pcap", nil)
	nx := docs[len(docs)-1]
	if protocoltest.Get(nx, "dns.authorities") != nil || num(protocoltest.Get(nx, "dns.authorities_count")) != 1 {
		t.Errorf("authorities written without include_authorities")
	}
	docs, _ = replay(t, "udp.pcap", nil)
	if protocoltest.Get(docs[2], "dns.additionals") != nil || num(protocoltest.Get(docs[2], "dns.additionals_count")) != 1 {
		t.Errorf("additionals written without include_additionals")
	}
	if protocoltest.Get(docs[2], "request") != nil || protocoltest.Get(docs[2], "response") != nil {
		t.Errorf("request/response written without send_request/send_response")
	}
}

// crossCheckTshark compares every response tshark dissects with the event
// carrying the same id: names, types, rcode, section counts, TTLs and
// addresses. Skipped when tshark is not installed.
func crossCheckTshark(t *testing.T, file string, docs []map[string]any) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: cross-check skipped")
		return
	}
	out, err := exec.Command("tshark", "-r", pcapDir+file, "-Y", "dns.flags.response==1",
		"-T", "fields", "-E", "separator=|", "-e", "dns.id", "-e", "dns.qry.name", "-e", "dns.qry.type",
		"-e", "dns.flags.rcode", "-e", "dns.count.answers", "-e", "dns.count.auth_rr", "-e", "dns.count.add_rr",
		"-e", "dns.resp.ttl", "-e", "dns.a", "-e", "dns.aaaa", "-e", "dns.resp.type").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	byID := map[int64]map[string]any{}
	for _, d := range docs {
		if protocoltest.Get(d, "dns.type") == "answer" {
			byID[num(protocoltest.Get(d, "dns.id"))] = d
		}
	}
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(rows) != len(byID) {
		t.Errorf("tshark sees %d responses, we published %d answers", len(rows), len(byID))
	}
	for _, row := range rows {
		f := strings.Split(row, "|")
		id, _ := strconv.ParseInt(strings.TrimPrefix(f[0], "0x"), 16, 64)
		d := byID[id]
		if d == nil {
			t.Errorf("tshark response id %s has no event", f[0])
			continue
		}
		qtype, _ := strconv.Atoi(f[2])
		rcode, _ := strconv.Atoi(f[3])
		var ttls, addrs []string
		types := []string{}
		for _, sec := range []string{"answers", "authorities", "additionals"} {
			list, _ := protocoltest.Get(d, "dns."+sec).([]any)
			for _, it := range list {
				m := it.(map[string]any)
				ttls = append(ttls, m["ttl"].(string))
				types = append(types, m["type"].(string))
				// tshark lists NSEC/NSEC3 bitmap types in the same field.
				if bits, ok := m["type_bits"].(string); ok {
					types = append(types, strings.Fields(bits)...)
				}
				if m["type"] == "A" || m["type"] == "AAAA" {
					addrs = append(addrs, m["data"].(string))
				}
			}
		}
		hasOPT := protocoltest.Get(d, "dns.opt") != nil
		// tshark lists the OPT record's type but gives it no TTL.
		var tsTypes []string
		for _, s := range splitList(f[10]) {
			n, _ := strconv.Atoi(s)
			if n != int(TypeOPT) {
				tsTypes = append(tsTypes, TypeString(uint16(n)))
			}
		}
		opt := 0
		if hasOPT {
			opt = 1
		}
		checks := []struct {
			what      string
			got, want any
		}{
			{"question.name", protocoltest.Get(d, "dns.question.name"), f[1]},
			{"question.type", protocoltest.Get(d, "dns.question.type"), TypeString(uint16(qtype))},
			{"response_code", protocoltest.Get(d, "dns.response_code"), RcodeString(rcode)},
			{"answers_count", f[4], fmt.Sprint(num(protocoltest.Get(d, "dns.answers_count")))},
			{"authorities_count", f[5], fmt.Sprint(num(protocoltest.Get(d, "dns.authorities_count")))},
			{"additionals_count+opt", f[6], fmt.Sprint(num(protocoltest.Get(d, "dns.additionals_count")) + int64(opt))},
		}
		// The record lists are only complete when both options are on.
		_, auth := protocoltest.Get(d, "dns.authorities").([]any)
		_, add := protocoltest.Get(d, "dns.additionals").([]any)
		complete := (f[5] == "0" || auth) && (num(protocoltest.Get(d, "dns.additionals_count")) == 0 || add)
		if complete {
			checks = append(checks,
				struct {
					what      string
					got, want any
				}{"ttls", strings.Join(ttls, ","), f[7]},
				struct {
					what      string
					got, want any
				}{"addresses", strings.Join(addrs, ","), strings.Trim(f[8]+","+f[9], ",")},
				struct {
					what      string
					got, want any
				}{"record types", strings.Join(types, ","), strings.Join(tsTypes, ",")})
		}
		for _, c := range checks {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("id %s: %s = %v, tshark says %v", f[0], c.what, c.got, c.want)
			}
		}
	}
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func TestIPv6Capture(t *testing.T) {
	docs, _ := replay(t, "ipv6.pcap", nil)
	checkDocs(t, docs, []want{
		{0x31f6, "class IN, type AAAA, www.example.test", "OK", "NOERROR", "answer", 57, 73, []string{"AAAA 2001:db8::1"}, ""},
		{0x3c42, "class IN, type A, www.example.test", "OK", "NOERROR", "answer", 59, 63, []string{"A 192.0.2.1"}, ""},
	})
	for i, transport := range []string{"udp", "tcp"} {
		d := docs[i]
		if protocoltest.Get(d, "network.type") != "ipv6" || protocoltest.Get(d, "network.transport") != transport ||
			protocoltest.Get(d, "source.ip") != "::1" || protocoltest.Get(d, "server.ip") != "::1" || protocoltest.Get(d, "server.port") != 53.0 {
			t.Errorf("event %d: %v %v %v %v", i, protocoltest.Get(d, "network.type"), protocoltest.Get(d, "network.transport"), protocoltest.Get(d, "source.ip"), protocoltest.Get(d, "server.port"))
		}
	}
	crossCheckTshark(t, "ipv6.pcap", docs)
}
