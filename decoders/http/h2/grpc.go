package h2

import "encoding/binary"

// grpcReader counts the length-prefixed messages of one direction of a
// gRPC stream (gRPC over HTTP/2: Length-Prefixed-Message = 1 byte
// compressed flag, 4 bytes big-endian length, the message). It reads the
// five-byte prefixes and skips the messages: nothing is buffered, so a
// message may span any number of DATA frames.
type grpcReader struct {
	hdr        [5]byte
	have       int    // prefix bytes collected
	left       uint32 // message bytes still to skip
	messages   int
	compressed int
}

func (g *grpcReader) feed(b []byte) {
	for len(b) > 0 {
		if g.left > 0 {
			n := min(uint32(len(b)), g.left)
			g.left -= n
			b = b[n:]
			continue
		}
		n := copy(g.hdr[g.have:], b)
		g.have += n
		b = b[n:]
		if g.have < len(g.hdr) {
			return
		}
		g.have = 0
		g.messages++
		if g.hdr[0]&1 != 0 {
			g.compressed++
		}
		g.left = binary.BigEndian.Uint32(g.hdr[1:])
	}
}

// partial reports a message prefix or body that did not complete.
func (g *grpcReader) partial() bool { return g.have > 0 || g.left > 0 }
