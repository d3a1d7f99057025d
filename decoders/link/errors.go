package link

// Error describes why a frame could not be decoded. The values are fixed
// package-level pointers so a flood of garbage frames costs no allocation;
// compare with errors.Is or read Layer to group them.
type Error struct {
	Layer string // "ethernet", "ipv4", "tcp", ...
	Msg   string
}

func (e *Error) Error() string { return e.Layer + ": " + e.Msg }

var (
	errEthernetShort = &Error{"ethernet", "frame shorter than the 14-byte header"}
	errSLLShort      = &Error{"linux_sll", "frame shorter than the 16-byte header"}
	errSLL2Short     = &Error{"linux_sll2", "frame shorter than the 20-byte header"}
	errNullShort     = &Error{"null", "frame shorter than the 4-byte address family"}
	errVLANShort     = &Error{"vlan", "tag truncated"}
	errIPEmpty       = &Error{"ip", "empty packet"}

	errIPv4Short      = &Error{"ipv4", "shorter than the 20-byte header"}
	errIPv4Version    = &Error{"ipv4", "version field is not 4"}
	errIPv4IHL        = &Error{"ipv4", "header length below 20 bytes or beyond the packet"}
	errIPv4TotalLen   = &Error{"ipv4", "total length smaller than the header"}
	errIPv4Truncated  = &Error{"ipv4", "captured bytes fewer than the total length"}
	errIPv4FragOffset = &Error{"ipv4", "fragment extends beyond 65535 bytes"}

	errIPv6Short     = &Error{"ipv6", "shorter than the 40-byte header"}
	errIPv6Version   = &Error{"ipv6", "version field is not 6"}
	errIPv6Truncated = &Error{"ipv6", "captured bytes fewer than the payload length"}
	errIPv6ExtShort  = &Error{"ipv6", "extension header truncated"}
	errIPv6FragShort = &Error{"ipv6", "fragment header truncated"}
	errIPv6FragLen   = &Error{"ipv6", "non-final fragment length not a multiple of 8"}

	errTCPShort     = &Error{"tcp", "shorter than the 20-byte header"}
	errTCPOffset    = &Error{"tcp", "data offset below 20 bytes or beyond the segment"}
	errUDPShort     = &Error{"udp", "shorter than the 8-byte header"}
	errUDPLen       = &Error{"udp", "length field below 8 or beyond the datagram"}
	errICMPShort    = &Error{"icmp", "shorter than the 4-byte header"}
	errICMPEchoShrt = &Error{"icmp", "echo message shorter than 8 bytes"}
)
