package quic

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/quic"

var pcaps = []string{"gov1.pcap", "gov2.pcap", "retry.pcap", "vn.pcap", "compat.pcap", "aioquic.pcap"}

// replay decodes a capture on ports 443 and 8443 (aioquic.pcap has a
// server on 8443: the ports option is honoured) and returns the events by
// client port.
func replay(t *testing.T, name string, opts map[string]any) (map[int]map[string]any, *Protocol) {
	t.Helper()
	stream := map[string]any{"ports": []any{443, 8443}}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "quic", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	byPort := map[int]map[string]any{}
	for _, d := range col.Docs {
		byPort[int(protocoltest.Get(d, "source.port").(float64))] = d
	}
	return byPort, inst.UDP.(*Protocol)
}

// tsharkConn is what tshark's quic dissector (which decrypts Initials)
// shows of one connection, keyed by client port.
type tsharkConn struct {
	firstVersion, version   string
	odcid, clientCID        string
	serverCID               string
	sni, ja3, cipher        string
	retry                   bool
	vnVersions              []string
	clientHello, serverSeen bool
}

func tsharkFields(t *testing.T, name string, occurrence string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", filepath.Join(pcapDir, name), "-d", "udp.port==8443,quic", "-T", "fields",
		"-E", "separator=|", "-E", "occurrence=" + occurrence}
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

func tshark(t *testing.T, name string) map[int]*tsharkConn {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	conns := map[int]*tsharkConn{}
	rows := tsharkFields(t, name, "f", "udp.srcport", "udp.dstport", "quic.version", "quic.long.packet_type",
		"quic.dcid", "quic.scid", "tls.handshake.type", "tls.handshake.extensions_server_name",
		"tls.handshake.ja3", "tls.handshake.ciphersuite", "quic.retry_integrity_tag")
	vn := tsharkFields(t, name, "a", "udp.dstport", "quic.supported_version")
	for i, r := range rows {
		sp, _ := strconv.Atoi(r[0])
		dp, _ := strconv.Atoi(r[1])
		fromClient := dp == 443 || dp == 8443
		port := sp
		if !fromClient {
			port = dp
		}
		c := conns[port]
		if c == nil {
			if !fromClient {
				continue
			}
			c = &tsharkConn{firstVersion: r[2], odcid: r[4], clientCID: r[5]}
			conns[port] = c
		}
		switch {
		case fromClient && r[6] == "1" && !c.clientHello:
			c.clientHello, c.sni, c.ja3 = true, r[7], r[8]
		case !fromClient && r[2] == "0x00000000":
			c.vnVersions = strings.Split(vn[i][1], ",")
		case !fromClient && r[10] != "":
			// A Retry (tshark gives no packet type for v2: its tag tells).
			c.retry = true
		case !fromClient && r[6] == "2":
			c.serverSeen, c.version, c.serverCID, c.cipher = true, r[2], r[5], r[9]
		}
	}
	return conns
}

func tsVersion(s string) string {
	switch s {
	case "0x00000001":
		return "1"
	case "0x6b3343cf":
		return "2"
	}
	return s
}

// TestAgainstTshark checks every connection of every capture against
// tshark's dissection: versions, connection IDs, SNI, JA3, the server's
// suite, Retry and the versions of a Version Negotiation.
func TestAgainstTshark(t *testing.T) {
	for _, name := range pcaps {
		t.Run(name, func(t *testing.T) {
			want := tshark(t, name)
			got, p := replay(t, name, nil)
			if n := p.ParseErrors(); n != 0 {
				t.Errorf("%d parse errors on a clean capture", n)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("%d events, tshark sees %d connections", len(got), len(want))
			}
			for port, w := range want {
				d := got[port]
				if d == nil {
					t.Errorf("no event for client port %d", port)
					continue
				}
				exp := map[string]any{
					"type":              "quic",
					"network.transport": "udp",
					"status":            "OK",
					"quic.version":      tsVersion(w.version),
					"quic.connection_id.original_destination": w.odcid,
					"quic.connection_id.client":               w.clientCID,
					"quic.connection_id.server":               w.serverCID,
					"quic.retry":                              w.retry,
					"tls.client.server_name":                  w.sni,
					"destination.domain":                      w.sni,
					"tls.client.ja3":                          w.ja3,
					"tls.version":                             "1.3",
					"tls.cipher":                              cipherFromTshark(t, w.cipher),
				}
				if w.vnVersions != nil {
					exp["quic.version_negotiation.client_version"] = tsVersion(w.firstVersion)
					var vs []string
					for _, v := range w.vnVersions {
						vs = append(vs, tsVersion(v))
					}
					exp["quic.version_negotiation.server_versions"] = "[" + strings.Join(vs, " ") + "]"
					exp["quic.version_negotiation.compatible"] = false
				} else if w.firstVersion != w.version {
					// The server answered in another version: compatible
					// negotiation (RFC 9368).
					exp["quic.version_negotiation.client_version"] = tsVersion(w.firstVersion)
					exp["quic.version_negotiation.compatible"] = true
				} else if protocoltest.Get(d, "quic.version_negotiation") != nil {
					t.Errorf("port %d: version negotiation tshark does not see", port)
				}
				protocoltest.ExpectFields(t, d, exp, port)
				if !strings.HasPrefix(protocoltest.Get(d, "tls.client.ja4").(string), "q13d") {
					t.Errorf("port %d: ja4 %v", port, protocoltest.Get(d, "tls.client.ja4"))
				}
			}
		})
	}
}

func cipherFromTshark(t *testing.T, code string) string {
	switch code {
	case "0x1301":
		return "TLS_AES_128_GCM_SHA256"
	case "0x1302":
		return "TLS_AES_256_GCM_SHA384"
	case "0x1303":
		return "TLS_CHACHA20_POLY1305_SHA256"
	}
	t.Errorf("unexpected suite %q", code)
	return code
}

// TestJA4AgainstJA4Plus compares tls.client.ja4 and ja4_r with the ja4plus
// package's on the same captures (ja4.expected, written by
// _dev/capture/quic.sh; ja4plus has no QUIC v2, so gov2.pcap is checked
// against gov1.pcap's same client).
func TestJA4AgainstJA4Plus(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(pcapDir, "ja4.expected"))
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]map[int]map[string]any{}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(l)
		if events[f[0]] == nil {
			events[f[0]], _ = replay(t, f[0], map[string]any{"include_raw_ja4": true})
		}
		port, _ := strconv.Atoi(f[1])
		d := events[f[0]][port]
		if d == nil {
			t.Errorf("%s: no event for port %d", f[0], port)
			continue
		}
		n++
		if v := protocoltest.Get(d, "tls.client.ja4"); v != f[2] {
			t.Errorf("%s port %d: ja4 %v, ja4plus %s", f[0], port, v, f[2])
		}
		if v := protocoltest.Get(d, "tls.client.ja4_r"); v != f[3] {
			t.Errorf("%s port %d: ja4_r %v, ja4plus %s", f[0], port, v, f[3])
		}
	}
	if n < 7 {
		t.Errorf("only %d connections compared", n)
	}
	v1, _ := replay(t, "gov1.pcap", nil)
	v2, _ := replay(t, "gov2.pcap", nil)
	for _, a := range v1 {
		for _, b := range v2 {
			if protocoltest.Get(a, "tls.client.ja4") != protocoltest.Get(b, "tls.client.ja4") {
				t.Errorf("quic-go's JA4 differs between v1 (%v) and v2 (%v)", protocoltest.Get(a, "tls.client.ja4"), protocoltest.Get(b, "tls.client.ja4"))
			}
		}
	}
}
