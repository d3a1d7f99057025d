package dhcpv4

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Wire layout (RFC 2131 section 2): a fixed 236-byte BOOTP header, the
// magic cookie, then options.
const (
	headerLen     = 236
	cookieLen     = 4
	minLen        = headerLen + cookieLen
	snameOff      = 44
	snameLen      = 64
	fileOff       = snameOff + snameLen
	fileLen       = 128
	chaddrOff     = 28
	chaddrLen     = 16
	flagBroadcast = 0x8000
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Option codes the event uses (RFC 2132, RFC 3925).
const (
	OptPad              = 0
	OptSubnetMask       = 1
	OptTimeOffset       = 2
	OptRouter           = 3
	OptTimeServer       = 4
	OptDNSServers       = 6
	OptHostName         = 12
	OptDomainName       = 15
	OptBroadcastAddress = 28
	OptNTPServers       = 42
	OptRequestedIP      = 50
	OptLeaseTime        = 51
	OptOverload         = 52
	OptMessageType      = 53
	OptServerID         = 54
	OptParameterRequest = 55
	OptMessage          = 56
	OptMaxMessageSize   = 57
	OptRenewalTime      = 58
	OptRebindingTime    = 59
	OptClassIdentifier  = 60
	OptClientIdentifier = 61
	OptBootfileName     = 67
	OptVendorIdentClass = 124
	OptEnd              = 255
)

// Parse errors. A datagram that fails is counted and skipped, as Packetbeat
// drops what its parser rejects.
var (
	ErrShort           = errors.New("dhcpv4: message shorter than the 240-byte BOOTP header and cookie")
	ErrCookie          = errors.New("dhcpv4: magic cookie missing")
	ErrOptionTruncated = errors.New("dhcpv4: option runs past the end of its area")
)

// span locates an option value: in the message (joined false) or in the
// message's joined buffer (an option split over several instances).
type span struct {
	off, n uint16
	set    bool
	joined bool
}

// Message is one parsed DHCP message. Its byte slices point into the buffer
// handed to Parse; options are located by code without copying, so parsing
// allocates nothing unless an option is split into several instances
// (RFC 3396), which are then concatenated into joined.
type Message struct {
	raw []byte

	Op, HType, HLen, Hops uint8
	XID                   uint32
	Secs, Flags           uint16
	CIAddr, YIAddr        netip.Addr
	SIAddr, GIAddr        netip.Addr
	// Overload is option 52: 1 the file field, 2 the sname field, 3 both
	// carry options instead of names.
	Overload uint8

	opts   [256]span
	joined []byte
}

// Parse decodes msg. The Message refers to msg: keep msg unchanged while
// it is used.
func Parse(msg []byte, m *Message) error {
	*m = Message{}
	if len(msg) < minLen {
		return ErrShort
	}
	if [4]byte(msg[headerLen:minLen]) != magicCookie {
		return ErrCookie
	}
	m.raw = msg
	m.Op, m.HType, m.HLen, m.Hops = msg[0], msg[1], msg[2], msg[3]
	m.XID = binary.BigEndian.Uint32(msg[4:])
	m.Secs = binary.BigEndian.Uint16(msg[8:])
	m.Flags = binary.BigEndian.Uint16(msg[10:])
	m.CIAddr = netip.AddrFrom4([4]byte(msg[12:16]))
	m.YIAddr = netip.AddrFrom4([4]byte(msg[16:20]))
	m.SIAddr = netip.AddrFrom4([4]byte(msg[20:24]))
	m.GIAddr = netip.AddrFrom4([4]byte(msg[24:28]))
	if err := m.parseOptions(minLen, len(msg)); err != nil {
		return err
	}
	if v, ok := m.Option(OptOverload); ok && len(v) >= 1 {
		m.Overload = v[0] & 3
		// RFC 2131 4.1: the file field is read before sname.
		if m.Overload&1 != 0 {
			if err := m.parseOptions(fileOff, fileOff+fileLen); err != nil {
				return err
			}
		}
		if m.Overload&2 != 0 {
			if err := m.parseOptions(snameOff, snameOff+snameLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseOptions reads the TLVs of one option area, raw[from:to]. It stops at
// End; a length running past the area is an error (nothing after it can be
// trusted).
func (m *Message) parseOptions(from, to int) error {
	b := m.raw
	for i := from; i < to; {
		code := b[i]
		if code == OptPad {
			i++
			continue
		}
		if code == OptEnd {
			return nil
		}
		if i+1 >= to {
			return ErrOptionTruncated
		}
		n := int(b[i+1])
		start := i + 2
		if start+n > to {
			return ErrOptionTruncated
		}
		m.add(code, start, n)
		i = start + n
	}
	return nil
}

// add records an option instance; repeated instances of a code are
// concatenated as RFC 3396 asks.
func (m *Message) add(code uint8, off, n int) {
	s := &m.opts[code]
	if !s.set {
		*s = span{off: uint16(off), n: uint16(n), set: true}
		return
	}
	prev := m.value(*s)
	start := len(m.joined)
	m.joined = append(m.joined, prev...)
	m.joined = append(m.joined, m.raw[off:off+n]...)
	*s = span{off: uint16(start), n: uint16(len(m.joined) - start), set: true, joined: true}
}

func (m *Message) value(s span) []byte {
	if s.joined {
		return m.joined[s.off : s.off+s.n]
	}
	return m.raw[s.off : s.off+s.n]
}

// Option returns the value of option code and whether it is present.
func (m *Message) Option(code uint8) ([]byte, bool) {
	s := m.opts[code]
	if !s.set {
		return nil, false
	}
	return m.value(s), true
}

// MessageType is option 53, 0 when absent (plain BOOTP).
func (m *Message) MessageType() uint8 {
	if v, ok := m.Option(OptMessageType); ok && len(v) >= 1 {
		return v[0]
	}
	return 0
}

// Broadcast reports the broadcast flag (RFC 2131 figure 2).
func (m *Message) Broadcast() bool { return m.Flags&flagBroadcast != 0 }

// CHAddr is the client hardware address: hlen bytes of chaddr (at most 16).
func (m *Message) CHAddr() []byte {
	n := int(m.HLen)
	if n > chaddrLen {
		n = chaddrLen
	}
	return m.raw[chaddrOff : chaddrOff+n]
}

// ServerName is the sname field up to its first NUL, empty when the field
// carries options.
func (m *Message) ServerName() []byte {
	if m.Overload&2 != 0 {
		return nil
	}
	return cstring(m.raw[snameOff : snameOff+snameLen])
}

// BootFileName is the file field up to its first NUL, empty when the field
// carries options.
func (m *Message) BootFileName() []byte {
	if m.Overload&1 != 0 {
		return nil
	}
	return cstring(m.raw[fileOff : fileOff+fileLen])
}

func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// IP returns an option holding one IPv4 address.
func (m *Message) IP(code uint8) (netip.Addr, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) < 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v[:4])), true
}

// IPs returns the number of whole addresses in a list option and calls
// fn for each (no slice is built).
func (m *Message) IPs(code uint8, fn func(netip.Addr)) int {
	v, _ := m.Option(code)
	n := len(v) / 4
	if fn != nil {
		for i := 0; i < n; i++ {
			fn(netip.AddrFrom4([4]byte(v[i*4 : i*4+4])))
		}
	}
	return n
}

// Uint32 returns a 4-byte option (lease and timer values, time offset).
func (m *Message) Uint32(code uint8) (uint32, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// Uint16 returns a 2-byte option (maximum message size).
func (m *Message) Uint16(code uint8) (uint16, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) < 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// VendorClass is one entry of option 124 (RFC 3925 section 3): an
// enterprise number and its opaque data.
type VendorClass struct {
	Enterprise uint32
	Data       []byte
}

// VendorClasses walks option 124's entries; a truncated entry ends the walk.
func (m *Message) VendorClasses(fn func(VendorClass)) int {
	v, _ := m.Option(OptVendorIdentClass)
	n := 0
	for len(v) >= 5 {
		l := int(v[4])
		if 5+l > len(v) {
			break
		}
		if fn != nil {
			fn(VendorClass{Enterprise: binary.BigEndian.Uint32(v), Data: v[5 : 5+l]})
		}
		n++
		v = v[5+l:]
	}
	return n
}
