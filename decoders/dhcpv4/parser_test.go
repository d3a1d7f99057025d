package dhcpv4

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// build makes a message: a BOOTP header with op and xid, the cookie, then
// the given option bytes (End is not added).
func build(op byte, opts ...byte) []byte {
	b := make([]byte, minLen)
	b[0], b[1], b[2] = op, 1, 6
	b[4], b[5], b[6], b[7] = 0xde, 0xad, 0xbe, 0xef
	copy(b[chaddrOff:], []byte{0xaa, 0xbb, 0xcc, 0x00, 0x11, 0x22})
	copy(b[headerLen:], magicCookie[:])
	return append(b, opts...)
}

func TestParseErrors(t *testing.T) {
	var m Message
	for _, c := range []struct {
		name string
		msg  []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"header only", build(1)[:headerLen], ErrShort},
		{"no cookie", append(build(1)[:headerLen], 1, 2, 3, 4), ErrCookie},
		{"length past end", build(1, OptHostName, 5, 'a', 'b'), ErrOptionTruncated},
		{"code without length", build(1, OptMessageType), ErrOptionTruncated},
	} {
		if err := Parse(c.msg, &m); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	// Pads, an End and garbage after it are fine; plain BOOTP has no type.
	if err := Parse(build(2, 0, 0, OptEnd, 0xff, 0x33), &m); err != nil || m.MessageType() != 0 {
		t.Errorf("bootp: %v type %d", err, m.MessageType())
	}
}

func TestParseOptions(t *testing.T) {
	msg := build(2,
		OptMessageType, 1, 5,
		OptTimeOffset, 4, 0xff, 0xff, 0xf1, 0xf0, // -3600
		// A host name split in two instances (RFC 3396).
		OptHostName, 3, 'a', 'b', 'c',
		OptHostName, 2, 'd', 'e',
		OptVendorIdentClass, 13, 0, 0, 0x0d, 0xe9, 3, 1, 2, 3, 0, 0, 0, 9, 0, // 3561: 010203, 9: empty
		OptOverload, 1, 3,
		OptEnd)
	// sname and file carry more options.
	copy(msg[fileOff:], []byte{OptDomainName, 4, 'f', 'i', 'l', 'e', OptEnd})
	copy(msg[snameOff:], []byte{OptMessage, 2, 'h', 'i', OptEnd})
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Option(OptHostName); string(v) != "abcde" {
		t.Errorf("joined host name %q", v)
	}
	if v, _ := m.Option(OptDomainName); string(v) != "file" {
		t.Errorf("domain from file field %q", v)
	}
	if len(m.ServerName()) != 0 || len(m.BootFileName()) != 0 {
		t.Error("overloaded fields read as names")
	}
	var vcs []VendorClass
	m.VendorClasses(func(v VendorClass) { vcs = append(vcs, v) })
	if len(vcs) != 2 || vcs[0].Enterprise != 3561 || string(vcs[0].Data) != "\x01\x02\x03" || vcs[1].Enterprise != 9 {
		t.Errorf("vendor classes %+v", vcs)
	}

	inst, col := protocoltest.New(t, "dhcpv4", map[string]any{})
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:67"), Server: netip.MustParseAddrPort("10.0.0.9:68"), IPProtocol: 17}
	inst.UDP.Datagram(&conn, protocol.FromClient, msg, time.Unix(1, 0))
	d := col.Docs[0]
	for k, v := range map[string]string{
		"dhcpv4.option.utc_time_offset_sec": "-3600",
		"dhcpv4.option.hostname":            "abcde",
		"dhcpv4.option.message":             "hi",
		"dhcpv4.transaction_id":             "0xdeadbeef",
		"dhcpv4.client_mac":                 "AA-BB-CC-00-11-22",
		"client.ip":                         "10.0.0.9",
		"server.ip":                         "10.0.0.1",
	} {
		if got := str(protocoltest.Get(d, k)); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	vio, _ := protocoltest.Get(d, "dhcpv4.option.vendor_identifying_options").([]any)
	if len(vio) != 2 || str(vio[0].(map[string]any)["id"]) != "3561" || vio[0].(map[string]any)["data"] != "010203" ||
		vio[1].(map[string]any)["data"] != "" {
		t.Errorf("vendor_identifying_options %v", vio)
	}
}

func TestNotDHCPCounted(t *testing.T) {
	inst, col := protocoltest.New(t, "dhcpv4", map[string]any{})
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:68"), Server: netip.MustParseAddrPort("10.0.0.9:67"), IPProtocol: 17}
	inst.UDP.Datagram(&conn, protocol.FromClient, []byte("hello"), time.Unix(1, 0))
	if len(col.Docs) != 0 || inst.UDP.(*Protocol).ParseErrors() != 1 {
		t.Errorf("%d events, %d errors", len(col.Docs), inst.UDP.(*Protocol).ParseErrors())
	}
}

func TestOptions(t *testing.T) {
	spec, _ := protocol.Lookup("dhcpv4")
	c, o, err := protocol.SplitCommon(spec, map[string]any{"keep_null": true})
	if err != nil || !c.KeepNull || len(c.Ports) != 2 || c.Ports[0] != 67 || c.Ports[1] != 68 {
		t.Fatalf("%v %+v", err, c)
	}
	if _, err := spec.New(c, o, protocol.PublisherFunc(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.New(c, protocol.Options{"bogus": 1}, protocol.PublisherFunc(nil)); err == nil {
		t.Error("unknown option accepted")
	}
}
