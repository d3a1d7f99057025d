// Package output sends encoded documents somewhere: NDJSON to a file or
// stdout, Elasticsearch bulk, or the Elastic Agent shipper.
package output

import "context"

// Doc is one encoded document and where it goes.
type Doc struct {
	// Index is the target data stream or index, e.g.
	// "logs-network_traffic.dns-default". Outputs that do not route (NDJSON)
	// ignore it.
	Index string
	// Body is the JSON document. The output owns it after Publish.
	Body []byte
	// ID, when set, is the document's _id (a processor's @metadata._id);
	// otherwise outputs that need one make it.
	ID string
}

// Output is a destination for documents. Publish blocks until the batch is
// accepted (written, acknowledged, or counted as permanently failed), which
// is how backpressure reaches the capture side. Implementations are used
// from one goroutine.
type Output interface {
	Publish(ctx context.Context, batch []Doc) error
	Close() error
}

// Stats is what an output reports for health and diagnostics.
type Stats struct {
	Published uint64 // accepted by the destination
	Failed    uint64 // permanently rejected (e.g. mapping errors), counted and logged
	Retries   uint64
	LastError string
}

// StatsReporter is implemented by outputs that keep Stats.
type StatsReporter interface {
	Stats() Stats
}
