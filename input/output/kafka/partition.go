package kafka

import (
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioning follows the Beats Kafka output's `partition` settings:
//
//   - random: a random partition, kept for group_events documents;
//   - round_robin: the next partition, every group_events documents;
//   - hash: FNV-1a 32 of the `hash` fields' values (or of the key when no
//     fields are set), as sarama's hash partitioner computes it; a document
//     with nothing to hash goes to a random partition when `random` is
//     set, else to the partition of the empty hash (all such documents
//     together).
//
// reachable_only limits the choice to partitions that have a leader now
// (franz-go's "writable" partitions); without it a document may wait for
// its partition's leader to come back, keeping the hash mapping stable.
type partitioner struct {
	kind          string // random, round_robin, hash
	group         int    // group_events
	hashFields    []string
	hashRandom    bool
	reachableOnly bool
}

const (
	partRandom     = "random"
	partRoundRobin = "round_robin"
	partHash       = "hash"
)

// The hash of a record is computed in Publish, where the document is at
// hand, and carried to the partitioner in Record.Offset, which franz-go
// only sets once the record is written (it leaves a record untouched until
// it is partitioned, and documents this use for custom partitioners).
// noHash marks "nothing to hash".
const noHash = -1

func (p *partitioner) ForTopic(string) kgo.TopicPartitioner {
	switch p.kind {
	case partHash:
		return &hashTP{p: p}
	case partRoundRobin:
		return &groupTP{p: p, next: func(cur, n int) int { return (cur + 1) % n }}
	default:
		return &groupTP{p: p, next: func(_, n int) int { return rand.IntN(n) }}
	}
}

// groupTP keeps a partition for group documents, then moves on. franz-go
// calls one topic's partitioner from one goroutine at a time.
type groupTP struct {
	p       *partitioner
	cur     int
	count   int
	started bool
	next    func(cur, n int) int
}

func (t *groupTP) RequiresConsistency(*kgo.Record) bool { return !t.p.reachableOnly }

func (t *groupTP) Partition(_ *kgo.Record, n int) int {
	switch {
	case !t.started:
		t.started = true
		t.cur = t.next(-1, n)
	case t.count >= t.p.group:
		t.cur = t.next(t.cur, n)
		t.count = 0
	}
	t.count++
	if t.cur >= n { // fewer partitions than last time
		t.cur %= n
	}
	return t.cur
}

type hashTP struct{ p *partitioner }

func (t *hashTP) RequiresConsistency(*kgo.Record) bool { return !t.p.reachableOnly }

func (t *hashTP) Partition(r *kgo.Record, n int) int {
	if r.Offset == noHash {
		if t.p.hashRandom {
			return rand.IntN(n)
		}
		return hashPartition(fnvOffset32, n)
	}
	return hashPartition(uint32(r.Offset), n)
}

// hashPartition maps a hash to a partition the way sarama does.
func hashPartition(h uint32, n int) int {
	p := int32(h) % int32(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

// fnv32a hashes without allocating (hash/fnv's New32a escapes).
type fnv32a uint32

const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

func newFNV() fnv32a { return fnvOffset32 }

func (h *fnv32a) write(b []byte) {
	x := uint32(*h)
	for _, c := range b {
		x ^= uint32(c)
		x *= fnvPrime32
	}
	*h = fnv32a(x)
}
