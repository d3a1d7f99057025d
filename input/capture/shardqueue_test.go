package capture

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/input/config"
)

// twoShardFrames returns UDP frames between 10.0.0.1 and 16 hosts, and how
// many of them shardOf puts on each of 2 shards.
func twoShardFrames(t *testing.T, n int) ([][]byte, [2]int) {
	var frames [][]byte
	var per [2]int
	for i := 0; i < n; i++ {
		f := make([]byte, 14+20+8)
		f[12], f[13] = 0x08, 0x00
		ip := f[14:]
		ip[0], ip[9] = 0x45, 17
		copy(ip[12:16], []byte{10, 0, 0, 1})
		copy(ip[16:20], []byte{10, 0, 1, byte(i % 16)})
		frames = append(frames, f)
		per[shardOf(layers.LinkTypeEthernet, f, 2)]++
	}
	if per[0] == 0 || per[1] == 0 {
		t.Fatalf("test frames all on one shard: %v", per)
	}
	return frames, per
}

// A shard that does not keep up fills its queue: the reader blocks with
// shardDepth batches queued and one in hand, every frame it gave that
// shard is counted as waiting (nothing is lost between them), and when the
// shard catches up the queue empties while the high-water mark stays.
func TestShardQueueDepth(t *testing.T) {
	frames, per := twoShardFrames(t, 5000)
	src := &sliceSource{frames: frames, ts: time.Unix(1700000000, 0)}
	d := newDispatcher(src, config.Interface{File: "x.pcap"}, "", 2)
	var wg sync.WaitGroup
	d.startOnce(context.Background(), &wg)
	readAll := func(s *shardSource) (n int) {
		for {
			_, _, err := s.Next()
			if err == errTick {
				continue
			}
			if err != nil {
				if err != io.EOF {
					t.Error(err)
				}
				return n
			}
			n++
		}
	}
	got0 := make(chan int)
	go func() { got0 <- readAll(d.shards[0]) }()

	// Shard 1 reads nothing yet: the reader stops on it.
	s1 := d.shards[1]
	deadline := time.Now().Add(10 * time.Second)
	for s1.queueStats().Batches < shardDepth+1 {
		if time.Now().After(deadline) {
			t.Fatalf("queue of the idle shard: %+v", s1.queueStats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // blocked: nothing moves
	q := s1.queueStats()
	read := int(src.read.Load())
	var forShard1 int64
	for _, f := range frames[:read] {
		if shardOf(layers.LinkTypeEthernet, f, 2) == 1 {
			forShard1++
		}
	}
	if q.Batches != shardDepth+1 || q.MaxBatches != shardDepth+1 || q.Frames != forShard1 || q.MaxFrames != forShard1 ||
		q.Capacity != shardDepth || q.Capture != "file:x.pcap" || q.Shard != 1 {
		t.Fatalf("blocked after %d frames (%d for shard 1): %+v", read, forShard1, q)
	}
	if read == len(frames) {
		t.Fatalf("the reader did not block (read all %d frames)", read)
	}
	if q0 := d.shards[0].queueStats(); q0.MaxBatches > shardDepth+1 || q0.Frames < 0 {
		t.Fatalf("shard 0 queue %+v", q0)
	}

	got1 := readAll(s1)
	if g := <-got0; g != per[0] || got1 != per[1] {
		t.Fatalf("shards read %d and %d frames, want %v", g, got1, per)
	}
	d.shards[0].Close()
	s1.Close()
	wg.Wait()
	q = s1.queueStats()
	// Once the shard reads again, the reader may hand the next batch
	// before the shard has counted the one it just received: the marks
	// can be one batch above the queue's capacity plus the one in hand.
	if q.Batches != 0 || q.Frames != 0 || q.MaxBatches < shardDepth+1 || q.MaxBatches > shardDepth+2 || q.MaxFrames < forShard1 {
		t.Fatalf("after the end: %+v", q)
	}
	if n := d.dropped.Load(); n != 0 {
		t.Fatalf("%d frames dropped with every shard reading", n)
	}
}

// A shard that stops in the middle of a batch: the frames of that batch it
// had not read yet, and the batches queued behind it, count as dropped,
// so that decoded + dropped is every frame read for it.
func TestShardStoppedMidBatchCountsTheRest(t *testing.T) {
	frames, per := twoShardFrames(t, 5000)
	src := &sliceSource{frames: frames, ts: time.Unix(1700000000, 0)}
	d := newDispatcher(src, config.Interface{File: "x.pcap"}, "", 2)
	var wg sync.WaitGroup
	d.startOnce(context.Background(), &wg)
	done := make(chan int)
	go func() {
		n := 0
		for {
			_, _, err := d.shards[0].Next()
			if err == errTick {
				continue
			}
			if err != nil {
				done <- n
				return
			}
			n++
		}
	}()
	s1 := d.shards[1]
	read := 0
	for read < 25 { // into the third batch (about 10 frames each)
		if _, _, err := s1.Next(); err == nil {
			read++
		}
	}
	s1.Close()
	if g := <-done; g != per[0] {
		t.Fatalf("shard 0 read %d, want %d", g, per[0])
	}
	d.shards[0].Close()
	wg.Wait()
	if n := d.dropped.Load(); int(n) != per[1]-read {
		t.Fatalf("dropped %d, want %d (%d for shard 1, %d decoded)", n, per[1]-read, per[1], read)
	}
	if q := s1.queueStats(); q.Batches != 0 || q.Frames != 0 {
		t.Fatalf("stopped shard's queue %+v", q)
	}
}

// chanSource yields the frames sent on its channel, then io.EOF when it is
// closed.
type chanSource struct{ ch chan gopacket.CaptureInfo }

func (s *chanSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	ci, ok := <-s.ch
	if !ok {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	f := make([]byte, 14+20+8)
	f[12], f[13] = 0x08, 0x00
	f[14], f[14+9] = 0x45, 17
	ci.CaptureLength, ci.Length = len(f), len(f)
	return f, ci, nil
}
func (s *chanSource) LinkType() layers.LinkType                 { return layers.LinkTypeEthernet }
func (s *chanSource) PcapStats() (uint64, uint64, uint64, bool) { return 0, 0, 0, false }
func (s *chanSource) Close()                                    {}

// When packet time goes back (the next loop of a replayed file), the
// reader hands over what it holds at once instead of keeping a partial
// batch until time passes its old flush mark again.
func TestShardFlushWhenTimeGoesBack(t *testing.T) {
	src := &chanSource{ch: make(chan gopacket.CaptureInfo)}
	d := newDispatcher(src, config.Interface{File: "x.pcap"}, "", 2)
	var wg sync.WaitGroup
	d.startOnce(context.Background(), &wg)
	t0 := time.Unix(1700000000, 0)
	got := make(chan time.Time, 16)
	var readers sync.WaitGroup
	for _, s := range d.shards {
		readers.Add(1)
		go func(s *shardSource) {
			defer readers.Done()
			defer s.Close() // on the shard's goroutine, as the read loop does
			for {
				_, ci, err := s.Next()
				if err == errTick {
					continue
				}
				if err != nil {
					return
				}
				got <- ci.Timestamp
			}
		}(s)
	}
	src.ch <- gopacket.CaptureInfo{Timestamp: t0}                       // flushed at once (first flush mark)
	src.ch <- gopacket.CaptureInfo{Timestamp: t0.Add(time.Millisecond)} // held: 1 ms of packet time
	src.ch <- gopacket.CaptureInfo{Timestamp: t0.Add(-time.Second)}     // time goes back: flush both
	want := []time.Time{t0, t0.Add(time.Millisecond), t0.Add(-time.Second)}
	for i, w := range want {
		select {
		case ts := <-got:
			if !ts.Equal(w) {
				t.Fatalf("frame %d at %v, want %v", i, ts, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d (%v) still held by the reader", i, w)
		}
	}
	close(src.ch)
	readers.Wait()
	wg.Wait()
}
