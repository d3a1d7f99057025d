package pgsql

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises the first client message of a PostgreSQL connection: a
// StartupMessage (protocol 3.0), an SSLRequest, a GSSENCRequest or a
// CancelRequest; each is an int32 length and an int32 code.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) >= 4 {
		if l := binary.BigEndian.Uint32(data); l < 8 || l > 10000 {
			return protocol.ProbeNo
		}
	} else if len(data) > 0 && data[0] != 0 {
		return protocol.ProbeNo
	}
	if len(data) < 8 {
		return protocol.ProbeNeedMore
	}
	l := binary.BigEndian.Uint32(data)
	switch code := binary.BigEndian.Uint32(data[4:]); {
	case code == 80877103 || code == 80877104: // SSLRequest, GSSENCRequest
		if l == 8 {
			return protocol.ProbeYes
		}
	case code == 80877102: // CancelRequest
		if l == 16 {
			return protocol.ProbeYes
		}
	case code == 3<<16: // StartupMessage 3.0: key/value strings follow
		if l > 8 {
			return protocol.ProbeYes
		}
	}
	return protocol.ProbeNo
}
