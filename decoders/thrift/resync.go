package thrift

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Message-start probes for protocol.Resync after lost framing: a strict
// binary header (version 0x8001, any message type, a printable method name
// of 1 to 256 bytes), preceded by a bounded frame length on framed
// transports. Unversioned (old-style) headers cannot be told from noise:
// those streams recover only where a strict message starts. Replies are
// paired by sequence id and name, so a resynchronised direction does not
// pair a reply with the wrong call.

// resyncSocket is the probe for the socket (unframed) transport.
func resyncSocket(_ protocol.Dir, b []byte) protocol.ProbeResult {
	return strictMsgHeader(b, anyMsgType)
}

// resyncFramed is the probe for the framed transport.
func resyncFramed(_ protocol.Dir, b []byte) protocol.ProbeResult {
	if len(b) > 0 && b[0] != 0 { // frames are under 16 MiB
		return protocol.ProbeNo
	}
	if len(b) < 4 {
		return protocol.ProbeNeedMore
	}
	if l := binary.BigEndian.Uint32(b); l < 12 || l > maxMessage {
		return protocol.ProbeNo
	}
	return strictMsgHeader(b[4:], anyMsgType)
}

// anyMsgType accepts call, reply, exception and one-way: after a gap
// either direction may resume.
func anyMsgType(t byte) bool { return t >= mCall && t <= mOneway }

// strictMsgHeader checks a strict binary message header: version 0x8001, a
// message type typeOK accepts, and a printable method name of 1 to 256
// bytes. The connection-start probe and the resync probes share it.
func strictMsgHeader(b []byte, typeOK func(byte) bool) protocol.ProbeResult {
	if len(b) > 0 && b[0] != 0x80 || len(b) > 1 && b[1] != 0x01 || len(b) > 2 && b[2] != 0 {
		return protocol.ProbeNo
	}
	if len(b) > 3 && !typeOK(b[3]) {
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
