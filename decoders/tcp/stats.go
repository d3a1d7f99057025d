package tcp

import "github.com/network-traffic/network-traffic/internal/counters"

// Add adds o's counters to s: the figures of several assemblers (one per
// shard) add up to those of the capture. Active and Buffered are gauges,
// and the sum of gauges is the capture's gauge.
func (s *Stats) Add(o Stats) {
	counters.Add(s, &o) // every counter field, so a new one cannot be left out
}
