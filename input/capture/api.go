// Package capture runs one packet input: it opens each interface (live or a
// pcap file), decodes packets, feeds the protocol engine and hands encoded
// documents to a Sink.
package capture

import (
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/output"
)

// Sink receives encoded documents. Send blocks when the queue behind it is
// full, which slows capture instead of growing memory (libpcap then drops and
// the drop counters say so).
type Sink interface {
	Send(doc output.Doc)
}

// CopySink is a Sink that can take a document the caller will overwrite
// right after the call: it copies the bytes into memory it recycles (the
// publish queue's batch buffers), which saves an allocation per event.
type CopySink interface {
	Sink
	SendCopy(index string, body []byte)
}

// StreamState is the health of one stream, for the unit payload
// `streams: {<id>: {status, error}}`.
type StreamState struct {
	Status string `json:"status"` // HEALTHY, DEGRADED, FAILED
	Error  string `json:"error,omitempty"`
}

// ProtocolCounters are per-protocol figures for diagnostics.
type ProtocolCounters struct {
	Packets      uint64 `json:"packets"`
	Bytes        uint64 `json:"bytes"`
	Transactions uint64 `json:"transactions"`
	ParseErrors  uint64 `json:"parse_errors"`
	Gaps         uint64 `json:"gaps"`
	Drops        uint64 `json:"drops"`
}

// Stats is a snapshot of a worker's counters.
type Stats struct {
	Packets       uint64 `json:"packets"`
	Bytes         uint64 `json:"bytes"`
	DecodeErrors  uint64 `json:"decode_errors"`
	Events        uint64 `json:"events"`
	DroppedEvents uint64 `json:"dropped_events"` // by processors (drop_event)
	// IgnoredOutgoing counts events not published by ignore_outgoing
	// (initiated by this host).
	IgnoredOutgoing uint64 `json:"ignored_outgoing"`
	// ProcessorErrors counts events a processor failed on (published with
	// error.message).
	ProcessorErrors uint64 `json:"processor_errors"`
	// Kernel counters of live captures: libpcap's pcap_stats for type
	// pcap, PACKET_STATISTICS for af_packet. PcapReceived is every packet
	// the capture filter accepted, the dropped ones included; loopback
	// packets count once (see outgoingFilter).
	PcapReceived  uint64 `json:"pcap_received"`
	PcapDropped   uint64 `json:"pcap_dropped"`
	PcapIfDropped uint64 `json:"pcap_ifdropped"`
	// Shards is how many decoding shards run (summed over captures);
	// ShardDropped counts frames the reader could not hand to a shard
	// because that shard had stopped on an internal error.
	Shards       int    `json:"shards"`
	ShardDropped uint64 `json:"shard_dropped"`
	// ShardQueues is what waits in each shard's input queue (captures
	// with more than one worker).
	ShardQueues []ShardQueue `json:"shard_queues,omitempty"`
	// Rings describes the kernel ring of each live capture.
	Rings          []RingInfo                  `json:"rings,omitempty"`
	Protocols      map[string]ProtocolCounters `json:"protocols"`
	ActiveTCPConns int                         `json:"active_tcp_connections"`
	ActiveFlows    int                         `json:"active_flows"`
	// ParserPanics counts protocol parser panics recovered (each took a
	// connection or a datagram out of decoding).
	ParserPanics uint64 `json:"parser_panics"`
	// Decode and TCP are summed over every capture of the worker.
	Decode link.Stats `json:"decode"`
	TCP    tcp.Stats  `json:"tcp"`
	// CaptureLoss estimates what the capture missed from the peers' ACKs.
	CaptureLoss CaptureLoss `json:"capture_loss"`
	// Dropped is every discard, by layer and reason (see DropRow).
	Dropped []DropRow `json:"dropped"`
}
