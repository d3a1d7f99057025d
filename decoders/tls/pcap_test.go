package tls

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

var pcaps = []string{"tls12.pcap", "tls13.pcap", "mtls.pcap", "alert.pcap"}

// replay runs a pcap through the protocoltest replayer (the engine's
// contract: Parse/Fin/Close) on the capture's ports.
func replay(t *testing.T, name string, opts map[string]any) map[int]map[string]any {
	t.Helper()
	stream := map[string]any{"ports": []any{443, 993, 995, 5223, 8443, 9243}}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "tls", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return byPort(col.Docs)
}

// tsharkConn is what tshark dissects of one connection, keyed by client port.
type tsharkConn struct {
	sni, ja3, ja3s, cipher string
	alerts                 []string          // alert description codes
	certSHA1               map[string]string // "server"/"client" -> leaf SHA-1
	serial                 map[string]string // leaf serial, hex
	sans                   []string
}

func tshark(t *testing.T, name string) map[int]*tsharkConn {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	run := func(filter string, fields ...string) [][]string {
		args := []string{"-r", filepath.Join(pcapDir, name), "-Y", filter, "-T", "fields", "-E", "separator=|",
			"-d", "tcp.port==9243,tls", "-d", "tcp.port==5223,tls", "-d", "tcp.port==995,tls", "-d", "tcp.port==993,tls"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		var rows [][]string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" {
				rows = append(rows, strings.Split(l, "|"))
			}
		}
		return rows
	}
	conns := map[int]*tsharkConn{}
	at := func(port string) *tsharkConn {
		p, _ := strconv.Atoi(port)
		if conns[p] == nil {
			conns[p] = &tsharkConn{certSHA1: map[string]string{}, serial: map[string]string{}}
		}
		return conns[p]
	}
	for _, r := range run("tls.handshake.type==1", "tcp.srcport", "tls.handshake.ja3", "tls.handshake.extensions_server_name") {
		if c := at(r[0]); c.ja3 == "" { // the first ClientHello (a second follows a HelloRetryRequest)
			c.ja3, c.sni = r[1], r[2]
		}
	}
	for _, r := range run("tls.handshake.type==2", "tcp.dstport", "tls.handshake.ja3s", "tls.handshake.ciphersuite") {
		c := at(r[0]) // the last ServerHello (after any HelloRetryRequest)
		c.ja3s, c.cipher = r[1], r[2]
	}
	for _, r := range run("tls.handshake.type==11", "tcp.srcport", "tcp.dstport", "tls.handshake.certificate", "x509af.serialNumber", "x509ce.dNSName") {
		side, port := "server", r[1]
		if p, _ := strconv.Atoi(r[0]); p > 1024 && p != 5223 && p != 8443 && p != 9243 {
			side, port = "client", r[0]
		}
		c := at(port)
		der, err := hex.DecodeString(strings.Split(r[2], ",")[0])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(der)
		c.certSHA1[side] = strings.ToUpper(hex.EncodeToString(sum[:]))
		c.serial[side] = strings.Split(r[3], ",")[0]
		if side == "server" {
			c.sans = strings.Split(r[4], ",")
		}
	}
	for _, r := range run("tls.alert_message.desc", "tcp.srcport", "tcp.dstport", "tls.alert_message.desc") {
		port := r[0]
		if p, _ := strconv.Atoi(r[0]); p < 1024 || p == 5223 || p == 8443 || p == 9243 {
			port = r[1]
		}
		c := at(port)
		c.alerts = append(c.alerts, r[2])
	}
	return conns
}

// TestAgainstTshark checks every connection of every capture against
// tshark's dissection: SNI, JA3, JA3S, selected suite, leaf certificate
// fingerprints, serials and SANs, alerts.
func TestAgainstTshark(t *testing.T) {
	for _, name := range pcaps {
		t.Run(name, func(t *testing.T) {
			want := tshark(t, name)
			got := replay(t, name, map[string]any{"fingerprints": []any{"sha1"}})
			if len(got) != len(want) {
				t.Fatalf("%d events, tshark sees %d connections", len(got), len(want))
			}
			for _, port := range sortedKeys(got) {
				doc, w := got[port], want[port]
				if w == nil {
					t.Fatalf("event for client port %d unknown to tshark", port)
				}
				check := func(path string, want any) {
					t.Helper()
					g := protocoltest.Get(doc, path)
					if g == nil && want == "" {
						return
					}
					if fmt.Sprint(g) != fmt.Sprint(want) {
						t.Errorf("port %d: %s = %v, tshark %v", port, path, g, want)
					}
				}
				check("tls.client.ja3", w.ja3)
				check("tls.client.server_name", w.sni)
				check("destination.domain", w.sni)
				check("tls.server.ja3s", w.ja3s)
				if w.cipher != "" {
					code, _ := strconv.ParseUint(strings.TrimPrefix(w.cipher, "0x"), 16, 16)
					check("tls.cipher", cipherNames[uint16(code)])
				}
				for _, side := range []string{"client", "server"} {
					check("tls."+side+".hash.sha1", w.certSHA1[side])
					if s := w.serial[side]; s != "" {
						n, _ := new(big.Int).SetString(s, 16)
						check("tls."+side+".x509.serial_number", n.Text(10))
					} else if protocoltest.Get(doc, "tls."+side+".x509") != nil {
						t.Errorf("port %d: tls.%s.x509 without a certificate in tshark", port, side)
					}
				}
				if len(w.sans) > 0 {
					alt := fmt.Sprint(protocoltest.Get(doc, "tls.server.x509.alternative_names"))
					for _, s := range w.sans {
						if !strings.Contains(alt, s) {
							t.Errorf("port %d: SAN %s missing from %s", port, s, alt)
						}
					}
				}
				var names []string
				for _, a := range w.alerts {
					n, _ := strconv.Atoi(a)
					names = append(names, alertName(uint8(n)))
				}
				if len(names) > 0 {
					check("tls.detailed.alert_types", names)
				} else {
					check("tls.detailed.alert_types", "")
				}
			}
		})
	}
}

// TestCaptures asserts what each capture was made to show (see
// _dev/capture/tls.sh): versions, resumption, HelloRetryRequest, client
// certificates, failures.
func TestCaptures(t *testing.T) {
	type conn = map[string]any
	cases := map[string][]conn{
		"tls12.pcap": {
			{"status": "OK", "tls.version": "1.2", "tls.version_protocol": "tls", "tls.detailed.version": "TLS 1.2",
				"tls.established": true, "tls.resumed": false, "tls.curve": "x25519", "tls.next_protocol": "h2",
				"tls.cipher": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
				"tls.detailed.client_hello.extensions.application_layer_protocol_negotiation": "[h2 http/1.1]",
				"tls.detailed.client_hello.extensions.session_ticket":                         "",
				"tls.server.x509.subject.common_name":                                         "example.test",
				"tls.server.x509.subject.locality":                                            "Los Angeles",
				"tls.server.x509.public_key_algorithm":                                        "RSA", "tls.server.x509.public_key_size": 2048,
				"tls.server.issuer":                         "CN=Network Traffic Test Root CA,OU=Test CA,O=Network Traffic Test,C=US",
				"tls.detailed.server_certificate_chain.0":   nil, // checked below: one CA certificate
				"tls.detailed.client_certificate_requested": false},
			{"status": "OK", "tls.established": true, "tls.resumed": true, "tls.detailed.resumption_method": "ticket",
				"tls.server.x509": nil, "tls.curve": nil, "tls.next_protocol": "h2"},
		},
		"tls13.pcap": {
			{"tls.version": "1.3", "tls.detailed.version": "TLS 1.3", "tls.established": true, "tls.resumed": false,
				"tls.cipher": "TLS_AES_256_GCM_SHA384", "tls.curve": "x25519", "server.domain": "www.example.test",
				"tls.detailed.server_hello.extensions.supported_versions": "TLS 1.3",
				"tls.detailed.server_hello.extensions.key_share":          "[x25519]",
				"tls.detailed.client_hello.extensions.supported_versions": "[TLS 1.3]",
				"tls.server.x509":   nil, // encrypted in TLS 1.3
				"tls.next_protocol": nil, // ALPN answer travels in EncryptedExtensions
			},
			{"tls.version": "1.3", "tls.established": true, "tls.resumed": false, "tls.client.server_name": nil},
			{"tls.version": "1.3", "tls.established": true, "tls.resumed": true, "tls.detailed.resumption_method": "ticket"},
			{"tls.version": "1.3", "tls.established": true, "tls.resumed": false, "status": "OK",
				"tls.detailed.client_hello.extensions.key_share": "[secp384r1]", "tls.curve": "x25519"},
		},
		"mtls.pcap": {
			{"status": "OK", "tls.established": true, "tls.detailed.client_certificate_requested": true,
				"tls.client.x509.subject.common_name": "client.example.test",
				"tls.client.x509.alternative_names":   "[client.example.test]",
				"tls.client.subject":                  "CN=client.example.test,O=Example Org,C=US"},
		},
		"alert.pcap": {
			{"status": "Error", "tls.established": false, "tls.detailed.alert_types": "[protocol_version]",
				"tls.version": "1.2", "tls.cipher": nil, "tls.server": nil},
			{"status": "Error", "tls.established": false, "tls.detailed.alert_types": "[handshake_failure]",
				"tls.client.supported_ciphers": "[TLS_RSA_WITH_AES_256_CBC_SHA TLS_EMPTY_RENEGOTIATION_INFO_SCSV]"},
		},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			got := replay(t, name, nil)
			ports := sortedKeys(got)
			if len(ports) != len(want) {
				t.Fatalf("%d events, want %d", len(ports), len(want))
			}
			sort.Slice(ports, func(i, j int) bool {
				return protocoltest.Get(got[ports[i]], "event.start").(string) < protocoltest.Get(got[ports[j]], "event.start").(string)
			})
			for i, port := range ports {
				for path, v := range want[i] {
					if path == "tls.detailed.server_certificate_chain.0" {
						if c, _ := protocoltest.Get(got[port], "tls.detailed.server_certificate_chain").([]any); len(c) != 1 {
							t.Errorf("#%d: server_certificate_chain has %d entries, want the CA", i, len(c))
						}
						continue
					}
					g := protocoltest.Get(got[port], path)
					if v == nil {
						if g != nil {
							t.Errorf("#%d: %s = %v, want absent", i, path, g)
						}
						continue
					}
					if fmt.Sprint(g) != fmt.Sprint(v) {
						t.Errorf("#%d: %s = %v, want %v", i, path, g, v)
					}
				}
			}
		})
	}
}

// TestTimes: the event spans the handshake, from the ClientHello to the
// record that completed it; certificate dates agree with tshark's.
func TestTimes(t *testing.T) {
	got := replay(t, "tls12.pcap", nil)
	doc := got[sortedKeys(got)[0]]
	start, _ := time.Parse(time.RFC3339Nano, protocoltest.Get(doc, "event.start").(string))
	end, _ := time.Parse(time.RFC3339Nano, protocoltest.Get(doc, "event.end").(string))
	if !end.After(start) || end.Sub(start) > time.Second {
		t.Errorf("start %v end %v", start, end)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, "tls12.pcap"), "-Y", "tls.handshake.type==11",
		"-T", "fields", "-e", "x509af.utcTime").Output()
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Split(strings.TrimSpace(strings.Split(string(out), "\n")[0]), ",")
	nb, _ := time.Parse("2006-01-02 15:04:05 (MST)", first[0])
	na, _ := time.Parse("2006-01-02 15:04:05 (MST)", first[1])
	if g := protocoltest.Get(doc, "tls.server.not_before"); g != nb.UTC().Format(time.RFC3339Nano) {
		t.Errorf("not_before %v, tshark %v", g, nb)
	}
	if g := protocoltest.Get(doc, "tls.server.x509.not_after"); g != na.UTC().Format(time.RFC3339Nano) {
		t.Errorf("x509.not_after %v, tshark %v", g, na)
	}
}

// TestJA4AgainstJA4Plus compares tls.client.ja4 and ja4_r with what the
// ja4plus package computed from the same captures (ja4.expected, written by
// _dev/capture/ja4-expected.sh): ja4.pcap (curl, openssl s_client, Go
// crypto/tls and Python ssl; TLS 1.2 and 1.3; with and without SNI and
// ALPN) and the other tls captures (nginx, resumption, a HelloRetryRequest,
// mTLS, alerts).
func TestJA4AgainstJA4Plus(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(pcapDir, "ja4.expected"))
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]map[int]map[string]any{}
	seen := map[string]bool{}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(l)
		if events[f[0]] == nil {
			events[f[0]] = replay(t, f[0], map[string]any{"include_raw_ja4": true})
		}
		port, _ := strconv.Atoi(f[1])
		d := events[f[0]][port]
		if d == nil {
			t.Errorf("%s: no event for client port %d", f[0], port)
			continue
		}
		n++
		if v := protocoltest.Get(d, "tls.client.ja4"); v != f[2] {
			t.Errorf("%s port %d: ja4 %v, ja4plus %s", f[0], port, v, f[2])
		}
		if v := protocoltest.Get(d, "tls.client.ja4_r"); v != f[3] {
			t.Errorf("%s port %d: ja4_r %v\nja4plus      %s", f[0], port, v, f[3])
		}
		if f[0] == "ja4.pcap" {
			seen[f[2][:4]] = true
		}
	}
	if n < 17 {
		t.Errorf("%d connections compared", n)
	}
	// ja4.pcap covers both versions with and without SNI.
	for _, a := range []string{"t13d", "t12i"} {
		if !seen[a] {
			t.Errorf("no %s hello in ja4.pcap", a)
		}
	}
	for port, d := range replay(t, "ja4.pcap", nil) {
		if protocoltest.Get(d, "tls.client.ja4") == nil || protocoltest.Get(d, "tls.client.ja4_r") != nil {
			t.Errorf("port %d without include_raw_ja4: ja4 %v, ja4_r %v", port,
				protocoltest.Get(d, "tls.client.ja4"), protocoltest.Get(d, "tls.client.ja4_r"))
		}
	}
}
