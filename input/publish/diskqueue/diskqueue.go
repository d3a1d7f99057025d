// Package diskqueue is Beats' queue.disk for network-traffic: documents are
// appended to segment files under a directory, read back in order by one
// goroutine that publishes them, and deleted only once the output
// acknowledged them. An ack pointer file remembers how far the output got,
// so a restarted process resumes there.
//
// Durability: Send returns once the record is written to the segment file
// (write(2) into the kernel's page cache). From then on it survives the
// process being killed (SIGKILL, a crash, an OOM kill). The segment is
// fsynced by a background goroutine every write_ahead records and at most
// a second after a write, when a segment is finished and at Close, so a
// power loss or kernel crash costs at most that window. Records carry a
// CRC-32C: a torn or corrupt record is detected, counted and reported, and
// the rest of its segment skipped; never a panic.
//
// The ack pointer is rewritten in place (no fsync) after every
// acknowledged batch. Losing it to a power cut replays from an older
// position: duplicates, never loss.
package diskqueue

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
)

// Config is queue.disk.
type Config struct {
	// Path is the queue directory (created if missing).
	Path string
	// MaxSize bounds the bytes of records not yet acknowledged; Send
	// blocks while a record would exceed it. Files on disk can exceed it
	// by the acknowledged part of the oldest segment.
	MaxSize int64
	// SegmentSize is the size at which a segment file is finished and a
	// new one started; a segment is deleted once wholly acknowledged.
	SegmentSize int64
	// ReadAhead is the most records read into one batch for the output.
	ReadAhead int
	// WriteAhead is how many records may be written but not yet fsynced.
	WriteAhead int
	// RetryInterval and MaxRetryInterval bound the backoff between
	// publish attempts of a batch the output refused.
	RetryInterval    time.Duration
	MaxRetryInterval time.Duration
}

// Defaults are Beats' (max_size 10GB, segment_size max_size/10,
// read_ahead 512, write_ahead 2048, retry 1s up to 30s).
func (c *Config) defaults() {
	if c.MaxSize <= 0 {
		c.MaxSize = 10 << 30
	}
	if c.SegmentSize <= 0 {
		c.SegmentSize = c.MaxSize / 10
	}
	if c.ReadAhead <= 0 {
		c.ReadAhead = 512
	}
	if c.WriteAhead <= 0 {
		c.WriteAhead = 2048
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	if c.MaxRetryInterval <= 0 {
		c.MaxRetryInterval = 30 * time.Second
	}
}

const (
	headerLen = 8 // uint32 payload length, uint32 CRC-32C of the payload
	// maxRecord bounds a length read from disk, so a corrupt length is
	// detected instead of allocating gigabytes.
	maxRecord = 64 << 20
	ackFile   = "ack"
	segSuffix = ".seg"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type segment struct {
	id   uint64
	size int64 // bytes written (final once the segment is finished)
}

// Queue is a disk-backed publish.Pipeline.
type Queue struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	space    *sync.Cond // signalled when records are acknowledged or on close
	segs     []segment  // oldest first; the last is being written
	w        *os.File
	scratch  []byte
	idBuf    []byte
	idPrefix string // random per Open: ids stay unique across runs
	idSeq    uint64
	ackF     *os.File // the ack pointer, written only by Run
	unsynced int
	used     int64 // bytes of unacknowledged records (from the ack pointer on)
	pending  int64 // unacknowledged records
	closing  bool
	// ack pointer: the first unacknowledged record.
	ackSeg uint64
	ackOff int64

	wake    chan struct{} // cap 1: a record was written, or closing
	syncReq chan struct{} // cap 1: write_ahead reached
	stopped chan struct{} // closed when Run returns
	syncEnd chan struct{}

	outMu sync.Mutex
	out   output.Output

	closeOnce  sync.Once
	giveUp     chan struct{} // closed when Close decides to stop waiting for the output
	oldestNano atomic.Int64  // write time of the oldest unacknowledged record, 0 when none

	blocked  atomic.Uint64
	sent     atomic.Uint64
	failures atomic.Uint64
	dropped  atomic.Uint64 // records refused: larger than max_size, or sent after Close
	// dropped, by reason: larger than max_size; sent while the queue was
	// closing; still unwritable (disk full, a write error) at Close.
	droppedTooLarge, droppedClosed, droppedWriteFailed atomic.Uint64
	corrupt                                            atomic.Uint64 // corrupt or torn records found
	corruptLost                                        atomic.Uint64 // records lost with them (the rest of their segment)
	corruptSkip                                        atomic.Uint64 // bytes skipped after them
	recovered                                          int64         // records found on disk at Open
	lastError                                          atomic.Value  // string
	lastCorrupt                                        atomic.Value  // string
	writeErr                                           atomic.Value  // string: the last write failure (full disk)
	// diskFull is set while writes fail with ENOSPC/EDQUOT (cleared by
	// the first write that succeeds).
	diskFull atomic.Bool
	// rollOnRetry: a write failed, so the segment being written is
	// finished before the retry. It can then be deleted once acknowledged:
	// without that, a segment that filled the disk would never be freed.
	rollOnRetry bool
}

var _ publish.Pipeline = (*Queue)(nil)

// Open opens (or creates) the queue in cfg.Path, resuming after the ack
// pointer. Records already on disk are counted, not loaded.
func Open(cfg Config, out output.Output, log *slog.Logger) (*Queue, error) {
	cfg.defaults()
	if cfg.Path == "" {
		return nil, errors.New("queue.disk.path is required")
	}
	if cfg.SegmentSize > cfg.MaxSize {
		return nil, fmt.Errorf("queue.disk.segment_size %d is larger than max_size %d", cfg.SegmentSize, cfg.MaxSize)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Path, 0o750); err != nil {
		return nil, fmt.Errorf("queue.disk.path: %w", err)
	}
	q := &Queue{cfg: cfg, log: log, out: out,
		wake: make(chan struct{}, 1), syncReq: make(chan struct{}, 1),
		stopped: make(chan struct{}), syncEnd: make(chan struct{}), giveUp: make(chan struct{})}
	q.space = sync.NewCond(&q.mu)
	var r [9]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	q.idPrefix = base64.RawURLEncoding.EncodeToString(r[:])
	if err := q.load(); err != nil {
		return nil, err
	}
	if err := q.newSegment(); err != nil {
		return nil, err
	}
	go q.syncer()
	return q, nil
}

func (q *Queue) segPath(id uint64) string {
	return filepath.Join(q.cfg.Path, fmt.Sprintf("%020d%s", id, segSuffix))
}

// load lists the segments, reads the ack pointer and counts the records
// still to publish (headers only).
func (q *Queue) load() error {
	ents, err := os.ReadDir(q.cfg.Path)
	if err != nil {
		return fmt.Errorf("queue.disk.path: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		q.segs = append(q.segs, segment{id: id, size: info.Size()})
	}
	sort.Slice(q.segs, func(i, j int) bool { return q.segs[i].id < q.segs[j].id })
	seg, off, err := readAck(filepath.Join(q.cfg.Path, ackFile))
	switch {
	case err == nil:
		q.ackSeg, q.ackOff = seg, off
	case !errors.Is(err, os.ErrNotExist):
		// Unreadable pointer: replay everything (duplicates, not loss).
		q.log.Warn("disk queue: ack pointer unreadable, replaying every segment", "error", err)
		q.lastCorrupt.Store("ack pointer: " + err.Error())
	}
	// Segments wholly before the pointer were acknowledged; a crash
	// between the pointer write and the delete leaves them.
	kept := q.segs[:0]
	for _, s := range q.segs {
		if s.id < q.ackSeg {
			_ = os.Remove(q.segPath(s.id))
			continue
		}
		kept = append(kept, s)
	}
	q.segs = kept
	if len(q.segs) == 0 || q.segs[0].id != q.ackSeg {
		q.ackOff = 0 // the pointed-at segment is gone
		if len(q.segs) > 0 {
			q.ackSeg = q.segs[0].id
		}
	}
	for _, s := range q.segs {
		from := int64(0)
		if s.id == q.ackSeg {
			from = min(q.ackOff, s.size)
		}
		n, err := countRecords(q.segPath(s.id), from, s.size)
		if err != nil {
			return err
		}
		q.pending += n
		q.used += s.size - from
	}
	q.recovered = q.pending
	if q.pending > 0 {
		q.log.Info("disk queue: resuming", "records", q.pending, "bytes", q.used, "segments", len(q.segs))
	}
	return nil
}

func countRecords(path string, from, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var hdr [headerLen]byte
	var n int64
	for off := from; off+headerLen <= size; n++ {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			break
		}
		off += headerLen + int64(binary.LittleEndian.Uint32(hdr[:4]))
		if off > size {
			break // torn tail: found (and counted) when read
		}
	}
	return n, nil
}

func readAck(path string) (uint64, int64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	if len(raw) != 20 || crc32.Checksum(raw[:16], crcTable) != binary.LittleEndian.Uint32(raw[16:]) {
		return 0, 0, fmt.Errorf("%s: bad length or checksum", path)
	}
	return binary.LittleEndian.Uint64(raw[:8]), int64(binary.LittleEndian.Uint64(raw[8:16])), nil
}

func (q *Queue) writeAck(seg uint64, off int64) error {
	var raw [20]byte
	binary.LittleEndian.PutUint64(raw[:8], seg)
	binary.LittleEndian.PutUint64(raw[8:16], uint64(off))
	binary.LittleEndian.PutUint32(raw[16:], crc32.Checksum(raw[:16], crcTable))
	// Overwritten in place (one pwrite, no rename: ext4 flushes data on
	// a rename over a file, which would cost a disk write per batch). A
	// torn write fails the checksum and replays from the oldest segment.
	if q.ackF == nil {
		f, err := os.OpenFile(filepath.Join(q.cfg.Path, ackFile), os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		q.ackF = f
	}
	_, err := q.ackF.WriteAt(raw[:], 0)
	return err
}

// newSegment starts the next segment file; q.mu held (or not yet shared).
func (q *Queue) newSegment() error {
	id := uint64(0)
	if n := len(q.segs); n > 0 {
		id = q.segs[n-1].id + 1
	}
	// The new file first: if it cannot be created (a full disk), the
	// current one stays open for the retry.
	f, err := os.OpenFile(q.segPath(id), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("disk queue: %w", err)
	}
	if q.w != nil {
		if err := q.w.Sync(); err != nil {
			// What it holds was written; only its durability
			// against a power cut is in doubt.
			q.log.Warn("disk queue: fsync of a finished segment", "error", err)
		}
		_ = q.w.Close()
		q.unsynced = 0
	}
	q.w = f
	q.segs = append(q.segs, segment{id: id})
	if len(q.segs) == 1 {
		q.ackSeg, q.ackOff = id, 0
	}
	// The previous segment is finished: a reader that acknowledged all
	// of it waits for a write, and must now delete it (on a full disk
	// that deletion is what lets the next write succeed).
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Send writes the document to the queue (the caller may reuse d.Body),
// waiting while the queue holds max_size bytes.
func (q *Queue) Send(d output.Doc) { q.write(d.Index, d.ID, d.Body) }

// SendCopy is Send: the record is written before it returns.
func (q *Queue) SendCopy(index string, body []byte) { q.write(index, "", body) }

func (q *Queue) write(index, id string, body []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// A document without an _id gets one here, stored with it: a document
	// resent after a restart carries the same id, so Elasticsearch (and a
	// Logstash pipeline using [@metadata][_id]) stores it once.
	ib := append(q.idBuf[:0], id...)
	if id == "" {
		q.idSeq++
		var seq [8]byte
		binary.BigEndian.PutUint64(seq[:], q.idSeq)
		ib = append(ib, q.idPrefix...)
		ib = base64.RawURLEncoding.AppendEncode(ib, seq[2:])
	}
	q.idBuf = ib
	rec := encode(q.scratch[:0], time.Now().UnixNano(), index, ib, body)
	q.scratch = rec
	n := int64(len(rec))
	if n > q.cfg.MaxSize {
		q.dropped.Add(1)
		q.droppedTooLarge.Add(1)
		q.log.Warn("disk queue: document larger than queue.disk.max_size dropped", "bytes", n)
		return
	}
	if q.used+n > q.cfg.MaxSize && !q.closing {
		q.blocked.Add(1)
		for q.used+n > q.cfg.MaxSize && !q.closing {
			q.space.Wait()
		}
	}
	if q.closing {
		q.dropped.Add(1)
		q.droppedClosed.Add(1)
		return
	}
	for {
		// A failed write (ENOSPC) is retried, keeping the sender blocked:
		// back-pressure, never a silent loss. Space comes back as the
		// output acknowledges finished segments and they are deleted.
		err := q.appendLocked(rec)
		if err == nil {
			break
		}
		q.writeFailed(err)
		q.mu.Unlock()
		time.Sleep(q.cfg.RetryInterval)
		q.mu.Lock()
		if q.closing {
			// Nobody will retry it: counted, with its reason.
			q.dropped.Add(1)
			q.droppedWriteFailed.Add(1)
			q.log.Error("disk queue: document dropped at close, the queue could not write it", "error", err)
			return
		}
	}
	if q.diskFull.Swap(false) {
		q.log.Info("disk queue: writing again", "path", q.cfg.Path)
	}
	q.writeErr.Store("")
	q.segs[len(q.segs)-1].size += n
	q.used += n
	if q.pending == 0 {
		q.oldestNano.Store(time.Now().UnixNano())
	}
	q.pending++
	q.unsynced++
	if q.unsynced >= q.cfg.WriteAhead {
		select {
		case q.syncReq <- struct{}{}:
		default:
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// appendLocked writes one record at the end of the current segment,
// starting a new segment first when it would pass segment_size or a write
// into this one failed. A failed write leaves the segment as it was.
func (q *Queue) appendLocked(rec []byte) error {
	cur := &q.segs[len(q.segs)-1]
	if cur.size > 0 && (cur.size+int64(len(rec)) > q.cfg.SegmentSize || q.rollOnRetry) {
		if err := q.newSegment(); err != nil {
			return err
		}
		q.rollOnRetry = false
		cur = &q.segs[len(q.segs)-1]
	}
	if _, err := q.w.Write(rec); err != nil {
		// Cut off the part that was written (a short write on a
		// full disk), so the segment ends on a record boundary.
		_ = q.w.Truncate(cur.size)
		_, _ = q.w.Seek(cur.size, io.SeekStart)
		q.rollOnRetry = true
		return err
	}
	return nil
}

func (q *Queue) writeFailed(err error) {
	q.failures.Add(1)
	msg := "disk queue write failed: " + err.Error()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		msg = fmt.Sprintf("disk queue full: no space left on the disk of %s (%v); capture is held back until the output acknowledges and segments are deleted", q.cfg.Path, err)
		if !q.diskFull.Swap(true) {
			q.log.Error("disk queue: no space left on the disk, holding senders until there is", "path", q.cfg.Path, "error", err)
		}
	} else {
		q.log.Error("disk queue write failed, retrying", "path", q.cfg.Path, "error", err)
	}
	q.writeErr.Store(msg)
	q.lastError.Store(msg)
}

// encode appends one record: header, then write time, index, id, body.
func encode(dst []byte, nano int64, index string, id, body []byte) []byte {
	dst = append(dst, make([]byte, headerLen)...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(nano))
	dst = binary.AppendUvarint(dst, uint64(len(index)))
	dst = append(dst, index...)
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	dst = append(dst, id...)
	dst = append(dst, body...)
	p := dst[headerLen:]
	binary.LittleEndian.PutUint32(dst[0:4], uint32(len(p)))
	binary.LittleEndian.PutUint32(dst[4:8], crc32.Checksum(p, crcTable))
	return dst
}

var errCorrupt = errors.New("corrupt record")

// decode parses a payload whose checksum matched.
func decode(p []byte) (nano int64, d output.Doc, err error) {
	if len(p) < 8 {
		return 0, d, errCorrupt
	}
	nano = int64(binary.LittleEndian.Uint64(p))
	p = p[8:]
	var fields [2]string
	for i := range fields {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return 0, d, errCorrupt
		}
		fields[i] = string(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	return nano, output.Doc{Index: fields[0], ID: fields[1], Body: p}, nil
}

// syncer fsyncs the segment being written every write_ahead records and
// within a second of a write.
func (q *Queue) syncer() {
	defer close(q.syncEnd)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-q.syncReq:
		case <-t.C:
		case <-q.stopped:
			return
		}
		q.mu.Lock()
		if q.unsynced > 0 && q.w != nil {
			q.unsynced = 0
			f := q.w
			q.mu.Unlock()
			_ = f.Sync() // concurrent writes are fine; a rolled segment was synced on close
			continue
		}
		q.mu.Unlock()
	}
}

// SetOutput swaps the destination; the batch in flight finishes on the old one.
func (q *Queue) SetOutput(out output.Output) output.Output {
	q.outMu.Lock()
	defer q.outMu.Unlock()
	old := q.out
	q.out = out
	return old
}

// Output returns the current destination.
func (q *Queue) Output() output.Output {
	q.outMu.Lock()
	defer q.outMu.Unlock()
	return q.out
}

// Depth is the number of records not yet acknowledged by the output.
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(q.pending)
}

// Capacity is 0: the disk queue is bounded in bytes (max_size), not
// documents; QueueState says how full it is.
func (q *Queue) Capacity() int { return 0 }

// Blocked counts sends that had to wait for room (the queue was full).
func (q *Queue) Blocked() uint64 { return q.blocked.Load() }

// Sent counts documents the output acknowledged.
func (q *Queue) Sent() uint64 { return q.sent.Load() }

// Failures counts failed publish attempts and failed disk writes.
func (q *Queue) Failures() uint64 { return q.failures.Load() }

// Undelivered counts documents refused by the queue (larger than max_size,
// or sent after Close) and records lost to corruption. Documents still on
// disk at exit are not lost: see Depth and QueueState.
func (q *Queue) Undelivered() uint64 { return q.dropped.Load() + q.corruptLost.Load() }

// Corrupt counts corrupt or torn records found while reading.
func (q *Queue) Corrupt() uint64 { return q.corrupt.Load() }

// LastError is the last publish or write error, "" if none.
func (q *Queue) LastError() string {
	s, _ := q.lastError.Load().(string)
	return s
}

// Full reports whether the unacknowledged records fill max_size (less
// than one typical record of room left).
func (q *Queue) Full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used+4096 > q.cfg.MaxSize
}

// QueueState is the queue's state for diagnostics and -stats-json.
func (q *Queue) QueueState() map[string]any {
	q.mu.Lock()
	var files int64
	for _, s := range q.segs {
		files += s.size
	}
	st := map[string]any{
		"type":             "disk",
		"path":             q.cfg.Path,
		"max_size":         q.cfg.MaxSize,
		"bytes_unacked":    q.used,
		"bytes_on_disk":    files,
		"segments":         len(q.segs),
		"events_unacked":   q.pending,
		"events_recovered": q.recovered,
		"full":             q.used+4096 > q.cfg.MaxSize,
		"blocked_sends":    q.blocked.Load(),
		"acknowledged":     q.sent.Load(),
		"dropped":          q.dropped.Load(),
		"dropped_by_reason": map[string]uint64{
			"larger_than_max_size": q.droppedTooLarge.Load(),
			"queue_closed":         q.droppedClosed.Load(),
			"unwritable_at_close":  q.droppedWriteFailed.Load(),
		},
		"disk_full":                  q.diskFull.Load(),
		"corrupt_records":            q.corrupt.Load(),
		"records_lost_to_corruption": q.corruptLost.Load(),
		"corrupt_bytes_skipped":      q.corruptSkip.Load(),
	}
	q.mu.Unlock()
	if n := q.oldestNano.Load(); n > 0 {
		st["oldest_unacked"] = time.Unix(0, n).UTC().Format(time.RFC3339Nano)
		st["oldest_unacked_age_seconds"] = time.Since(time.Unix(0, n)).Seconds()
	}
	if s, _ := q.lastCorrupt.Load().(string); s != "" {
		st["last_corruption"] = s
	}
	if s, _ := q.writeErr.Load().(string); s != "" {
		st["write_error"] = s
	}
	return st
}

// Run publishes the records in order, one batch at a time, advancing the
// ack pointer and deleting finished segments as the output acknowledges
// them. It returns when ctx is cancelled (what is unacknowledged stays on
// disk for the next start) or, after Close, once everything is
// acknowledged or the output fails.
func (q *Queue) Run(ctx context.Context) {
	defer close(q.stopped)
	defer func() {
		if q.ackF != nil {
			q.ackF.Close()
			q.ackF = nil
		}
	}()
	defer func() {
		// Nobody reads any more: a sender waiting for room returns (its
		// document counted as dropped) instead of hanging the shutdown.
		q.mu.Lock()
		q.closing = true
		q.space.Broadcast()
		q.mu.Unlock()
	}()
	var rf *os.File
	rfID := ^uint64(0)
	defer func() {
		if rf != nil {
			rf.Close()
		}
	}()
	var buf []byte
	for ctx.Err() == nil {
		q.mu.Lock()
		s := q.segs[0]
		writing := len(q.segs) == 1
		off := q.ackOff
		if off >= s.size && !writing {
			// Wholly acknowledged and finished: move the pointer on,
			// then delete the file.
			q.segs = q.segs[1:]
			next := q.segs[0].id
			q.ackSeg, q.ackOff = next, 0
			q.mu.Unlock()
			if err := q.writeAck(next, 0); err != nil {
				q.log.Warn("disk queue: writing the ack pointer", "error", err)
			}
			if rf != nil && rfID == s.id {
				rf.Close()
				rf, rfID = nil, ^uint64(0)
			}
			if err := os.Remove(q.segPath(s.id)); err != nil {
				q.log.Warn("disk queue: deleting an acknowledged segment", "error", err)
			}
			continue
		}
		if off >= s.size {
			closing := q.closing
			q.mu.Unlock()
			if closing {
				return // everything acknowledged
			}
			select {
			case <-q.wake:
			case <-ctx.Done():
			case <-q.giveUp:
				return
			}
			continue
		}
		limit := s.size
		q.mu.Unlock()
		if rfID != s.id {
			if rf != nil {
				rf.Close()
			}
			f, err := os.Open(q.segPath(s.id))
			if err != nil {
				q.lastError.Store("disk queue: " + err.Error())
				q.log.Error("disk queue: opening a segment", "error", err)
				if !q.sleep(ctx, q.cfg.RetryInterval) {
					return
				}
				continue
			}
			rf, rfID = f, s.id
		}
		if r, ok := q.Output().(publish.BodyReuser); !ok || !r.ReusesBodies() {
			buf = nil
		}
		docs, end, first, bad, err := q.readBatch(rf, s.id, off, limit, &buf)
		if err != nil {
			q.lastError.Store("disk queue: " + err.Error())
			q.log.Error("disk queue: reading a segment", "error", err)
			if !q.sleep(ctx, q.cfg.RetryInterval) {
				return
			}
			continue
		}
		if len(docs) > 0 {
			q.oldestNano.Store(first)
			if !q.publish(ctx, docs) {
				return
			}
		}
		skipped, lost := int64(0), int64(0)
		if bad {
			// The rest of the segment cannot be framed: skip it. The
			// records load counted in it (by their length fields) leave
			// the pending count with it, however many there were.
			skipped = limit - end
			lost, _ = countRecords(q.segPath(s.id), end, limit)
			lost = max(lost, 1)
			q.corrupt.Add(1)
			q.corruptLost.Add(uint64(lost)) // every record lost with it is undelivered
			q.corruptSkip.Add(uint64(skipped))
			msg := fmt.Sprintf("corrupt record in segment %d at offset %d: %d bytes skipped", s.id, end, skipped)
			q.lastCorrupt.Store(msg)
			q.log.Error("disk queue: " + msg)
		}
		q.mu.Lock()
		q.ackOff = end + skipped
		q.used -= q.ackOff - off
		q.pending = max(q.pending-int64(len(docs))-lost, 0)
		if q.pending == 0 {
			q.oldestNano.Store(0)
		}
		seg, ackOff := q.ackSeg, q.ackOff
		q.space.Broadcast()
		q.mu.Unlock()
		q.sent.Add(uint64(len(docs)))
		if err := q.writeAck(seg, ackOff); err != nil {
			q.log.Warn("disk queue: writing the ack pointer", "error", err)
		}
	}
}

// readBatch reads up to read_ahead whole records of segment id from off,
// not past limit. bad reports a record that failed its checksum or framing
// at end (the records before it are returned).
func (q *Queue) readBatch(f *os.File, id uint64, off, limit int64, buf *[]byte) (docs []output.Doc, end, firstNano int64, bad bool, err error) {
	n := min(limit-off, 1<<20)
	var hdr [headerLen]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, off, 0, true, nil // torn header at the end
		}
		return nil, off, 0, false, err
	}
	if first := int64(headerLen) + int64(binary.LittleEndian.Uint32(hdr[:4])); first > n {
		n = first // one record larger than the chunk
	}
	if n > limit-off || n > maxRecord+headerLen {
		return nil, off, 0, true, nil
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	chunk := (*buf)[:n]
	if _, err := f.ReadAt(chunk, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, off, 0, false, err
	}
	pos := int64(0)
	for len(docs) < q.cfg.ReadAhead && pos+headerLen <= n {
		l := int64(binary.LittleEndian.Uint32(chunk[pos : pos+4]))
		if pos+headerLen+l > n {
			if off+pos+headerLen+l > limit {
				return docs, off + pos, firstNano, true, nil // torn tail
			}
			break // continues in the next chunk
		}
		p := chunk[pos+headerLen : pos+headerLen+l]
		if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(chunk[pos+4:pos+8]) {
			return docs, off + pos, firstNano, true, nil
		}
		nano, d, derr := decode(p)
		if derr != nil {
			return docs, off + pos, firstNano, true, nil
		}
		if len(docs) == 0 {
			firstNano = nano
		}
		docs = append(docs, d)
		pos += headerLen + l
	}
	if len(docs) == 0 && pos+headerLen > n && off+pos < limit {
		return nil, off + pos, 0, true, nil // a torn header
	}
	return docs, off + pos, firstNano, false, nil
}

// publish hands docs to the output until it accepts them, backing off
// between attempts. It returns false when ctx is cancelled or Close gave
// up waiting for a failing output.
func (q *Queue) publish(ctx context.Context, docs []output.Doc) bool {
	wait := q.cfg.RetryInterval
	for {
		err := q.Output().Publish(ctx, docs)
		if err == nil {
			q.lastError.Store("")
			return true
		}
		q.failures.Add(1)
		q.lastError.Store(err.Error())
		if !q.sleep(ctx, wait) {
			return false
		}
		wait = min(wait*2, q.cfg.MaxRetryInterval)
	}
}

func (q *Queue) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	case <-q.giveUp:
		return false
	}
}

// Close stops accepting documents, fsyncs what was written, then waits
// until the output acknowledged everything, or stops at the first failed
// attempt after Close (the rest is safe on disk for the next start; Depth
// says how many). Run must be running; senders must have stopped.
func (q *Queue) Close() {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closing = true
		q.space.Broadcast()
		if q.w != nil {
			_ = q.w.Sync()
			q.unsynced = 0
		}
		q.mu.Unlock()
		select {
		case q.wake <- struct{}{}:
		default:
		}
		failed := q.failures.Load()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
	wait:
		for {
			select {
			case <-q.stopped:
				break wait
			case <-t.C:
				if q.failures.Load() > failed {
					close(q.giveUp)
					<-q.stopped
					break wait
				}
			}
		}
		<-q.syncEnd
		q.mu.Lock()
		if q.w != nil {
			_ = q.w.Sync()
			_ = q.w.Close()
			q.w = nil
		}
		q.mu.Unlock()
	})
	<-q.stopped
}

// Path is the queue directory.
func (q *Queue) Path() string { return q.cfg.Path }
