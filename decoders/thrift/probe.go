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

// binaryCall checks version, message type (a call or a one-way call:
// a connection starts with a request) and method name of a strict binary
// message header.
func binaryCall(b []byte) protocol.ProbeResult {
	return strictMsgHeader(b, func(t byte) bool { return t == mCall || t == mOneway })
}
