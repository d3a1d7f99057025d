package cassandra

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises the first request of a CQL native protocol connection
// (v3 to v5 frame header, or DataStax's 0x41/0x42 that drivers try first): version with the response bit clear, known flag
// bits only, and opcode STARTUP or OPTIONS (drivers open with one of them),
// with a body length under 256 MiB.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) > 0 && (data[0] < 3 || data[0] > 5) && data[0] != 0x41 && data[0] != 0x42 {
		return protocol.ProbeNo
	}
	if len(data) > 1 && data[1]&0xe0 != 0 {
		return protocol.ProbeNo
	}
	if len(data) > 4 && data[4] != 0x01 && data[4] != 0x05 {
		return protocol.ProbeNo
	}
	if len(data) < 9 {
		return protocol.ProbeNeedMore
	}
	if l := binary.BigEndian.Uint32(data[5:]); l > 256<<20 || data[4] == 0x05 && l != 0 {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

// resyncProbe recognises a frame header in the middle of a connection, for
// protocol.Resync after lost framing: a v3+ header (v1/v2 headers are a
// byte shorter and weaker) with the direction bit, known flags and opcode,
// and a body under 16 MiB. Responses carry their request's stream id, so
// pairing stays exact after a resynchronisation.
func resyncProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	h, ok, err := parseHeader(data, uint8(dir))
	switch {
	case err != nil:
		return protocol.ProbeNo
	case !ok:
		return protocol.ProbeNeedMore
	case h.size != 9 || h.length > 16<<20:
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}
