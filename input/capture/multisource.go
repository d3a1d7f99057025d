package capture

// Several interfaces in one capture (`device: [eth0, eth1]`, `device:
// "veth*"` with `exclude_devices`). Each interface is its own Source (pcap or
// af_packet, waited for when it disappears, as a single named device is),
// read by its own goroutine, which owns that handle: it reads, copies frames
// into batches (256 frames or 256 KiB, or 10 ms of packet time) and sets
// each frame's CaptureInfo.InterfaceIndex to its interface's number (1 for
// the first). multiSource merges the batches into one Source for the decode
// path as it is: the read loop with one worker, the dispatcher and shards
// with more. Nothing is shared on the per-packet path: a reader touches only
// its batch, and the merge hands whole batches over a channel.
//
// The link decoder copies the number into link.Packet.Iface, which is part of
// every connection, flow and fragment key (link.Packet.Segment): the same
// 5-tuple on two interfaces is two connections and two flows (a mirrored
// packet would otherwise count twice in one flow, or look like a
// retransmission). Every event carries observer.ingress.interface.name.
//
// The set is resolved when the capture opens (and at each rebuild of the
// capture); interfaces that appear later and match a pattern are not
// followed: a restart or a policy change picks them up. An interface of the
// set that disappears is waited for, the others keep capturing.

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// ifaceNames are the names of a capture's interfaces by frame number
// (link.Packet.Iface): [0] the one interface of a single-interface capture,
// [i] the i-th of several. Publishers read them per event (one atomic
// load); a capture that follows the default route renames its entry when it
// moves.
type ifaceNames struct {
	mu sync.Mutex // serialises writers
	p  atomic.Pointer[[]string]
}

func newIfaceNames(names []string) *ifaceNames {
	n := &ifaceNames{}
	n.p.Store(&names)
	return n
}

func (n *ifaceNames) name(i uint16) string {
	if n == nil {
		return ""
	}
	names := *n.p.Load()
	if int(i) < len(names) {
		return names[i]
	}
	return ""
}

func (n *ifaceNames) set(i int, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := *n.p.Load()
	names := append([]string(nil), old...)
	if i < len(names) {
		names[i] = name
	}
	n.p.Store(&names)
}

// namer is a source that knows the names of its interfaces.
type namer interface {
	interfaceNames() *ifaceNames
}

func namesOf(src Source) *ifaceNames {
	if n, ok := src.(namer); ok {
		return n.interfaceNames()
	}
	return nil
}

// multiInterface reports a source whose frames carry their interface number.
func multiInterface(src Source) bool {
	_, ok := src.(*multiSource)
	return ok
}

// ringsReporter is a source of several kernel rings (one per interface).
type ringsReporter interface {
	Rings() []RingInfo
}

// ringsOf describes every kernel ring of a source.
func ringsOf(src Source) []RingInfo {
	switch s := src.(type) {
	case ringsReporter:
		return s.Rings()
	case ringReporter:
		if ri := s.Ring(); ri != nil {
			return []RingInfo{*ri}
		}
	}
	return nil
}

const multiQueue = 4 // batches queued per interface

type multiSource struct {
	readers []*ifaceReader
	names   *ifaceNames
	lt      layers.LinkType
	out     chan *mergeBatch
	stop    chan struct{}
	wg      sync.WaitGroup
	start   sync.Once
	started bool
	closed  sync.Once
	timer   *time.Timer

	// The consumer's side (the capture goroutine or the dispatcher).
	cur   *mergeBatch
	pos   int
	ended int
	errs  []error
}

type mergeBatch struct {
	*shardBatch
	from *ifaceReader
}

// ifaceReader is one interface's capture and the goroutine reading it.
type ifaceReader struct {
	idx  int // frame number - 1
	dev  string
	src  Source
	free chan *mergeBatch
	req  chan sourceRequest
	done atomic.Bool // the reader ended (its source failed)

	packets, bytes atomic.Uint64
	stats          atomic.Pointer[readerStats]
}

type readerStats struct {
	recv, drop, ifDrop uint64
	ok                 bool
	rings              []RingInfo
	endErr             string
}

// sourceRequest runs fn on the reader's goroutine, which owns the handle.
type sourceRequest struct {
	fn  func(Source) error
	err chan error
}

// newMultiSource opens every interface of devs with open; a failure closes
// the ones opened and names the interface.
func newMultiSource(devs []string, open func(idx int, dev string, names *ifaceNames) (Source, error)) (*multiSource, error) {
	names := make([]string, len(devs)+1)
	copy(names[1:], devs)
	m := &multiSource{names: newIfaceNames(names), stop: make(chan struct{}),
		out: make(chan *mergeBatch, multiQueue*len(devs))}
	for i, dev := range devs {
		src, err := open(i+1, dev, m.names)
		if err != nil {
			for _, r := range m.readers {
				r.src.Close()
			}
			return nil, err
		}
		lt := src.LinkType()
		if i == 0 {
			m.lt = lt
		} else if lt != m.lt {
			src.Close()
			for _, r := range m.readers {
				r.src.Close()
			}
			return nil, fmt.Errorf("interface %s has link type %s and %s has %s: one capture decodes one link type; put them in separate streams", dev, lt, devs[0], m.lt)
		}
		r := &ifaceReader{idx: i, dev: dev, src: src, free: make(chan *mergeBatch, multiQueue+2), req: make(chan sourceRequest)}
		r.publish()
		m.readers = append(m.readers, r)
	}
	return m, nil
}

func (m *multiSource) interfaceNames() *ifaceNames { return m.names }

func (m *multiSource) LinkType() layers.LinkType { return m.lt }

// Next returns the frames of the next batch any interface handed over;
// ErrTimeout after a read timeout with none.
func (m *multiSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	m.start.Do(m.run)
	if m.timer == nil {
		return nil, gopacket.CaptureInfo{}, io.EOF // closed before it ran
	}
	for {
		if b := m.cur; b != nil {
			if m.pos < len(b.items) {
				it := &b.items[m.pos]
				m.pos++
				return b.data[it.start:it.end:it.end], it.ci, nil
			}
			if b.err != nil {
				m.ended++
				if !errors.Is(b.err, io.EOF) {
					m.errs = append(m.errs, b.err)
				}
			}
			select {
			case b.from.free <- b:
			default:
			}
			m.cur = nil
			if m.ended == len(m.readers) {
				if len(m.errs) == 0 {
					return nil, gopacket.CaptureInfo{}, io.EOF
				}
				return nil, gopacket.CaptureInfo{}, errors.Join(m.errs...)
			}
		}
		m.timer.Reset(liveTimeout)
		select {
		case b := <-m.out:
			m.cur, m.pos = b, 0
		case <-m.timer.C:
			return nil, gopacket.CaptureInfo{}, ErrTimeout
		}
	}
}

// run starts the readers (on the first Next, so that a capture built and
// dropped before it ran never starts them).
func (m *multiSource) run() {
	m.started = true
	m.timer = time.NewTimer(liveTimeout)
	for _, r := range m.readers {
		m.wg.Add(1)
		go r.run(m)
	}
}

func (r *ifaceReader) publish() {
	s := &readerStats{}
	s.recv, s.drop, s.ifDrop, s.ok = r.src.PcapStats()
	s.rings = ringsOf(r.src)
	if old := r.stats.Load(); old != nil {
		s.endErr = old.endErr
	}
	r.stats.Store(s)
}

func (r *ifaceReader) run(m *multiSource) {
	defer m.wg.Done()
	defer r.src.Close()
	b := r.batch()
	var first time.Time
	var bytes uint64
	// send hands b to the merge, serving requests while it waits; it
	// returns the next batch to fill, or nil when the source is closing.
	send := func() bool {
		r.packets.Add(uint64(b.packets))
		r.bytes.Add(bytes)
		bytes = 0
		for {
			select {
			case m.out <- b:
				b = r.batch()
				return true
			case req := <-r.req:
				req.err <- req.fn(r.src)
			case <-m.stop:
				return false
			}
		}
	}
	for n := uint64(0); ; n++ {
		if n&4095 == 0 {
			r.publish()
		}
		select {
		case <-m.stop:
			return
		case req := <-r.req:
			req.err <- req.fn(r.src)
		default:
		}
		data, ci, err := r.src.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				r.publish()
				if len(b.items) > 0 && !send() {
					return
				}
				continue
			}
			// This interface's capture ended; the others go on.
			r.publish()
			st := *r.stats.Load()
			st.endErr = fmt.Sprintf("capture on interface %s ended: %v", r.dev, err)
			r.stats.Store(&st)
			r.done.Store(true)
			b.err = fmt.Errorf("interface %s: %w", r.dev, err)
			send()
			return
		}
		ci.InterfaceIndex = r.idx + 1
		ci.AncillaryData = nil
		if len(b.items) == 0 {
			first = ci.Timestamp
		}
		start := len(b.data)
		b.data = append(b.data, data...)
		b.items = append(b.items, shardItem{kind: itemPacket, start: start, end: len(b.data), ci: ci})
		b.packets++
		bytes += uint64(ci.Length)
		if len(b.items) >= shardBatchPackets || len(b.data) >= shardBatchBytes || ci.Timestamp.Sub(first) >= shardFlushEvery {
			if !send() {
				return
			}
		}
	}
}

func (r *ifaceReader) batch() *mergeBatch {
	select {
	case b := <-r.free:
		b.data, b.items, b.packets, b.err = b.data[:0], b.items[:0], 0, nil
		return b
	default:
		return &mergeBatch{shardBatch: newShardBatch(), from: r}
	}
}

// each runs fn on every interface's source: on the reader goroutines once
// they run, directly before. Every interface is tried; the errors are
// joined.
func (m *multiSource) each(fn func(Source) error) error {
	var errs []error
	for _, r := range m.readers {
		var err error
		if !m.started || r.done.Load() {
			if !r.done.Load() {
				err = fn(r.src)
			}
		} else {
			req := sourceRequest{fn: fn, err: make(chan error, 1)}
			select {
			case r.req <- req:
				err = <-req.err
			case <-m.stop:
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetFilter changes the BPF filter of every interface.
func (m *multiSource) SetFilter(f string) error {
	return m.each(func(s Source) error {
		if fs, ok := s.(interface{ SetFilter(string) error }); ok {
			return fs.SetFilter(f)
		}
		return nil
	})
}

// PcapStats sums the kernel counters of every interface.
func (m *multiSource) PcapStats() (recv, drop, ifDrop uint64, ok bool) {
	for _, r := range m.readers {
		if s := r.stats.Load(); s != nil && s.ok {
			recv, drop, ifDrop, ok = recv+s.recv, drop+s.drop, ifDrop+s.ifDrop, true
		}
	}
	return recv, drop, ifDrop, ok
}

// Rings describes each interface's ring with its own counters: frames and
// bytes read from it, what its kernel socket received and dropped, and why
// it waits (down, disappeared, ended).
func (m *multiSource) Rings() []RingInfo {
	out := make([]RingInfo, 0, len(m.readers))
	for _, r := range m.readers {
		ri := RingInfo{Device: r.dev}
		s := r.stats.Load()
		if s != nil && len(s.rings) > 0 {
			ri = s.rings[0]
		}
		if ri.Device == "" {
			ri.Device = r.dev
		}
		ri.Packets, ri.Bytes = r.packets.Load(), r.bytes.Load()
		if s != nil {
			ri.KernelReceived, ri.KernelDropped = s.recv, s.drop+s.ifDrop
			if s.endErr != "" {
				ri.State = s.endErr
			}
		}
		out = append(out, ri)
	}
	return out
}

// Close stops the readers and waits for them to close their handles.
func (m *multiSource) Close() {
	m.closed.Do(func() {
		close(m.stop)
		if !m.started {
			m.started = true
			m.start.Do(func() {}) // a later Next must not start readers
			for _, r := range m.readers {
				r.src.Close()
			}
			return
		}
		m.wg.Wait()
	})
}
