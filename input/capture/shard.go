package capture

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/input/config"
)

// Flow sharding. With workers > 1 a capture has one dispatcher, which only
// reads frames from the real source, picks a shard by a symmetric hash of
// the addresses (shardOf) and copies the frame into that shard's current
// batch; and one captureRun per shard, which reads its batches through a
// shardSource and owns everything else (link decoder and fragment table,
// TCP reassembler, engine, flow table, protocol instances, publishers).
// Nothing on the per-packet path is shared or locked.
//
// Timers: a single engine ticks on packet time, once a second. A shard sees
// only its packets, so its clock would advance at other moments and
// transactions and flows would expire or be reported at other points. The
// dispatcher therefore runs the engine's tick rule on every frame and
// inserts the same tick, at the same place in the packet order, into every
// shard's stream; the shards' engines do not tick by themselves. The end of
// a file is flushed at the time of its last frame, in every shard.

// defaultWorkers is the shard count when the interface does not say: the
// usable CPUs (GOMAXPROCS, which Go sets from the scheduler affinity mask
// and the cgroup CPU limit), capped at maxDefaultWorkers. The tables'
// bounds are divided among the shards (share.go), so the default holds
// what one shard holds.
func defaultWorkers() int {
	return min(runtime.GOMAXPROCS(0), maxDefaultWorkers)
}

// maxDefaultWorkers caps the default. Reasoning, not a measurement of
// scaling (this 2-core machine cannot show one): the one reader goroutine
// hashes and copies every frame (0.1-0.3 µs) against 3-4 µs of decoding,
// so it would carry about 10 shards; but every shard adds a fixed cost
// (batch buffers, port tables, goroutine: 5 MB measured on the bench
// capture, 82.6 -> 87.6 MB for a second shard) while the tables are
// divided, and events from all shards meet in one publish queue and one
// output, which on a busy host saturate first. 4 keeps the default within
// about 15 MB of one shard and leaves the other cores to the output and
// the host; more is an explicit `workers` choice.
const maxDefaultWorkers = 4

func workersOf(iface config.Interface) int {
	if iface.Workers > 0 {
		return iface.Workers
	}
	return defaultWorkers()
}

const (
	shardBatchPackets = 256
	shardBatchBytes   = 64 << 10
	shardDepth        = 4 // batches queued per shard
	// shardFlushEvery is how much packet time a frame may wait in a
	// partly filled batch (live captures at a low rate).
	shardFlushEvery = 10 * time.Millisecond
	// noTick disables an engine's own timer runs (see WithInstances).
	noTick = time.Duration(1<<63 - 1)
)

type itemKind uint8

const (
	itemPacket  itemKind = iota
	itemTick             // run the timers at ci.Timestamp
	itemTimeout          // the source timed out: the shard looks at ctx and plans
)

type shardItem struct {
	kind       itemKind
	start, end int
	ci         gopacket.CaptureInfo
}

type shardBatch struct {
	data    []byte
	items   []shardItem
	packets int
	// The last batch of an input: err ends it (io.EOF at the end of a
	// file), end is the time of the input's last frame.
	err error
	end time.Time
}

// errTick is returned by shardSource.Next for a tick item.
var errTick = errors.New("tick")

type dispatcher struct {
	src    Source
	iface  config.Interface
	filter string
	lt     layers.LinkType
	shards []*shardSource
	cur    []*shardBatch

	lastTick, lastFlush, lastTS time.Time

	open  atomic.Int32  // shard sources not closed yet
	stop  chan struct{} // closed when every shard source is closed
	ended chan struct{}
	quit  chan struct{} // closed when the capture's ctx is done
	start sync.Once

	filterReq chan filterRequest
	// stats is the source's kernel counters, read by the dispatcher
	// goroutine, which owns the handle.
	stats atomic.Pointer[sourceStats]
	// dropped counts frames for a shard that had stopped (it ended on an
	// internal error): they are counted, not queued forever. Frames of
	// the batch the shard was reading when it stopped are not counted.
	dropped atomic.Uint64
}

type filterRequest struct {
	filter string
	err    chan error
}

type sourceStats struct {
	recv, drop, ifDrop uint64
	ok                 bool
	rings              []RingInfo
}

func newDispatcher(src Source, iface config.Interface, filter string, n int) *dispatcher {
	d := &dispatcher{
		src: src, iface: iface, filter: filter, lt: src.LinkType(),
		stop: make(chan struct{}), ended: make(chan struct{}), quit: make(chan struct{}),
		filterReq: make(chan filterRequest),
	}
	d.open.Store(int32(n))
	for i := 0; i < n; i++ {
		s := &shardSource{d: d, idx: i,
			full: make(chan *shardBatch, shardDepth),
			free: make(chan *shardBatch, shardDepth+2),
			gone: make(chan struct{}),
		}
		d.shards = append(d.shards, s)
		d.cur = append(d.cur, newShardBatch())
	}
	d.publishStats()
	return d
}

func newShardBatch() *shardBatch {
	return &shardBatch{data: make([]byte, 0, shardBatchBytes+65536), items: make([]shardItem, 0, shardBatchPackets+8)}
}

func (d *dispatcher) publishStats() {
	s := &sourceStats{}
	s.recv, s.drop, s.ifDrop, s.ok = d.src.PcapStats()
	s.rings = ringsOf(d.src)
	d.stats.Store(s)
}

// run reads until the input ends or every shard has stopped, then closes
// the source (only this goroutine touches it).
func (d *dispatcher) run() {
	defer close(d.ended)
	defer func() { d.src.Close() }()
	live := d.iface.File == ""
	loops := d.iface.Loop
	// A file replayed at its recorded pace may take seconds for 4096
	// frames: look for the stop on every one, or a stop (SIGTERM) waits
	// for them (as the unsharded read loop does).
	paced := !live && !d.iface.TopSpeed
	for n := uint64(0); ; n++ {
		if n&4095 == 0 {
			d.publishStats()
			if d.stopped() {
				return
			}
		} else if paced && d.stopped() {
			return
		}
		select {
		case req := <-d.filterReq:
			req.err <- d.setFilter(req.filter)
		default:
		}
		data, ci, err := d.src.Next()
		if err != nil {
			if errors.Is(err, ErrTimeout) {
				d.publishStats()
				if d.stopped() {
					return
				}
				for i := range d.shards {
					d.cur[i].items = append(d.cur[i].items, shardItem{kind: itemTimeout})
				}
				d.flushAll()
				continue
			}
			if !live && loops > 1 && errors.Is(err, io.EOF) {
				loops--
				src, oerr := OpenSource(d.iface, d.filter)
				if oerr == nil {
					d.src.Close()
					d.src = src
					continue
				}
				err = oerr
			}
			d.publishStats()
			for i := range d.shards {
				b := d.cur[i]
				// One shard reports a read error; the others just end.
				b.err, b.end = io.EOF, d.lastTS
				if i == 0 {
					b.err = err
				}
				d.send(i)
			}
			return
		}
		i := 0
		if len(d.shards) > 1 {
			i = shardOf(d.lt, data, len(d.shards))
		}
		b := d.cur[i]
		start := len(b.data)
		b.data = append(b.data, data...)
		b.items = append(b.items, shardItem{kind: itemPacket, start: start, end: len(b.data), ci: ci})
		b.packets++
		ts := ci.Timestamp
		d.lastTS = ts
		// The engine's tick rule (engine.Packet), run on every frame.
		if ts.Sub(d.lastTick) >= time.Second {
			d.lastTick = ts
			for j := range d.shards {
				d.cur[j].items = append(d.cur[j].items, shardItem{kind: itemTick, ci: gopacket.CaptureInfo{Timestamp: ts}})
			}
		}
		// Packet time going back (the next loop of a replayed file, a
		// clock step) flushes too, or partial batches would wait until
		// time passed the old mark again.
		if since := ts.Sub(d.lastFlush); since >= shardFlushEvery || since < 0 {
			d.lastFlush = ts
			d.flushAll()
		} else if len(b.items) >= shardBatchPackets || len(b.data) >= shardBatchBytes {
			d.send(i)
		}
		for j, c := range d.cur {
			if len(c.items) >= shardBatchPackets+4 { // ticks only
				d.send(j)
			}
		}
	}
}

func (d *dispatcher) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

func (d *dispatcher) flushAll() {
	for i, b := range d.cur {
		if len(b.items) > 0 {
			d.send(i)
		}
	}
}

// send hands shard i its current batch, blocking while the shard is behind
// (backpressure reaches the kernel ring, whose drops are counted there).
func (d *dispatcher) send(i int) {
	s, b := d.shards[i], d.cur[i]
	// A stopped shard reads no more: its batch, and those still queued
	// for it, are counted as dropped (looked at first, as a send into the
	// queue's free room would succeed too).
	drop := func() {
		d.dropped.Add(uint64(b.packets))
		s.drainQueued()
	}
	select {
	case <-s.gone:
		drop()
	default:
		s.q.handed(b.packets)
		for sent := false; !sent; {
			select {
			case s.full <- b:
				sent = true
				// The shard may have stopped (and emptied its queue)
				// while we waited: then nobody will read this batch.
				select {
				case <-s.gone:
					s.drainQueued()
				default:
				}
			case <-s.gone:
				s.q.taken(b.packets)
				drop()
				sent = true
			case req := <-d.filterReq:
				req.err <- d.setFilter(req.filter)
			}
		}
	}
	select {
	case nb := <-s.free:
		nb.data, nb.items, nb.packets, nb.err, nb.end = nb.data[:0], nb.items[:0], 0, nil, time.Time{}
		d.cur[i] = nb
	default:
		d.cur[i] = newShardBatch()
	}
}

func (d *dispatcher) setFilter(f string) error {
	if fs, ok := d.src.(interface{ SetFilter(string) error }); ok {
		if err := fs.SetFilter(f); err != nil {
			return err
		}
	}
	d.filter = f
	return nil
}

// shardSource is one shard's view of the capture: the frames the
// dispatcher gave it, with ticks and timeouts in between.
type shardSource struct {
	d    *dispatcher
	idx  int
	full chan *shardBatch
	free chan *shardBatch
	gone chan struct{}
	once sync.Once
	q    shardQueue

	cur    *shardBatch
	pos    int
	tickAt time.Time // the time of the tick just returned
	end    time.Time // the time of the input's last frame, once read
}

func (s *shardSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	for {
		if b := s.cur; b != nil {
			if s.pos < len(b.items) {
				it := &b.items[s.pos]
				s.pos++
				switch it.kind {
				case itemTick:
					s.tickAt = it.ci.Timestamp
					return nil, gopacket.CaptureInfo{}, errTick
				case itemTimeout:
					return nil, gopacket.CaptureInfo{}, ErrTimeout
				}
				return b.data[it.start:it.end:it.end], it.ci, nil
			}
			if b.err != nil {
				s.end = b.end
				return nil, gopacket.CaptureInfo{}, b.err
			}
			select {
			case s.free <- b:
			default:
			}
			s.cur = nil
		}
		select {
		case s.cur = <-s.full:
		case <-s.d.quit:
			// Stopping: a shard whose traffic went quiet (or went to
			// another shard) would otherwise wait for its next batch
			// before it looks at ctx. The read loop returns on a
			// timeout once ctx is done.
			return nil, gopacket.CaptureInfo{}, ErrTimeout
		}
		s.pos = 0
		s.q.taken(s.cur.packets)
	}
}

func (s *shardSource) LinkType() layers.LinkType { return s.d.lt }

// PcapStats reports the source's counters on shard 0 only, so that summing
// the shards counts them once.
func (s *shardSource) PcapStats() (uint64, uint64, uint64, bool) {
	st := s.d.stats.Load()
	if s.idx != 0 || st == nil {
		return 0, 0, 0, false
	}
	return st.recv, st.drop, st.ifDrop, st.ok
}

// Rings describes the kernel rings on shard 0 only.
func (s *shardSource) Rings() []RingInfo {
	st := s.d.stats.Load()
	if s.idx != 0 || st == nil {
		return nil
	}
	return st.rings
}

// SetFilter changes the filter of the real source, through shard 0 (every
// shard gets the same reconfiguration plan; the others do nothing). The
// dispatcher serves the request between two frames, or while it waits for a
// shard, so a shard asking cannot deadlock with it.
func (s *shardSource) SetFilter(f string) error {
	if s.idx != 0 {
		return nil
	}
	req := filterRequest{filter: f, err: make(chan error, 1)}
	select {
	case s.d.filterReq <- req:
		return <-req.err
	case <-s.d.ended:
		return nil // the capture ended: nothing to filter
	}
}

// drainQueued counts the batches queued for a stopped shard as dropped
// (each is received once, by whichever of the shard and the dispatcher
// gets it).
func (s *shardSource) drainQueued() {
	for {
		select {
		case q := <-s.full:
			s.q.taken(q.packets)
			s.d.dropped.Add(uint64(q.packets))
		default:
			return
		}
	}
}

// Close stops this shard; the last one closed stops the dispatcher, which
// closes the real source.
func (s *shardSource) Close() {
	s.once.Do(func() {
		close(s.gone)
		// Closed before the end of its input (an internal error, a stop):
		// the frames of the batch in hand not read yet, and the batches
		// queued, will not be decoded. Close runs on the shard's own
		// goroutine (or before it started), so s.cur is ours to read.
		if b := s.cur; b != nil && b.err == nil {
			n := 0
			for _, it := range b.items[s.pos:] {
				if it.kind == itemPacket {
					n++
				}
			}
			s.d.dropped.Add(uint64(n))
		}
		s.drainQueued()
		if s.d.open.Add(-1) == 0 {
			close(s.d.stop)
			// The dispatcher never started (the capture was rebuilt
			// before Run): close the source here.
			s.d.start.Do(func() {
				close(s.d.ended)
				s.d.src.Close()
			})
		}
	})
}

// startDispatcher runs the dispatcher of a sharded capture once.
func (d *dispatcher) startOnce(ctx context.Context, wg *sync.WaitGroup) {
	d.start.Do(func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.run()
		}()
		go func() {
			select {
			case <-ctx.Done():
				close(d.quit)
			case <-d.ended:
			}
		}()
	})
}
