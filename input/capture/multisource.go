package capture

// Several interfaces in one capture (`device: [eth0, eth1]`, `device:
// "veth*"` with `exclude_devices`). Each interface is its own Source (pcap or
// af_packet, waited for when it disappears, as a single named device is),
// read by its own goroutine, which owns that handle: it reads, copies frames
// into batches (128 frames or 64 KiB, or 10 ms of packet time) and sets
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
// A set with patterns follows the host: every poll_devices (default 2 s)
// the patterns are matched again, and an interface that appeared and
// matches (less exclude_devices) gets its capture and reader; one a pattern matched that
// disappears is let go (its counters stay in the totals) and taken again if
// it comes back. A set that matches nothing yet waits (its state says so,
// so the unit is DEGRADED) instead of failing. An interface given by name is
// waited for when it disappears, as a single named device is, while the
// others keep capturing. A set without patterns is fixed when the capture
// opens.

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/input/config"
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

// add appends a name and returns its frame number.
func (n *ifaceNames) add(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := append(append([]string(nil), *n.p.Load()...), name)
	n.p.Store(&names)
	return len(names) - 1
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

const (
	multiQueue = 4 // batches queued per interface
	// mergeFree is how many spent batches a reader keeps for reuse: enough
	// for the batches it can have in flight in the usual case (with fewer,
	// a fast reader allocated a batch every few hundred frames and the
	// collector took as much CPU as the copy).
	mergeFree = 32
	// A merge batch is at most mergeBatchFrames frames in mergeBatchBytes
	// (a frame that does not fit starts the next one; 64 KiB holds the
	// largest): small, so that the batches in flight stay in the caches
	// (with the shards' 256 KiB ones a burst cost twice as much per frame).
	mergeBatchFrames = 128
	mergeBatchBytes  = 64 << 10
)

// openFunc opens one interface of the set: idx is its frame number, names
// the set's names, wait says to wait for it when it disappears, filter the
// BPF filter in force.
type openFunc func(idx int, dev string, names *ifaceNames, wait bool, filter string) (Source, error)

type multiSource struct {
	iface   config.Interface
	open    openFunc
	follow  bool
	names   *ifaceNames
	lt      layers.LinkType
	out     chan *mergeBatch
	stop    chan struct{}
	wg      sync.WaitGroup
	start   sync.Once
	started atomic.Bool
	closed  sync.Once
	timer   *time.Timer

	// mu serialises changes of the set; readers is its current snapshot.
	mu      sync.Mutex
	readers atomic.Pointer[[]*ifaceReader]
	index   map[string]int    // interface -> frame number, kept when it leaves (under mu)
	skipped map[string]string // interfaces selected that cannot be captured: why (under mu)
	notes   atomic.Pointer[[]RingInfo]
	filter  atomic.Pointer[string]
	dirIn   atomic.Bool
	// departed holds the counters of interfaces that left the set.
	departed struct{ recv, drop, ifDrop, packets, bytes atomic.Uint64 }

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
	idx    int // frame number - 1
	dev    string
	named  bool // waited for when it disappears (else let go)
	src    Source
	free   chan *mergeBatch
	req    chan sourceRequest
	exited chan struct{} // closed when the reader stops serving requests

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

// newMultiSource opens every interface of set. An interface given by name
// that cannot be opened fails the capture, naming it; one a pattern
// matched is left out and tried again at the next look, said in the rings
// meanwhile (as for one that appears later), so that one odd interface of
// `*` or of `any` less exclusions does not stop the others. With follow the
// set changes with the host's interfaces; waitErr, for an empty set, says
// what it waits for.
func newMultiSource(iface config.Interface, set []setMember, filter string, follow bool, waitErr error, open openFunc) (*multiSource, error) {
	m := &multiSource{iface: iface, open: open, follow: follow, names: newIfaceNames([]string{""}),
		stop: make(chan struct{}), out: make(chan *mergeBatch, multiQueue*max(len(set), 2)),
		index: map[string]int{}, skipped: map[string]string{}, lt: layers.LinkTypeEthernet}
	m.filter.Store(&filter)
	m.readers.Store(&[]*ifaceReader{})
	var first string
	for _, mb := range set {
		src, err := m.openMember(mb)
		if err == nil {
			lt := src.LinkType()
			switch {
			case first == "":
				m.lt, first = lt, mb.dev
			case lt != m.lt && mb.named:
				src.Close()
				m.closeReaders()
				return nil, fmt.Errorf("interface %s has link type %s and %s has %s: one capture decodes one link type; put them in separate streams", mb.dev, lt, first, m.lt)
			case lt != m.lt:
				src.Close()
				err = fmt.Errorf("link type %s, not the capture's %s (of %s)", lt, m.lt, first)
			}
		}
		if err != nil {
			if mb.named || !follow {
				m.closeReaders()
				return nil, err
			}
			m.skipped[mb.dev] = m.skipMessage(mb.dev, err)
			continue
		}
		m.addReader(mb, src)
	}
	m.setNotes(waitErr, set)
	return m, nil
}

func (m *multiSource) skipMessage(dev string, err error) string {
	return fmt.Sprintf("interface %s matches device %s but cannot be captured: %v", dev, m.iface.Device, err)
}

// setNotes says in the rings what the set waits for (nothing captured
// yet: waitErr, or that nothing matches) and which matched interfaces
// cannot be captured (under mu once running).
func (m *multiSource) setNotes(waitErr error, matched []setMember) {
	var notes []RingInfo
	if len(*m.readers.Load()) == 0 {
		msg := fmt.Sprintf("device %s %v", m.iface.Device, errNoInterface)
		if waitErr != nil {
			msg = waitErr.Error()
		}
		notes = append(notes, RingInfo{Device: m.iface.Device, State: msg + ": waiting for one"})
	}
	for _, mb := range matched {
		if msg, ok := m.skipped[mb.dev]; ok {
			notes = append(notes, RingInfo{Device: mb.dev, State: msg})
		}
	}
	m.notes.Store(&notes)
}

func (m *multiSource) openMember(mb setMember) (Source, error) {
	idx, ok := m.index[mb.dev]
	if !ok {
		idx = m.names.add(mb.dev)
		m.index[mb.dev] = idx
	}
	return m.open(idx, mb.dev, m.names, mb.named, *m.filter.Load())
}

// addReader puts src in the set (under mu once running) and starts its
// reader when the capture runs.
func (m *multiSource) addReader(mb setMember, src Source) {
	r := &ifaceReader{idx: m.index[mb.dev] - 1, dev: mb.dev, named: mb.named, src: src,
		free: make(chan *mergeBatch, mergeFree), req: make(chan sourceRequest), exited: make(chan struct{})}
	r.publish()
	rs := append(append([]*ifaceReader(nil), *m.readers.Load()...), r)
	m.readers.Store(&rs)
	if m.started.Load() {
		m.wg.Add(1)
		go r.run(m)
	}
}

func (m *multiSource) closeReaders() {
	for _, r := range *m.readers.Load() {
		r.src.Close()
	}
}

// leave takes a reader whose interface disappeared out of the set, keeping
// its counters in the totals.
func (m *multiSource) leave(r *ifaceReader) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rs []*ifaceReader
	for _, x := range *m.readers.Load() {
		if x != r {
			rs = append(rs, x)
		}
	}
	m.readers.Store(&rs)
	if s := r.stats.Load(); s != nil && s.ok {
		m.departed.recv.Add(s.recv)
		m.departed.drop.Add(s.drop)
		m.departed.ifDrop.Add(s.ifDrop)
	}
	m.departed.packets.Add(r.packets.Load())
	m.departed.bytes.Add(r.bytes.Load())
}

// watch matches the patterns again every poll_devices.
func (m *multiSource) watch() {
	defer m.wg.Done()
	t := time.NewTicker(m.iface.PollDevicesEvery())
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.refresh()
	}
}

// refresh adds the interfaces the patterns match now and the set lacks.
func (m *multiSource) refresh() {
	m.mu.Lock()
	defer m.mu.Unlock()
	have := map[string]bool{}
	for _, r := range *m.readers.Load() {
		have[r.dev] = true
	}
	matched := patternMembers(m.iface)
	skipped := map[string]string{}
	for _, dev := range matched {
		if have[dev] {
			continue
		}
		src, err := m.openMember(setMember{dev: dev})
		if err == nil && src.LinkType() != m.lt {
			src.Close()
			err = fmt.Errorf("link type %s, not the capture's %s", src.LinkType(), m.lt)
		}
		if err == nil && m.dirIn.Load() {
			if err = SetDirectionIn(src); err != nil {
				src.Close()
			}
		}
		if err != nil {
			// Tried again at the next look; said in the rings meanwhile.
			skipped[dev] = m.skipMessage(dev, err)
			continue
		}
		m.addReader(setMember{dev: dev}, src)
	}
	m.skipped = skipped
	members := make([]setMember, len(matched))
	for i, dev := range matched {
		members[i] = setMember{dev: dev}
	}
	m.setNotes(nil, members)
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
			// A set that follows its patterns waits for interfaces to
			// come; a fixed one ends when every interface's capture did.
			if !m.follow && m.ended == len(*m.readers.Load()) {
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
// dropped before it ran never starts them) and, with patterns, the watcher.
func (m *multiSource) run() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started.Store(true)
	m.timer = time.NewTimer(liveTimeout)
	for _, r := range *m.readers.Load() {
		m.wg.Add(1)
		go r.run(m)
	}
	if m.follow {
		m.wg.Add(1)
		go m.watch()
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
	// send hands b to the merge, serving requests while it waits; false
	// when the source is closing.
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
		// Requests and the stop are also served by send, at least every
		// batch; a select on every frame would lock both channels per frame
		// (it doubled the cost of a frame).
		if n&255 == 0 {
			if n&4095 == 0 {
				r.publish()
			}
			select {
			case <-m.stop:
				close(r.exited)
				return
			case req := <-r.req:
				req.err <- req.fn(r.src)
			default:
			}
		}
		data, ci, err := r.src.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				r.publish()
				if len(b.items) > 0 && !send() {
					close(r.exited)
					return
				}
				// Idle: requests and the stop wait no longer than a
				// read timeout.
				select {
				case <-m.stop:
					close(r.exited)
					return
				case req := <-r.req:
					req.err <- req.fn(r.src)
				default:
				}
				continue
			}
			r.publish()
			if !r.named && errors.Is(err, errDisappeared) {
				// A pattern matched it: let it go (taken again if it
				// comes back), with what it read.
				if len(b.items) > 0 {
					send()
				}
				close(r.exited)
				m.leave(r)
				return
			}
			// This interface's capture ended; the others go on.
			st := *r.stats.Load()
			st.endErr = fmt.Sprintf("capture on interface %s ended: %v", r.dev, err)
			r.stats.Store(&st)
			close(r.exited)
			b.err = fmt.Errorf("interface %s: %w", r.dev, err)
			send()
			return
		}
		ci.InterfaceIndex = r.idx + 1
		ci.AncillaryData = nil
		if len(b.items) > 0 && len(b.data)+len(data) > cap(b.data) && !send() {
			close(r.exited)
			return
		}
		if len(b.items) == 0 {
			first = ci.Timestamp
		}
		start := len(b.data)
		b.data = append(b.data, data...)
		b.items = append(b.items, shardItem{kind: itemPacket, start: start, end: len(b.data), ci: ci})
		b.packets++
		bytes += uint64(ci.Length)
		if len(b.items) >= mergeBatchFrames || ci.Timestamp.Sub(first) >= shardFlushEvery {
			if !send() {
				close(r.exited)
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
		return &mergeBatch{from: r, shardBatch: &shardBatch{data: make([]byte, 0, mergeBatchBytes),
			items: make([]shardItem, 0, mergeBatchFrames)}}
	}
}

// each runs fn on every interface's source: on the reader goroutines once
// they run, directly before. Every interface is tried; the errors are
// joined.
func (m *multiSource) each(fn func(Source) error) error {
	var errs []error
	for _, r := range *m.readers.Load() {
		var err error
		if !m.started.Load() {
			err = fn(r.src)
		} else {
			req := sourceRequest{fn: fn, err: make(chan error, 1)}
			select {
			case r.req <- req:
				err = <-req.err
			case <-r.exited:
			case <-m.stop:
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetFilter changes the BPF filter of every interface (and of those a
// pattern adds later).
func (m *multiSource) SetFilter(f string) error {
	m.mu.Lock() // no interface joins between the two
	defer m.mu.Unlock()
	m.filter.Store(&f)
	return m.each(func(s Source) error {
		if fs, ok := s.(interface{ SetFilter(string) error }); ok {
			return fs.SetFilter(f)
		}
		return nil
	})
}

func (m *multiSource) setDirectionIn() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirIn.Store(true)
	return m.each(SetDirectionIn)
}

// PcapStats sums the kernel counters of every interface, those that left
// included.
func (m *multiSource) PcapStats() (recv, drop, ifDrop uint64, ok bool) {
	recv, drop, ifDrop = m.departed.recv.Load(), m.departed.drop.Load(), m.departed.ifDrop.Load()
	ok = recv > 0
	for _, r := range *m.readers.Load() {
		if s := r.stats.Load(); s != nil && s.ok {
			recv, drop, ifDrop, ok = recv+s.recv, drop+s.drop, ifDrop+s.ifDrop, true
		}
	}
	return recv, drop, ifDrop, ok
}

// Rings describes each interface's ring with its own counters: frames and
// bytes read from it, what its kernel socket received and dropped, and why
// it waits (down, disappeared, ended); then what the set waits for or
// cannot capture. Interfaces that left the set are no longer listed (their
// counters stay in the totals).
func (m *multiSource) Rings() []RingInfo {
	rs := *m.readers.Load()
	out := make([]RingInfo, 0, len(rs))
	for _, r := range rs {
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
	if n := m.notes.Load(); n != nil {
		out = append(out, *n...)
	}
	return out
}

// Close stops the readers and waits for them to close their handles.
func (m *multiSource) Close() {
	m.closed.Do(func() {
		m.start.Do(func() {}) // a later Next must not start readers
		close(m.stop)
		m.mu.Lock()
		started := m.started.Load()
		m.mu.Unlock()
		if !started {
			m.closeReaders()
			return
		}
		m.wg.Wait()
	})
}
