package heapwatch

import (
	"runtime"
	"testing"
	"time"
)

var keep [][]byte

// waitPeak collects until the finalizer has recorded a peak of at least
// min bytes (it runs on the finalizer goroutine, after the cycle).
func waitPeak(min uint64) uint64 {
	deadline := time.Now().Add(5 * time.Second)
	for PeakLive() < min && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	return PeakLive()
}

// Holding 64 MiB across a collection shows as a peak of at least that,
// releasing it does not lower the peak, and the cycles are counted.
func TestPeakLiveFollowsTheLiveHeap(t *testing.T) {
	Start()
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	held := waitPeak(64 << 20)
	if held < 64<<20 {
		t.Fatalf("peak %d MiB while holding 64 MiB", held>>20)
	}
	keep = nil
	c := Cycles()
	for deadline := time.Now().Add(5 * time.Second); Cycles() < c+2 && time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if PeakLive() < held {
		t.Fatalf("peak fell from %d to %d after release", held, PeakLive())
	}
}
