package memcache

import (
	"bytes"
	"encoding/binary"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

var probeCommands = []string{"get", "gets", "gat", "gats", "set", "add", "replace", "append",
	"prepend", "cas", "delete", "incr", "decr", "touch", "stats", "flush_all", "version",
	"verbosity", "quit", "mn", "mg", "ms", "md", "ma", "me"}

// probe recognises a client's first memcache command: a binary request
// header (magic 0x80, data type 0, a body at least as long as key and
// extras) or a text command line: a known command word, then a space or
// the line end.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer || len(data) == 0 {
		if dir == protocol.FromServer {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	if data[0] == 0x80 {
		// Header fields are checked as they arrive: a shorter message of
		// another protocol with the same first byte (Thrift's 0x80 0x01) is
		// refused without waiting for 24 bytes.
		want, known := 0, true
		if len(data) > 1 {
			want, known = binaryExtras(data[1])
		}
		switch {
		case !known, len(data) > 2 && data[2] != 0, // keys are at most 250 bytes
			len(data) > 4 && want >= 0 && int(data[4]) != want,
			len(data) > 5 && data[5] != 0:
			return protocol.ProbeNo
		case len(data) < 24:
			return protocol.ProbeNeedMore
		}
		keyLen := int(binary.BigEndian.Uint16(data[2:]))
		body := binary.BigEndian.Uint32(data[8:])
		if keyLen > 250 || uint64(keyLen+int(data[4])) > uint64(body) || body > 1<<20+250 {
			return protocol.ProbeNo
		}
		return protocol.ProbeYes
	}
	// Command words are at most 9 bytes: look for their end only there,
	// so the probe asked at every line of a value (resynchronisation)
	// costs a few bytes per line.
	end := bytes.IndexAny(data[:min(len(data), len("flush_all")+1)], " \r\n")
	if end < 0 {
		if len(data) < len("verbosity") && commandPrefix(data) {
			return protocol.ProbeNeedMore
		}
		return protocol.ProbeNo
	}
	for _, c := range probeCommands {
		if string(data[:end]) == c {
			return protocol.ProbeYes
		}
	}
	return protocol.ProbeNo
}

func commandPrefix(b []byte) bool {
	for _, c := range probeCommands {
		if len(b) <= len(c) && c[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

// binaryExtras is the extras length a binary request with opcode op
// carries (-1: varies), and whether op is a known request.
func binaryExtras(op byte) (int, bool) {
	switch op {
	case 0x00, 0x04, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x14, 0x17, 0x19, 0x1a, 0x20, 0x21, 0x22:
		return 0, true // get, delete, quit, getq, noop, version, getk, getkq, append(q), prepend(q), stat, deleteq, quitq, sasl
	case 0x01, 0x02, 0x03, 0x11, 0x12, 0x13:
		return 8, true // set, add, replace and their quiet forms: flags, expiry
	case 0x05, 0x06, 0x15, 0x16:
		return 20, true // incr, decr (quiet): delta, initial, expiry
	case 0x08, 0x18:
		return -1, true // flush: optional expiry
	case 0x1c, 0x1d, 0x1e:
		return 4, true // touch, gat, gatq: expiry
	}
	return 0, false
}
