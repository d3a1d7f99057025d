package sip

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const (
	udpPcap = "../../_dev/pcaps/sip/udp.pcap"
	tcpPcap = "../../_dev/pcaps/sip/tcp.pcap"
)

func replayUDP(t *testing.T, extra map[string]any) []map[string]any {
	t.Helper()
	stream := map[string]any{"ports": []any{5060, 5062}}
	for k, v := range extra {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "sip", stream)
	protocoltest.Replay(t, udpPcap, inst)
	if n := inst.UDP.(*Protocol).ParseErrors(); n != 0 {
		t.Errorf("%d parse errors on a clean capture", n)
	}
	return col.Docs
}

func replayTCP(t *testing.T) []map[string]any {
	t.Helper()
	inst, col := protocoltest.New(t, "sip", map[string]any{"transport_protocol": "tcp"})
	if inst.UDP != nil || inst.TCP == nil {
		t.Fatal("transport_protocol tcp must give a TCP-only instance")
	}
	protocoltest.Replay(t, tcpPcap, inst)
	if n := inst.TCP.(*Protocol).ParseErrors(); n != 0 {
		t.Errorf("%d parse errors on a clean capture", n)
	}
	return col.Docs
}

// s renders a value for comparison: numbers without decimals, arrays joined by ';'.
func s(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return fmt.Sprintf("%d", int64(x))
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = s(e)
		}
		return strings.Join(parts, ";")
	}
	return fmt.Sprint(v)
}

func expect(t *testing.T, doc map[string]any, want map[string]string) {
	t.Helper()
	for path, w := range want {
		if got := s(protocoltest.Get(doc, path)); got != w {
			t.Errorf("%s = %q, want %q", path, got, w)
		}
	}
}

func TestUDPCapture(t *testing.T) {
	docs := replayUDP(t, nil)
	if len(docs) != 22 {
		t.Fatalf("%d events, want 22 (one per message)", len(docs))
	}
	// First INVITE with SDP, from sipp's uac on 5061.
	expect(t, docs[0], map[string]string{
		"type": "sip", "status": "OK",
		"event.kind": "event", "event.category": "network;protocol", "event.type": "info",
		"event.action": "sip-invite", "event.sequence": "1", "event.duration": "0",
		"network.application": "sip", "network.iana_number": "17", "network.protocol": "sip",
		"network.transport": "udp",
		"source.port":       "5061", "destination.port": "5060", "client.port": "5061",
		"sip.type": "request", "sip.method": "INVITE", "sip.version": "2.0",
		"sip.uri.original": "sip:service@127.0.0.1:5060", "sip.uri.scheme": "sip",
		"sip.uri.username": "service", "sip.uri.host": "127.0.0.1", "sip.uri.port": "5060",
		"sip.from.display_info": "sipp", "sip.from.tag": "28894SIPpTag001",
		"sip.from.uri.original": "sip:sipp@127.0.0.1:5061", "sip.from.uri.username": "sipp",
		"sip.to.display_info": "service", "sip.to.tag": "",
		"sip.contact.uri.original": "sip:sipp@127.0.0.1:5061", "sip.contact.uri.port": "5061",
		"sip.call_id": "1-28894@127.0.0.1", "sip.cseq.code": "1", "sip.cseq.method": "INVITE",
		"sip.via.original": "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-28894-1-0",
		"sip.max_forwards": "70", "sip.content_type": "application/sdp", "sip.content_length": "129",
		"sip.sdp.version": "0", "sip.sdp.owner.username": "user1", "sip.sdp.owner.session_id": "53655765",
		"sip.sdp.owner.version": "2353687637", "sip.sdp.owner.ip": "127.0.0.1",
		"sip.sdp.session.name": "", "sip.sdp.connection.info": "IN IP4 127.0.0.1",
		"sip.sdp.connection.address": "127.0.0.1",
		"related.user":               "service;sipp;user1", "related.hosts": "127.0.0.1", "related.ip": "127.0.0.1",
	})
	if o := s(protocoltest.Get(docs[0], "event.original")); !strings.HasPrefix(o, "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n") || len(o) != 509 {
		t.Errorf("event.original: %d bytes %q...", len(o), o[:min(len(o), 40)])
	}
	if b := s(protocoltest.Get(docs[0], "sip.sdp.body.original")); len(b) != 129 || !strings.HasPrefix(b, "v=0\r\no=user1") {
		t.Errorf("sdp body %q", b)
	}
	// 180 Ringing: the server's message, source is the server.
	expect(t, docs[1], map[string]string{
		"sip.type": "response", "sip.code": "180", "sip.status": "Ringing", "sip.method": "",
		"event.action": "sip-invite", "event.outcome": "", "event.reason": "Ringing",
		"source.port": "5060", "destination.port": "5061",
		"sip.to.tag": "28857SIPpTag011", "sip.contact.transport": "udp",
		"sip.contact.uri.host": "127.0.0.1", "sip.contact.uri.username": "", "sip.content_length": "0",
	})
	expect(t, docs[2], map[string]string{"sip.code": "200", "event.outcome": "success", "sip.sdp.owner.username": "user1"})
	expect(t, docs[4], map[string]string{"sip.method": "BYE", "event.action": "sip-bye", "event.sequence": "2"})
	expect(t, docs[5], map[string]string{"sip.code": "200", "event.action": "sip-bye", "sip.cseq.method": "BYE"})
	// REGISTER in compact form (v f t i m l).
	expect(t, docs[18], map[string]string{
		"sip.method": "REGISTER", "event.action": "sip-register", "destination.port": "5062",
		"sip.uri.original": "sip:127.0.0.1:5062", "sip.uri.username": "", "sip.uri.port": "5062",
		"sip.via.original":      "SIP/2.0/UDP 127.0.0.1:5063;branch=z9hG4bK-29092-1-0",
		"sip.from.display_info": "Alice", "sip.from.uri.host": "example.test", "sip.from.tag": "29092SIPpTag001",
		"sip.to.uri.username": "alice", "sip.call_id": "1-29092@127.0.0.1",
		"sip.contact.uri.original": "sip:alice@127.0.0.1:5063;transport=UDP", "sip.contact.expires": "3600",
		"sip.contact.transport": "udp", "sip.content_length": "0", "sip.user_agent.original": "sipp-capture",
		"related.hosts": "127.0.0.1;example.test", "related.user": "alice",
		"event.category": "network;protocol", "sip.auth.scheme": "",
	})
	expect(t, docs[19], map[string]string{
		"sip.code": "401", "sip.status": "Unauthorized", "status": "Error",
		"event.outcome": "failure", "event.reason": "Unauthorized", "event.action": "sip-register",
	})
	// The retry with digest credentials.
	expect(t, docs[20], map[string]string{
		"event.category": "network;protocol;authentication", "event.sequence": "2",
		"sip.auth.scheme": "Digest", "sip.auth.realm": "example.test",
		"sip.auth.uri.original": "sip:127.0.0.1:5062", "sip.auth.uri.scheme": "sip",
		"sip.auth.uri.host": "127.0.0.1", "sip.auth.uri.port": "5062", "user.name": "alice",
	})
	expect(t, docs[21], map[string]string{"sip.code": "200", "status": "OK", "sip.contact.expires": "3600"})
}

func TestOptionsOff(t *testing.T) {
	docs := replayUDP(t, map[string]any{"parse_body": false, "parse_authorization": false, "keep_original": false})
	if len(docs) != 22 {
		t.Fatalf("%d events", len(docs))
	}
	for i, d := range docs {
		for _, k := range []string{"sip.sdp", "sip.auth", "user.name", "event.original"} {
			if protocoltest.Get(d, k) != nil {
				t.Errorf("doc %d: %s present with its option off", i, k)
			}
		}
	}
	// Category still follows the header, as in Packetbeat.
	expect(t, docs[20], map[string]string{"event.category": "network;protocol;authentication", "sip.content_length": "0"})
}

func TestConfig(t *testing.T) {
	spec := mustSpec(t)
	for _, bad := range []map[string]any{
		{"parse_bodies": true},
		{"transport_protocol": "sctp"},
		{"keep_original": "perhaps"},
	} {
		common, opts, err := splitCommon(spec, bad)
		if err == nil {
			_, err = spec.New(common, opts, nil)
		}
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	common, opts, _ := splitCommon(spec, map[string]any{})
	inst, err := spec.New(common, opts, nil)
	if err != nil || inst.UDP == nil || inst.TCP != nil {
		t.Fatalf("default instance: %v %+v", err, inst)
	}
	if fmt.Sprint(inst.Common.Ports) != "[5060]" {
		t.Errorf("default ports %v", inst.Common.Ports)
	}
	if c := inst.UDP.(*Protocol).cfg; c != DefaultConfig() {
		t.Errorf("defaults %+v", c)
	}
}

func TestTCPCapture(t *testing.T) {
	docs := replayTCP(t)
	if len(docs) != 12 {
		t.Fatalf("%d events, want 12", len(docs))
	}
	expect(t, docs[0], map[string]string{
		"network.transport": "tcp", "network.iana_number": "6", "sip.method": "INVITE",
		"sip.via.original":   "SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK-29165-1-0",
		"sip.content_length": "129", "sip.sdp.owner.username": "user1", "source.port": "5061",
	})
	expect(t, docs[11], map[string]string{"sip.code": "200", "sip.cseq.method": "BYE", "sip.call_id": "2-29165@127.0.0.1", "source.port": "5060"})
}

// TestTshark compares every message of both captures with tshark's sip
// and sdp dissectors.
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	tsFields := []string{"sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq.seq", "sip.CSeq.method",
		"sip.from.user", "sip.from.host", "sip.from.tag", "sip.to.user", "sip.to.tag", "sip.Via",
		"sip.Max-Forwards", "sip.Content-Length", "sip.auth.username", "sip.auth.realm", "sip.auth.uri",
		"sip.r-uri.user", "sip.r-uri.host", "sip.contact.uri", "sip.User-Agent",
		"sdp.owner.username", "sdp.owner.sessionid", "sdp.connection_info.address"}
	ours := []string{"sip.method", "sip.code", "sip.call_id", "sip.cseq.code", "sip.cseq.method",
		"sip.from.uri.username", "sip.from.uri.host", "sip.from.tag", "sip.to.uri.username", "sip.to.tag", "sip.via.original",
		"sip.max_forwards", "sip.content_length", "user.name", "sip.auth.realm", "sip.auth.uri.original",
		"sip.uri.username", "sip.uri.host", "sip.contact.uri.original", "sip.user_agent.original",
		"sip.sdp.owner.username", "sip.sdp.owner.session_id", "sip.sdp.connection.address"}
	for _, tc := range []struct {
		pcap string
		args []string
		docs func(*testing.T) []map[string]any
	}{
		{udpPcap, []string{"-d", "udp.port==5062,sip"}, func(t *testing.T) []map[string]any { return replayUDP(t, nil) }},
		{tcpPcap, nil, replayTCP},
	} {
		args := append([]string{"-r", tc.pcap, "-Y", "sip", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"}, tc.args...)
		for _, f := range tsFields {
			args = append(args, "-e", f)
		}
		out, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		rows := strings.Split(strings.TrimSpace(string(out)), "\n")
		docs := tc.docs(t)
		if len(rows) != len(docs) {
			t.Fatalf("%s: tshark %d messages, we %d", tc.pcap, len(rows), len(docs))
		}
		for i, row := range rows {
			cols := strings.Split(row, "|")
			for j, col := range cols {
				want := strings.Trim(col, `"`)
				got := s(protocoltest.Get(docs[i], ours[j]))
				if tsFields[j] == "sip.Content-Length" && want == "" {
					continue
				}
				// tshark's sip.auth.* also covers WWW-Authenticate
				// challenges; Packetbeat (and we) report only credentials.
				if strings.HasPrefix(tsFields[j], "sip.auth.") && protocoltest.Get(docs[i], "sip.type") == "response" {
					continue
				}
				if got != want {
					t.Errorf("%s message %d %s: tshark %q, ours (%s) %q", tc.pcap, i+1, tsFields[j], want, ours[j], got)
				}
			}
		}
	}
}
