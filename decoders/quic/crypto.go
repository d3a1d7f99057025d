package quic

import "errors"

// Bounds of the CRYPTO reassembly per direction. A ClientHello with a
// post-quantum key share is about 1.8 KB; 32 KB leaves room for many
// extensions while a flood of fake Initials cannot pin much memory.
const (
	maxCryptoLen   = 32 << 10
	maxCryptoSpans = 16
	// maxCryptoTotal bounds the reassembly buffers of all connections
	// together: max_connections streams each at maxCryptoLen would be
	// half a gigabyte, and anyone can make Initials that decrypt.
	maxCryptoTotal = 32 << 20
)

var (
	errCryptoBound = errors.New("CRYPTO data beyond the reassembly bounds")
	errHelloType   = errors.New("first handshake message is not the expected hello")
)

type span struct{ start, end int }

// cryptoStream reassembles one direction's Initial CRYPTO frames, which
// may arrive split over packets, out of order or repeated, until its first
// handshake message (the hello) is whole.
type cryptoStream struct {
	budget  *int // the protocol's bytes left for buffers; nil: no bound
	charged int  // what buf took from it
	buf     []byte
	spans   []span // received ranges, sorted and merged (in arr)
	arr     [maxCryptoSpans + 1]span
	done    bool // the hello is out (or the stream failed): ignore the rest
}

// add stores a frame's data at off. It returns the hello message body
// (without the 4-byte header) once it is complete, and an error when the
// stream passes its bounds or does not start with wantType.
func (s *cryptoStream) add(off uint64, data []byte, wantType byte) ([]byte, error) {
	if s.done || len(data) == 0 {
		return nil, nil
	}
	if off > maxCryptoLen || off+uint64(len(data)) > maxCryptoLen {
		s.fail()
		return nil, errCryptoBound
	}
	start, end := int(off), int(off)+len(data)
	if end > len(s.buf) {
		if end > cap(s.buf) {
			c := 2 * cap(s.buf)
			if c < 2048 {
				c = 2048
			}
			for c < end {
				c *= 2
			}
			if c > maxCryptoLen {
				c = maxCryptoLen
			}
			if s.budget != nil {
				if c-cap(s.buf) > *s.budget {
					s.fail()
					return nil, errCryptoBound
				}
				*s.budget -= c - cap(s.buf)
				s.charged += c - cap(s.buf)
			}
			nb := make([]byte, len(s.buf), c)
			copy(nb, s.buf)
			s.buf = nb
		}
		s.buf = s.buf[:end]
	}
	copy(s.buf[start:end], data)
	if !s.insert(span{start, end}) {
		s.fail()
		return nil, errCryptoBound
	}
	first := s.spans[0]
	if first.start != 0 || first.end < 4 {
		return nil, nil
	}
	if s.buf[0] != wantType {
		s.fail()
		return nil, errHelloType
	}
	need := 4 + (int(s.buf[1])<<16 | int(s.buf[2])<<8 | int(s.buf[3]))
	if need > maxCryptoLen {
		s.fail()
		return nil, errCryptoBound
	}
	if first.end < need {
		return nil, nil
	}
	body := make([]byte, need-4)
	copy(body, s.buf[4:need])
	s.fail() // done: release the buffer
	return body, nil
}

// insert merges r into the sorted span list; false when the list would
// pass maxCryptoSpans (holes everywhere: not a real handshake). It works
// in the stream's fixed array: no allocation per frame.
func (s *cryptoStream) insert(r span) bool {
	var out [maxCryptoSpans + 1]span
	n := 0
	placed := false
	for _, x := range s.spans {
		switch {
		case x.end < r.start:
		case r.end < x.start:
			if !placed {
				out[n], n, placed = r, n+1, true
			}
		default: // overlap or touch: r absorbs x
			r.start, r.end = min(r.start, x.start), max(r.end, x.end)
			continue
		}
		if n == len(out) {
			return false
		}
		out[n], n = x, n+1
	}
	if !placed {
		if n == len(out) {
			return false
		}
		out[n], n = r, n+1
	}
	if n > maxCryptoSpans {
		return false
	}
	s.arr = out
	s.spans = s.arr[:n]
	return true
}

// pending reports data received but the hello not whole: a hole.
func (s *cryptoStream) pending() bool { return !s.done && len(s.spans) > 0 }

func (s *cryptoStream) fail() {
	s.done = true
	s.buf, s.spans = nil, nil
	if s.budget != nil {
		*s.budget += s.charged
	}
	s.charged = 0
}

// reset starts over (a new Initial after Retry or version negotiation
// sends the hello again from offset 0).
func (s *cryptoStream) reset() {
	s.fail()
	*s = cryptoStream{budget: s.budget}
}
