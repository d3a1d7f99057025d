package publish

import (
	"context"

	"github.com/network-traffic/network-traffic/input/output"
)

// Pipeline is what the capture side and the run loops (standalone and
// agent) use of a queue: the memory Queue here and the disk queue
// (input/publish/diskqueue) both implement it.
type Pipeline interface {
	Send(d output.Doc)
	SendCopy(index string, body []byte)
	Run(ctx context.Context)
	Close()
	SetOutput(out output.Output) output.Output
	Output() output.Output
	Depth() int
	Capacity() int
	Blocked() uint64
	Sent() uint64
	Failures() uint64
	Undelivered() uint64
	LastError() string
}

// StateReporter is implemented by queues with more state than the
// Pipeline counters (the disk queue: bytes used, segments, oldest
// unacknowledged event), for diagnostics and -stats-json.
type StateReporter interface {
	QueueState() map[string]any
}

var (
	_ Pipeline      = (*Queue)(nil)
	_ StateReporter = (*Queue)(nil)
)
