package mongodb

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises a client request's message header: little-endian
// messageLength (within MongoDB's 48 MB bound), requestID, responseTo 0 and
// an opCode of a request (OP_MSG, OP_QUERY, OP_COMPRESSED and the legacy
// ones), then for OP_MSG a flag word with no unknown required bits and a
// section kind 0 or 1.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) >= 4 {
		// Refuse early: a protocol whose first message is shorter than a
		// MongoDB header must not wait for 16 bytes that never come.
		if l := binary.LittleEndian.Uint32(data); l < 21 || l > 48000000 {
			return protocol.ProbeNo
		}
	}
	if len(data) < 16 {
		return protocol.ProbeNeedMore
	}
	l := binary.LittleEndian.Uint32(data)
	if l < 21 || l > 48000000 || binary.LittleEndian.Uint32(data[8:]) != 0 {
		return protocol.ProbeNo
	}
	switch op := binary.LittleEndian.Uint32(data[12:]); op {
	case 2013: // OP_MSG
		if len(data) < 21 {
			return protocol.ProbeNeedMore
		}
		flags := binary.LittleEndian.Uint32(data[16:])
		if flags&0xfffc&^(1<<16) != 0 || data[20] > 1 {
			return protocol.ProbeNo
		}
		return protocol.ProbeYes
	case 2004, 2012, 2001, 2002, 2005, 2006, 2007, 2010:
		return protocol.ProbeYes
	}
	return protocol.ProbeNo
}

// resyncProbe recognises a message header in the middle of a connection,
// for protocol.Resync after lost framing: a request as probe does, or
// from the server a reply (responseTo set, OP_MSG or the legacy
// OP_REPLY) with the same length bound and OP_MSG checks. Replies name
// the request they answer, so pairing stays exact after a
// resynchronisation.
func resyncProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromClient {
		return probe(dir, data)
	}
	if len(data) >= 4 {
		if l := binary.LittleEndian.Uint32(data); l < 21 || l > 48000000 {
			return protocol.ProbeNo
		}
	}
	if len(data) < 16 {
		return protocol.ProbeNeedMore
	}
	if binary.LittleEndian.Uint32(data[8:]) == 0 {
		return protocol.ProbeNo
	}
	switch op := binary.LittleEndian.Uint32(data[12:]); op {
	case 2013: // OP_MSG
		if len(data) < 21 {
			return protocol.ProbeNeedMore
		}
		flags := binary.LittleEndian.Uint32(data[16:])
		if flags&0xfffc&^(1<<16) != 0 || data[20] > 1 {
			return protocol.ProbeNo
		}
		return protocol.ProbeYes
	case 1: // OP_REPLY
		return protocol.ProbeYes
	}
	return protocol.ProbeNo
}
