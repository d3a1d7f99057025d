package main

import (
	"os"
	"runtime/debug"

	"github.com/network-traffic/network-traffic/internal/heapwatch"
)

// GC defaults for a capture process, unless GOGC or GOMEMLIMIT say
// otherwise. Every event allocates a little (per-transaction parsing) while
// the live heap stays small (connections, pending transactions), so Go's
// default GOGC=100 collects very often, and each cycle also rescans
// gopacket's large pointer tables. GOGC=200 halves the number of cycles
// (about 10% less CPU on the benchmark capture) for a heap target three
// times the live heap (about 10 MB live, 40 MB heap on the benchmark
// capture). The soft memory limit makes the collector work harder instead
// of letting a burst push the process past it: Go's memory plus the ~25 MB
// the binary, libpcap and the C side add keeps RSS under 90 MB. Raise
// GOMEMLIMIT for captures with very many concurrent connections (a live
// heap near the limit makes the collector run continuously).
const (
	defaultGOGC     = 200
	defaultMemLimit = 64 << 20
)

func tuneGC() {
	heapwatch.Start()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemLimit)
	}
}
