package tcp

import "math/bits"

// bufPool recycles the byte slices that hold out-of-order segments. The
// assembler runs on one goroutine, so plain free lists per power-of-two
// size class do (sync.Pool would box the slice headers on Put).
type bufPool struct {
	free [poolClasses][][]byte
}

const (
	poolMinShift  = 9  // 512 bytes
	poolClasses   = 9  // up to 128 KiB, covers loopback's 64 KiB segments
	poolKeepCount = 64 // idle buffers kept per class
)

func sizeClass(n int) int {
	if n <= 1<<poolMinShift {
		return 0
	}
	return bits.Len(uint(n-1)) - poolMinShift
}

// get returns a slice of length n.
func (p *bufPool) get(n int) []byte {
	c := sizeClass(n)
	if c >= poolClasses {
		return make([]byte, n)
	}
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		return b[:n]
	}
	return make([]byte, n, 1<<(c+poolMinShift))
}

func (p *bufPool) put(b []byte) {
	c := sizeClass(cap(b))
	if c >= poolClasses || cap(b) != 1<<(c+poolMinShift) || len(p.free[c]) >= poolKeepCount {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
}
