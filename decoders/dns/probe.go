package dns

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises a DNS query over TCP: a 2-byte length that covers at
// least a header and a question, then a header with QR clear, a standard
// opcode (QUERY, NOTIFY, UPDATE), one question, no answers, and a first
// label of 0 to 63 bytes.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) < 15 {
		if len(data) >= 2 && binary.BigEndian.Uint16(data) < 17 {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	h := data[2:]
	l := binary.BigEndian.Uint16(data)
	flags := binary.BigEndian.Uint16(h[2:])
	op := flags >> 11 & 0xf
	qd, an, ns, ar := binary.BigEndian.Uint16(h[4:]), binary.BigEndian.Uint16(h[6:]), binary.BigEndian.Uint16(h[8:]), binary.BigEndian.Uint16(h[10:])
	switch {
	case l < 17, flags&0x8000 != 0, op != 0 && op != 4 && op != 5, flags&0x0040 != 0, flags&0xf != 0:
		return protocol.ProbeNo
	case qd != 1 || an > 1 || ns > 16 || ar > 4 || h[12] > 63:
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

// resyncProbe recognises a DNS-over-TCP message in the middle of a
// connection, for protocol.Resync after a gap: a length of at least a
// header and a question, a header with QR set for the direction (queries
// from the client, responses from the server), opcode QUERY, NOTIFY or
// UPDATE, the Z bit clear and one question; a message that fits the probe
// window must also parse whole (Check). Responses are paired by id, so a
// resynchronised direction does not pair a response with the wrong query.
func resyncProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if len(data) >= 2 && binary.BigEndian.Uint16(data) < 17 {
		return protocol.ProbeNo
	}
	if len(data) < 14 {
		return protocol.ProbeNeedMore
	}
	l := int(binary.BigEndian.Uint16(data))
	h := data[2:]
	flags := binary.BigEndian.Uint16(h[2:])
	op := flags >> 11 & 0xf
	if (flags&0x8000 != 0) != (dir == protocol.FromServer) || op != 0 && op != 4 && op != 5 ||
		flags&0x0040 != 0 || binary.BigEndian.Uint16(h[4:]) != 1 {
		return protocol.ProbeNo
	}
	if 2+l > protocol.MaxProbeBytes {
		return protocol.ProbeYes
	}
	if len(data) < 2+l {
		return protocol.ProbeNeedMore
	}
	if _, err := Check(data[2 : 2+l]); err != nil {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}
