package tcp

// Add adds o's counters to s: the figures of several assemblers (one per
// shard) add up to those of the capture. Active and Buffered are gauges,
// and the sum of gauges is the capture's gauge.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Connections += o.Connections
	s.Ignored += o.Ignored
	s.Active += o.Active
	s.Closed += o.Closed
	s.Expired += o.Expired
	s.Evicted += o.Evicted
	s.Retransmits += o.Retransmits
	s.OutOfOrder += o.OutOfOrder
	s.Gaps += o.Gaps
	s.GapBytes += o.GapBytes
	s.BufferDrops += o.BufferDrops
	s.TailOverflows += o.TailOverflows
	s.Quarantined += o.Quarantined
	s.Buffered += o.Buffered
	s.AckEvents += o.AckEvents
	s.AckedBytes += o.AckedBytes
	s.AckedGapEvents += o.AckedGapEvents
	s.AckedUnseenBytes += o.AckedUnseenBytes
}
