package dhcpv4

import (
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// The pcap comes from _dev/capture/dhcpv4.sh: dnsmasq serving udhcpc,
// dhclient (NAK, full exchange, release) and a DHCPINFORM across a veth pair.
const pcapFile = "../../_dev/pcaps/dhcpv4/dnsmasq.pcap"

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, str(e))
		}
		return strings.Join(s, ",")
	}
	return "?"
}

func replay(t *testing.T) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "dhcpv4", map[string]any{})
	protocoltest.Replay(t, pcapFile, inst)
	return col.Docs, inst.UDP.(*Protocol)
}

// TestCapture checks each message of the capture: one event per datagram,
// source/destination as on the wire, client/server by op code.
func TestCapture(t *testing.T) {
	docs, p := replay(t)
	if len(docs) != 17 || p.Stats().Messages.Load() != 17 || p.ParseErrors() != 0 {
		t.Fatalf("%d events, %d messages, %d errors; want 17, 17, 0", len(docs), p.Stats().Messages.Load(), p.ParseErrors())
	}
	type want struct {
		typ, xid, src, dst, client, server, assigned, flags string
	}
	wants := []want{
		{"discover", "0x2f037819", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "broadcast"},
		{"discover", "0x2f037819", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "broadcast"},
		{"discover", "0x2f037819", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "broadcast"},
		{"offer", "0x2f037819", "10.99.0.1:67", "255.255.255.255:68", "255.255.255.255", "10.99.0.1", "10.99.0.55", "broadcast"},
		{"offer", "0x2f037819", "10.99.0.1:67", "255.255.255.255:68", "255.255.255.255", "10.99.0.1", "10.99.0.55", "broadcast"},
		{"offer", "0x2f037819", "10.99.0.1:67", "255.255.255.255:68", "255.255.255.255", "10.99.0.1", "10.99.0.55", "broadcast"},
		{"request", "0x2f037819", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "broadcast"},
		{"ack", "0x2f037819", "10.99.0.1:67", "255.255.255.255:68", "255.255.255.255", "10.99.0.1", "10.99.0.55", "broadcast"},
		{"request", "0x14e1e76b", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "unicast"},
		{"nak", "0x14e1e76b", "10.99.0.1:67", "255.255.255.255:68", "255.255.255.255", "10.99.0.1", "", "broadcast"},
		{"discover", "0xf1de0d2c", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "unicast"},
		{"offer", "0xf1de0d2c", "10.99.0.1:67", "10.99.0.55:68", "10.99.0.55", "10.99.0.1", "10.99.0.55", "unicast"},
		{"request", "0xf1de0d2c", "0.0.0.0:68", "255.255.255.255:67", "0.0.0.0", "255.255.255.255", "", "unicast"},
		{"ack", "0xf1de0d2c", "10.99.0.1:67", "10.99.0.55:68", "10.99.0.55", "10.99.0.1", "10.99.0.55", "unicast"},
		{"release", "0x6c3d6b1a", "10.99.0.55:68", "10.99.0.1:67", "10.99.0.55", "10.99.0.1", "", "unicast"},
		{"inform", "0x1badf00d", "10.99.0.55:68", "10.99.0.1:67", "10.99.0.55", "10.99.0.1", "", "unicast"},
		{"ack", "0x1badf00d", "10.99.0.1:67", "10.99.0.55:68", "10.99.0.55", "10.99.0.1", "", "unicast"},
	}
	for i, w := range wants {
		d := docs[i]
		got := want{
			str(protocoltest.Get(d, "dhcpv4.option.message_type")), str(protocoltest.Get(d, "dhcpv4.transaction_id")),
			str(protocoltest.Get(d, "source.ip")) + ":" + str(protocoltest.Get(d, "source.port")),
			str(protocoltest.Get(d, "destination.ip")) + ":" + str(protocoltest.Get(d, "destination.port")),
			str(protocoltest.Get(d, "client.ip")), str(protocoltest.Get(d, "server.ip")),
			str(protocoltest.Get(d, "dhcpv4.assigned_ip")), str(protocoltest.Get(d, "dhcpv4.flags")),
		}
		if got != w {
			t.Errorf("event %d: got %+v\nwant %+v", i+1, got, w)
		}
		if protocoltest.Get(d, "type") != "dhcpv4" || protocoltest.Get(d, "status") != "OK" || protocoltest.Get(d, "network.transport") != "udp" ||
			protocoltest.Get(d, "dhcpv4.client_mac") != "02-00-00-00-99-02" || protocoltest.Get(d, "dhcpv4.hardware_type") != "Ethernet" {
			t.Errorf("event %d: common fields wrong: %v", i+1, d)
		}
		// The payload bytes count on the sender's side only.
		if protocoltest.Get(d, "source.bytes") == nil || protocoltest.Get(d, "destination.bytes") != nil {
			t.Errorf("event %d: bytes on the wrong side", i+1)
		}
	}

	// The first DISCOVER: what udhcpc was told to send (-r, -V, -x hostname,
	// -O ntpsrv), and the community id Packetbeat's own sample carries for
	// the same 0.0.0.0:68 -> 255.255.255.255:67 tuple.
	d := docs[0]
	for k, v := range map[string]string{
		"dhcpv4.option.requested_ip_address":   "10.99.0.55",
		"dhcpv4.option.class_identifier":       "ntvendor",
		"dhcpv4.option.hostname":               "ntclient",
		"dhcpv4.option.max_dhcp_message_size":  "576",
		"dhcpv4.option.parameter_request_list": "Subnet Mask,Router,Domain Name Server,Host Name,Domain Name,Broadcast Address,NTP Servers",
		"dhcpv4.op_code":                       "bootrequest",
		"network.community_id":                 "1:t9O1j0qj71O4wJM7gnaHtgmfev8=",
		"related.ip":                           "0.0.0.0,255.255.255.255",
		"client.bytes":                         "300",
	} {
		if got := str(protocoltest.Get(d, k)); got != v {
			t.Errorf("discover %s = %q, want %q", k, got, v)
		}
	}
	// The ACK of udhcpc's lease: everything dnsmasq was configured with.
	d = docs[7]
	for k, v := range map[string]string{
		"dhcpv4.op_code":                          "bootreply",
		"dhcpv4.seconds":                          "3",
		"dhcpv4.server_ip":                        "10.99.0.1",
		"dhcpv4.option.server_identifier":         "10.99.0.1",
		"dhcpv4.option.subnet_mask":               "255.255.255.0",
		"dhcpv4.option.broadcast_address":         "10.99.0.255",
		"dhcpv4.option.router":                    "10.99.0.1",
		"dhcpv4.option.dns_servers":               "10.99.0.1,10.99.0.2",
		"dhcpv4.option.ntp_servers":               "10.99.0.1",
		"dhcpv4.option.domain_name":               "example.test",
		"dhcpv4.option.hostname":                  "ntclient",
		"dhcpv4.option.ip_address_lease_time_sec": "3600",
		"dhcpv4.option.renewal_time_sec":          "1800",
		"dhcpv4.option.rebinding_time_sec":        "3150",
		"server.bytes":                            "326",
		"related.ip":                              "10.99.0.1,255.255.255.255,10.99.0.55",
	} {
		if got := str(protocoltest.Get(d, k)); got != v {
			t.Errorf("ack %s = %q, want %q", k, got, v)
		}
	}
	if protocoltest.Get(d, "client.bytes") != nil {
		t.Error("reply: client.bytes set")
	}
	// dhclient's INIT-REBOOT for its stale lease, and dnsmasq's NAK.
	if got := str(protocoltest.Get(docs[8], "dhcpv4.option.requested_ip_address")); got != "10.88.0.5" {
		t.Errorf("init-reboot requested %q", got)
	}
	if got := str(protocoltest.Get(docs[9], "dhcpv4.option.message")); got != "wrong address" {
		t.Errorf("nak message %q", got)
	}
	// RELEASE and INFORM carry the client's address in ciaddr.
	for _, i := range []int{14, 15, 16} {
		if got := str(protocoltest.Get(docs[i], "dhcpv4.client_ip")); got != "10.99.0.55" {
			t.Errorf("event %d client_ip %q", i+1, got)
		}
	}
	if got := str(protocoltest.Get(docs[15], "dhcpv4.option.max_dhcp_message_size")); got != "1500" {
		t.Errorf("inform max size %q", got)
	}
}

// TestTshark compares every message with tshark's dhcp dissector.
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	fields := []string{"dhcp.option.dhcp", "dhcp.id", "dhcp.flags.bc", "dhcp.ip.client", "dhcp.ip.your",
		"dhcp.ip.server", "dhcp.ip.relay", "dhcp.secs", "dhcp.option.hostname", "dhcp.option.vendor_class_id",
		"dhcp.option.message", "dhcp.option.requested_ip_address", "dhcp.option.dhcp_server_id",
		"dhcp.option.ip_address_lease_time", "dhcp.option.domain_name_server", "dhcp.option.router",
		"dhcp.option.subnet_mask", "dhcp.option.domain_name", "dhcp.option.ntp_server", "dhcp.option.request_list_item"}
	args := []string{"-r", pcapFile, "-T", "fields", "-E", "separator=|", "-E", "aggregator=,"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	docs, _ := replay(t)
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(rows) != len(docs) {
		t.Fatalf("tshark %d messages, we %d", len(rows), len(docs))
	}
	for i, row := range rows {
		f := strings.Split(row, "|")
		d := docs[i]
		mt, _ := strconv.Atoi(f[0])
		bc := "unicast"
		if f[2] == "1" {
			bc = "broadcast"
		}
		ip := func(s string) string {
			if s == "0.0.0.0" {
				return ""
			}
			return s
		}
		var prl []string
		if f[19] != "" {
			for _, c := range strings.Split(f[19], ",") {
				n, _ := strconv.Atoi(c)
				prl = append(prl, OptionName(uint8(n)))
			}
		}
		ts := []string{MessageTypeString(uint8(mt)), f[1], bc, ip(f[3]), ip(f[4]), ip(f[5]), ip(f[6]), f[7],
			f[8], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16], f[17], f[18], strings.Join(prl, ",")}
		ours := []string{}
		for _, k := range []string{"option.message_type", "transaction_id", "flags", "client_ip", "assigned_ip",
			"server_ip", "relay_ip", "seconds", "option.hostname", "option.class_identifier", "option.message",
			"option.requested_ip_address", "option.server_identifier", "option.ip_address_lease_time_sec",
			"option.dns_servers", "option.router", "option.subnet_mask", "option.domain_name",
			"option.ntp_servers", "option.parameter_request_list"} {
			ours = append(ours, str(protocoltest.Get(d, "dhcpv4."+k)))
		}
		if !reflect.DeepEqual(ts, ours) {
			t.Errorf("message %d:\ntshark %q\nours   %q", i+1, ts, ours)
		}
	}
}
