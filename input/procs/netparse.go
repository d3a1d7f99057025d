package procs

import (
	"encoding/binary"
	"net/netip"
)

// The kernel's /proc/net/{tcp,tcp6,udp,udp6} tables have one socket per line:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	 0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 76196 1 ...
//
// Addresses are the raw in_addr / in6_addr printed as 32-bit words with %08X,
// so each word is in the machine's byte order; ports are plain hex numbers.

// netField indexes the whitespace-separated columns we use.
const (
	fieldLocal = 1
	fieldInode = 9
)

// parseNetLine extracts the local address and the inode of one table line.
// ok is false for the header, blank and malformed lines, and for sockets
// without an inode (TIME_WAIT entries and the like belong to no process).
// IPv4-mapped IPv6 addresses are unmapped, so a dual-stack socket that talks
// IPv4 is found under the IPv4 address packets carry. It does not allocate.
func parseNetLine(line []byte, v6 bool) (local netip.AddrPort, inode uint64, ok bool) {
	var fields [fieldInode + 1][]byte
	n := 0
	for i := 0; i < len(line) && n <= fieldInode; {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		start := i
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
		if i > start {
			fields[n] = line[start:i]
			n++
		}
	}
	if n <= fieldInode {
		return netip.AddrPort{}, 0, false
	}
	local, ok = parseHexAddrPort(fields[fieldLocal], v6)
	if !ok {
		return netip.AddrPort{}, 0, false
	}
	inode, ok = parseDec(fields[fieldInode])
	if !ok || inode == 0 {
		return netip.AddrPort{}, 0, false
	}
	return local, inode, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseHexAddrPort parses "0100007F:1F90" (IPv4, 8 hex digits) or the
// 32-digit IPv6 form, then ":PORT" in 4 hex digits.
func parseHexAddrPort(b []byte, v6 bool) (netip.AddrPort, bool) {
	width := 8
	if v6 {
		width = 32
	}
	if len(b) != width+1+4 || b[width] != ':' {
		return netip.AddrPort{}, false
	}
	port, ok := parseHex32(b[width+1:])
	if !ok {
		return netip.AddrPort{}, false
	}
	var raw [16]byte
	for w := 0; w < width/8; w++ {
		v, ok := parseHex32(b[w*8 : w*8+8])
		if !ok {
			return netip.AddrPort{}, false
		}
		// The kernel printed the in-memory word, so writing it back in the
		// native order restores the network-order bytes on any machine.
		binary.NativeEndian.PutUint32(raw[w*4:], v)
	}
	var addr netip.Addr
	if v6 {
		addr = netip.AddrFrom16(raw).Unmap()
	} else {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// parseHex32 parses 1 to 8 hex digits.
func parseHex32(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var v uint32
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(d)
	}
	return v, true
}

// parseDec parses an unsigned decimal number of at most 19 digits (no overflow).
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
