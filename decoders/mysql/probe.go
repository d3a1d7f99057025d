package mysql

import "github.com/network-traffic/network-traffic/decoders/protocol"

// probe recognises the server greeting (HandshakeV10) that opens every
// MySQL and MariaDB connection: a packet with sequence id 0, protocol
// version 10 and a printable, NUL-terminated server version.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromClient {
		return protocol.ProbeNo
	}
	if len(data) >= 3 {
		if l := int(data[0]) | int(data[1])<<8 | int(data[2])<<16; l < 32 || l > 1024 {
			return protocol.ProbeNo
		}
	}
	if len(data) >= 4 && data[3] != 0 {
		return protocol.ProbeNo
	}
	if len(data) >= 5 && data[4] != 10 {
		return protocol.ProbeNo
	}
	for i := 5; i < len(data); i++ {
		switch c := data[i]; {
		case c == 0:
			if i > 5 {
				return protocol.ProbeYes
			}
			return protocol.ProbeNo
		case c < 0x20 || c > 0x7e || i > 5+64:
			return protocol.ProbeNo
		}
	}
	return protocol.ProbeNeedMore
}
