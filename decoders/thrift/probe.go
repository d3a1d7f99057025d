package thrift

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises a strict binary-protocol message (version 0x8001, type
// CALL or ONEWAY, a printable method name) from the client, either at the
// start of the stream (socket transport) or after a 4-byte frame length
// (framed transport).
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) > 0 && data[0] == 0x80 {
		return binaryCall(data)
	}
	if len(data) >= 4 {
		if l := binary.BigEndian.Uint32(data); l < 12 || l > 16<<20 {
			return protocol.ProbeNo
		}
		return binaryCall(data[4:])
	}
	if len(data) > 0 && data[0] != 0 {
		return protocol.ProbeNo
	}
	return protocol.ProbeNeedMore
}

// binaryCall checks version, message type and method name of a strict
// binary message header.
func binaryCall(b []byte) protocol.ProbeResult {
	if len(b) > 0 && b[0] != 0x80 || len(b) > 1 && b[1] != 0x01 || len(b) > 2 && b[2] != 0 {
		return protocol.ProbeNo
	}
	if len(b) > 3 && b[3] != 1 && b[3] != 4 {
		return protocol.ProbeNo
	}
	if len(b) < 8 {
		return protocol.ProbeNeedMore
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n == 0 || n > 256 {
		return protocol.ProbeNo
	}
	name := b[8:]
	if len(name) > int(n) {
		name = name[:n]
	}
	for _, c := range name {
		if c <= 0x20 || c > 0x7e {
			return protocol.ProbeNo
		}
	}
	if len(name) < int(n) {
		return protocol.ProbeNeedMore
	}
	return protocol.ProbeYes
}
