package dhcpv4

import (
	"encoding/hex"
	"net/netip"
	"time"
	"unsafe"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// inlineLen covers the usual DHCP message (RFC 2131 asks clients to accept
// 576-byte datagrams; most are 300-350 bytes), so an event is one
// allocation.
const inlineLen = 576

// Event is one DHCP message as a network_traffic.dhcpv4 document.
type Event struct {
	Base ecsmap.Base
	Msg  Message

	raw    []byte
	inline [inlineLen]byte
	vlans  [2]uint16
	ips    [3]netip.Addr // backs Base.RelatedIPs
	// reply: for a bootreply the client is the destination (Packetbeat's
	// client/server follow the op code, not the packet direction).
	reply bool
}

// newEvent copies the datagram and its parsed message into a new event.
func newEvent(payload []byte, m *Message) *Event {
	e := &Event{}
	if len(payload) <= inlineLen {
		e.raw = e.inline[:len(payload)]
	} else {
		e.raw = make([]byte, len(payload))
	}
	copy(e.raw, payload)
	e.Msg = *m
	e.Msg.raw = e.raw
	if m.joined != nil {
		// scratch reuses nothing, but the event must own its bytes.
		e.Msg.joined = append([]byte(nil), m.joined...)
	}
	return e
}

// fill sets the common fields: source is the packet's sender.
func (e *Event) fill(src, dst netip.AddrPort, c *protocol.Conn, n int, ts time.Time) {
	b := &e.Base
	b.Source.IP = src.Addr().Unmap()
	b.Source.Port = src.Port()
	b.Source.Bytes = int64(n)
	b.Destination.IP = dst.Addr().Unmap()
	b.Destination.Port = dst.Port()
	b.IPProtocol = 17
	b.Transport = "udp"
	b.NetworkType = c.NetworkType()
	if len(c.VLANs) > 0 {
		b.VLANs = e.vlans[:copy(e.vlans[:], c.VLANs)]
	}
	b.Tunnel = c.Tunnel // the engine's per-datagram copy: safe to keep
	b.Iface = c.Iface
	b.Start = ts
	b.Type = "dhcpv4"
	b.Status = "OK"
	e.reply = e.Msg.Op == 2
	// client.* and server.* are source/destination for requests; replies
	// write them reversed in WriteFields.
	b.ClientServer = !e.reply
	m := &e.Msg
	k := 0
	for _, ip := range [...]netip.Addr{m.CIAddr, m.YIAddr, m.GIAddr} {
		if !ip.IsUnspecified() {
			e.ips[k] = ip
			k++
		}
	}
	if k > 0 {
		b.RelatedIPs = e.ips[:k]
	}
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

// WriteFields writes the dhcpv4 group (and client/server for replies).
func (e *Event) WriteFields(w *ecsmap.Writer) {
	if e.reply {
		writePeer(w, "client", &e.Base.Destination)
		writePeer(w, "server", &e.Base.Source)
	}
	m := &e.Msg
	w.Object("dhcpv4")
	w.Str("op_code", OpString(m.Op))
	w.Str("hardware_type", HardwareTypeString(m.HType))
	w.Uint("hops", uint64(m.Hops))
	var xid [10]byte
	xid[0], xid[1] = '0', 'x'
	hex.Encode(xid[2:], []byte{byte(m.XID >> 24), byte(m.XID >> 16), byte(m.XID >> 8), byte(m.XID)})
	w.Bytes("transaction_id", xid[:])
	w.Uint("seconds", uint64(m.Secs))
	if m.Broadcast() {
		w.Str("flags", "broadcast")
	} else {
		w.Str("flags", "unicast")
	}
	writeMAC(w, "client_mac", m.CHAddr())
	if !m.CIAddr.IsUnspecified() {
		w.IP("client_ip", m.CIAddr)
	}
	if !m.YIAddr.IsUnspecified() {
		w.IP("assigned_ip", m.YIAddr)
	}
	if !m.SIAddr.IsUnspecified() {
		w.IP("server_ip", m.SIAddr)
	}
	if !m.GIAddr.IsUnspecified() {
		w.IP("relay_ip", m.GIAddr)
	}
	if s := m.ServerName(); len(s) > 0 {
		w.Bytes("server_name", s)
	}
	if s := m.BootFileName(); len(s) > 0 {
		w.Bytes("boot_file_name", s)
	}
	e.writeOptions(w)
	w.End()
}

// writeOptions writes dhcpv4.option when the message has any option
// Packetbeat reports.
func (e *Event) writeOptions(w *ecsmap.Writer) {
	m := &e.Msg
	opened := false
	open := func() {
		if !opened {
			w.Object("option")
			opened = true
		}
	}
	if t := m.MessageType(); t != 0 {
		open()
		w.Str("message_type", MessageTypeString(t))
	}
	if v, ok := m.Option(OptParameterRequest); ok && len(v) > 0 {
		open()
		w.ArrayStart("parameter_request_list")
		for _, c := range v {
			w.ElemStr(OptionName(c))
		}
		w.ArrayEnd()
	}
	for _, o := range [...]struct {
		code uint8
		key  string
	}{
		{OptRequestedIP, "requested_ip_address"},
		{OptServerID, "server_identifier"},
		{OptBroadcastAddress, "broadcast_address"},
	} {
		if ip, ok := m.IP(o.code); ok {
			open()
			w.IP(o.key, ip)
		}
	}
	if v, ok := m.Uint16(OptMaxMessageSize); ok {
		open()
		w.Uint("max_dhcp_message_size", uint64(v))
	}
	if v, ok := m.Option(OptClassIdentifier); ok && len(v) > 0 {
		open()
		w.Bytes("class_identifier", v)
	}
	if v, ok := m.Option(OptDomainName); ok && len(v) > 0 {
		open()
		w.Bytes("domain_name", v)
	}
	if m.IPs(OptDNSServers, nil) > 0 {
		open()
		writeIPs(w, "dns_servers", m, OptDNSServers)
	}
	if m.VendorClasses(nil) > 0 {
		open()
		w.ArrayStart("vendor_identifying_options")
		m.VendorClasses(func(vc VendorClass) {
			w.ElemObject()
			w.Uint("id", uint64(vc.Enterprise))
			var buf [2 * 255]byte
			w.Bytes("data", buf[:hex.Encode(buf[:], vc.Data)])
			w.End()
		})
		w.ArrayEnd()
	}
	if ip, ok := m.IP(OptSubnetMask); ok {
		open()
		w.IP("subnet_mask", ip)
	}
	if v, ok := m.Uint32(OptTimeOffset); ok {
		open()
		w.Int("utc_time_offset_sec", int64(int32(v)))
	}
	if m.IPs(OptRouter, nil) > 0 {
		open()
		writeIPs(w, "router", m, OptRouter)
	}
	if m.IPs(OptTimeServer, nil) > 0 {
		open()
		writeIPs(w, "time_servers", m, OptTimeServer)
	}
	if m.IPs(OptNTPServers, nil) > 0 {
		open()
		writeIPs(w, "ntp_servers", m, OptNTPServers)
	}
	if v, ok := m.Option(OptHostName); ok && len(v) > 0 {
		open()
		w.Bytes("hostname", v)
	}
	// Zero timers are not written, as in Packetbeat.
	for _, o := range [...]struct {
		code uint8
		key  string
	}{
		{OptLeaseTime, "ip_address_lease_time_sec"},
		{OptRenewalTime, "renewal_time_sec"},
		{OptRebindingTime, "rebinding_time_sec"},
	} {
		if v, ok := m.Uint32(o.code); ok && v != 0 {
			open()
			w.Uint(o.key, uint64(v))
		}
	}
	if v, ok := m.Option(OptMessage); ok && len(v) > 0 {
		open()
		w.Bytes("message", v)
	}
	if v, ok := m.Option(OptBootfileName); ok && len(v) > 0 {
		open()
		w.Bytes("boot_file_name", v)
	}
	if opened {
		w.End()
	}
}

func writeIPs(w *ecsmap.Writer, key string, m *Message, code uint8) {
	w.ArrayStart(key)
	var buf [15]byte
	m.IPs(code, func(ip netip.Addr) {
		// ElemStr copies the bytes at once: viewing buf as a string
		// avoids an allocation per address.
		b := ip.AppendTo(buf[:0])
		w.ElemStr(unsafe.String(&b[0], len(b)))
	})
	w.ArrayEnd()
}

// writeMAC writes a hardware address in ECS form (AA-BB-CC-DD-EE-FF), as
// Packetbeat publishes client_mac.
func writeMAC(w *ecsmap.Writer, key string, hw []byte) {
	var buf [3 * 16]byte
	n := 0
	const digits = "0123456789ABCDEF"
	for i, c := range hw {
		if i > 0 {
			buf[n] = '-'
			n++
		}
		buf[n], buf[n+1] = digits[c>>4], digits[c&0xf]
		n += 2
	}
	w.Bytes(key, buf[:n])
}

// writePeer writes client or server from an endpoint (replies only).
func writePeer(w *ecsmap.Writer, key string, ep *ecsmap.Endpoint) {
	if !ep.IP.IsValid() {
		return
	}
	w.Object(key)
	w.IP("ip", ep.IP)
	if ep.Port != 0 {
		w.Uint("port", uint64(ep.Port))
	}
	if ep.Bytes > 0 {
		w.Int("bytes", ep.Bytes)
	}
	w.End()
}
