// Package heapwatch records the largest live heap the garbage collector
// has measured since Start. A bound on memory that the tables promise is a
// bound on the live heap; peak RSS adds the collector's headroom, which
// depends on how promptly the collector's goroutines get a CPU, so it
// varies with the machine's load while the live heap does not.
package heapwatch

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

var (
	once   sync.Once
	peak   atomic.Uint64
	cycles atomic.Uint64
)

// Start begins watching (once per process; later calls do nothing). The
// cost is one metrics read per GC cycle, off the packet path: a finalizer
// on a sentinel object runs after each cycle that found it unreachable,
// and re-arms itself on a fresh sentinel.
func Start() {
	once.Do(arm)
}

// sentinel is larger than the tiny-allocator size (16 bytes), whose
// combined blocks may never be finalized.
type sentinel struct{ _ [32]byte }

func arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		record()
		arm()
	})
}

// samples is read only by record, which runs on the runtime's single
// finalizer goroutine: no locking, nothing allocated per cycle.
var samples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}

func record() {
	s := samples
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		live := s[0].Value.Uint64()
		if live > peak.Load() { // the only writer: see samples
			peak.Store(live)
		}
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		cycles.Store(s[1].Value.Uint64())
	}
}

// PeakLive returns the largest live heap, in bytes, measured at the end of
// a GC cycle since Start (0 before the first cycle).
func PeakLive() uint64 { return peak.Load() }

// Cycles returns the number of completed GC cycles at the last one seen.
func Cycles() uint64 { return cycles.Load() }
