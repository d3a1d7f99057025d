package capture

import "sync/atomic"

// shardQueue counts what waits between the reader and one shard: batches
// (and their frames) the dispatcher has handed over, including one it is
// blocked on because the shard's queue is full, that the shard has not
// taken yet. Updated once per batch, not per frame. Only the dispatcher
// raises the high-water marks, so plain stores suffice for them. A batch
// is counted until the shard has received it and counted it taken, so in
// that instant the reader may already be handing the next one: the marks
// can exceed the queue's capacity plus the batch in hand by one batch.
// (The channel's len would be exact for batches but not for frames.)
type shardQueue struct {
	batches, frames       atomic.Int64
	maxBatches, maxFrames atomic.Int64
}

func (q *shardQueue) handed(frames int) {
	if n := q.batches.Add(1); n > q.maxBatches.Load() {
		q.maxBatches.Store(n)
	}
	if n := q.frames.Add(int64(frames)); n > q.maxFrames.Load() {
		q.maxFrames.Store(n)
	}
}

func (q *shardQueue) taken(frames int) {
	q.batches.Add(-1)
	q.frames.Add(-int64(frames))
}

// ShardQueue is one shard's input queue in Stats: what waits now and the
// most that waited at once since the capture started. Capacity is how many
// batches the queue holds before the reader blocks (each batch holds up to
// BatchFrames frames).
type ShardQueue struct {
	Capture     string `json:"capture"` // the interface key (device:eth0, file:x.pcap)
	Shard       int    `json:"shard"`
	Batches     int64  `json:"batches"`
	Frames      int64  `json:"frames"`
	MaxBatches  int64  `json:"max_batches"`
	MaxFrames   int64  `json:"max_frames"`
	Capacity    int    `json:"capacity_batches"`
	BatchFrames int    `json:"batch_frames"`
}

func (s *shardSource) queueStats() ShardQueue {
	return ShardQueue{
		Capture: s.d.iface.Key(), Shard: s.idx,
		Batches: s.q.batches.Load(), Frames: s.q.frames.Load(),
		MaxBatches: s.q.maxBatches.Load(), MaxFrames: s.q.maxFrames.Load(),
		Capacity: cap(s.full), BatchFrames: shardBatchPackets,
	}
}
