package nfs

import (
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// probe recognises an ONC-RPC call to the NFS program in TCP record
// marking: a fragment header (last-fragment bit, length), then xid,
// msg_type CALL, rpcvers 2, program 100003 and NFS version 3 or 4. Each
// word is checked as soon as it is there, so a shorter message of another
// protocol is refused without waiting for 24 bytes.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) > 0 && data[0]&0x7f != 0 { // fragments over 16 MiB: not a call
		return protocol.ProbeNo
	}
	word := func(i int) (uint32, bool) {
		if len(data) < 4*i+4 {
			return 0, false
		}
		return binary.BigEndian.Uint32(data[4*i:]), true
	}
	if w, ok := word(0); ok && (w&0x7fffffff < 40 || w&0x7fffffff > 2<<20) {
		return protocol.ProbeNo
	}
	if w, ok := word(2); ok && w != 0 { // msg_type CALL
		return protocol.ProbeNo
	}
	if w, ok := word(3); ok && w != 2 { // rpcvers
		return protocol.ProbeNo
	}
	if w, ok := word(4); ok && w != 100003 { // program NFS
		return protocol.ProbeNo
	}
	w, ok := word(5)
	if !ok {
		return protocol.ProbeNeedMore
	}
	if w != 3 && w != 4 {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}
