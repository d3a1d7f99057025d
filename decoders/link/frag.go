package link

import (
	"net/netip"
	"time"
)

// fragKey identifies a datagram being reassembled (RFC 791 / RFC 8200).
type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8 // IPv4 only; IPv6 carries it in each fragment header
	v6       bool
	// seg is the tunnel segment of the fragment's IP header
	// (ecsmap.Tunnel.Segment, which includes the depth), so that an outer
	// and an inner datagram, or datagrams of two overlays, between the same
	// addresses never mix.
	seg uint64
}

type span struct{ lo, hi int }

// fragDatagram accumulates the fragments of one datagram.
type fragDatagram struct {
	key    fragKey
	buf    []byte // payload bytes at their offsets; len = highest end seen
	have   []span // received ranges, sorted and merged
	total  int    // payload length once the last fragment arrived, else -1
	next   uint8  // IPv6: next header from the offset-0 fragment
	start  time.Time
	nfrags int
	// Arrival-ordered list, oldest first: timeouts and evictions both take
	// from the front.
	prev, nextD *fragDatagram
}

// fragTable is the bounded reassembly state of one Decoder.
type fragTable struct {
	opts   *Options
	stats  *Stats
	m      map[fragKey]*fragDatagram
	oldest *fragDatagram
	newest *fragDatagram
	bytes  int
	free   []*fragDatagram
	// done holds the datagrams completed during this Decode (one per
	// tunnel level at most): the Packet points into their buffers, so they
	// are recycled at the next Decode, not before.
	done []*fragDatagram
}

// Recycled datagrams keep their buffers; keep only a few to bound idle memory.
const maxFreeDatagrams = 16

func (t *fragTable) init(o *Options, s *Stats) {
	t.opts, t.stats = o, s
	t.m = make(map[fragKey]*fragDatagram)
	t.done = make([]*fragDatagram, 0, 8)
}

func (t *fragTable) releaseDone() {
	for _, dg := range t.done {
		t.recycle(dg)
	}
	t.done = t.done[:0]
}

// add stores one fragment. When it completes the datagram it returns the
// reassembled payload (valid until the next Decode), the IPv6 next header of
// the first fragment, and true.
func (t *fragTable) add(k fragKey, off int, more bool, data []byte, next uint8, now time.Time) ([]byte, uint8, bool) {
	t.expire(now)
	end := off + len(data)
	dg := t.m[k]
	if dg == nil {
		for len(t.m) >= t.opts.MaxFragDatagrams {
			t.drop(t.oldest)
		}
		dg = t.get()
		dg.key, dg.start = k, now
		t.m[k] = dg
		t.pushBack(dg)
		t.stats.FragmentsPending = uint64(len(t.m))
	}
	dg.nfrags++

	// A second "last" fragment that disagrees, or data past the end, means
	// the datagram cannot be rebuilt consistently.
	if (!more && dg.total >= 0 && dg.total != end) || (dg.total >= 0 && end > dg.total) ||
		(!more && end < len(dg.buf)) {
		t.drop(dg)
		return nil, 0, false
	}
	if !more {
		dg.total = end
	}
	if off == 0 {
		dg.next = next
	}
	if grow := end - len(dg.buf); grow > 0 {
		for t.bytes+grow > t.opts.MaxFragBytes && t.oldest != dg {
			t.drop(t.oldest)
		}
		if t.bytes+grow > t.opts.MaxFragBytes {
			t.drop(dg) // alone it is still too big
			return nil, 0, false
		}
		dg.buf = append(dg.buf, make([]byte, grow)...)
		t.bytes += grow
	}
	copy(dg.buf[off:end], data)
	dg.addSpan(off, end)

	if dg.total < 0 || len(dg.have) != 1 || dg.have[0] != (span{0, dg.total}) {
		return nil, 0, false
	}
	// Complete: out of the table, but keep the buffer alive until the next
	// Decode since the caller's Packet points into it.
	t.unlink(dg)
	t.stats.FragmentsReassembled++
	t.done = append(t.done, dg)
	return dg.buf, dg.next, true
}

func (dg *fragDatagram) addSpan(lo, hi int) {
	if lo == hi {
		return
	}
	// Insert keeping order by lo, then merge overlapping/adjacent ranges.
	i := 0
	for i < len(dg.have) && dg.have[i].lo < lo {
		i++
	}
	dg.have = append(dg.have, span{})
	copy(dg.have[i+1:], dg.have[i:])
	dg.have[i] = span{lo, hi}
	out := dg.have[:1]
	for _, s := range dg.have[1:] {
		last := &out[len(out)-1]
		if s.lo <= last.hi {
			last.hi = max(last.hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	dg.have = out
}

func (t *fragTable) expire(now time.Time) {
	for t.oldest != nil && now.Sub(t.oldest.start) > t.opts.FragTimeout {
		t.drop(t.oldest)
	}
}

func (t *fragTable) drop(dg *fragDatagram) {
	t.stats.FragmentsDropped += uint64(dg.nfrags)
	t.unlink(dg)
	t.recycle(dg)
}

func (t *fragTable) unlink(dg *fragDatagram) {
	delete(t.m, dg.key)
	t.bytes -= len(dg.buf)
	if dg.prev != nil {
		dg.prev.nextD = dg.nextD
	} else {
		t.oldest = dg.nextD
	}
	if dg.nextD != nil {
		dg.nextD.prev = dg.prev
	} else {
		t.newest = dg.prev
	}
	dg.prev, dg.nextD = nil, nil
	t.stats.FragmentsPending = uint64(len(t.m))
}

func (t *fragTable) pushBack(dg *fragDatagram) {
	dg.prev = t.newest
	if t.newest != nil {
		t.newest.nextD = dg
	} else {
		t.oldest = dg
	}
	t.newest = dg
}

func (t *fragTable) get() *fragDatagram {
	if n := len(t.free); n > 0 {
		dg := t.free[n-1]
		t.free = t.free[:n-1]
		return dg
	}
	return &fragDatagram{total: -1, have: make([]span, 0, 8)}
}

func (t *fragTable) recycle(dg *fragDatagram) {
	if len(t.free) >= maxFreeDatagrams {
		return
	}
	*dg = fragDatagram{buf: dg.buf[:0], have: dg.have[:0], total: -1}
	t.free = append(t.free, dg)
}
