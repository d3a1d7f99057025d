package protocol

import (
	"sort"
	"sync"
)

// SampleSource is one real capture of a data stream and the stream config
// that decodes it. The package's sample event and the events its index
// test loads are made from these by the binary's own pipeline
// (internal/samples); each protocol package registers its own.
type SampleSource struct {
	DataStream string         // package data stream, e.g. "dns"
	Pcap       string         // relative to the repository root
	Stream     map[string]any // stream config (type, ports, options)
	// Sample picks the sample event among the capture's events (index);
	// -1 picks the first, -2 none (the capture contributes events only).
	Sample int
	// Example, with Sample -2, names an extra example event for the docs
	// ({{example "name"}}): package/_docs/examples/<name>.json, the event at
	// index ExampleIndex.
	Example      string
	ExampleIndex int
}

var (
	samplesMu   sync.Mutex
	samples     []SampleSource
	extraTypes  = map[string]string{} // stream type -> data stream, for flow and icmp
	extraStream []string
)

// AddSamples registers sample captures (from a protocol package's init).
func AddSamples(src ...SampleSource) {
	samplesMu.Lock()
	defer samplesMu.Unlock()
	samples = append(samples, src...)
}

// Samples returns every registered sample capture, grouped by data stream
// in the order each package registered them.
func Samples() []SampleSource {
	samplesMu.Lock()
	defer samplesMu.Unlock()
	out := append([]SampleSource(nil), samples...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].DataStream < out[j].DataStream })
	return out
}

// RegisterDataStream declares a data stream whose stream type is not a
// port-based protocol of the registry (flow, icmp).
func RegisterDataStream(streamType, dataStream string) {
	samplesMu.Lock()
	defer samplesMu.Unlock()
	extraTypes[streamType] = dataStream
	extraStream = append(extraStream, dataStream)
}

// DataStreamOf is the package data stream of a stream type: the Spec's
// DataStream (its Name when unset), or a RegisterDataStream one; "" when
// the type is unknown.
func DataStreamOf(streamType string) string {
	if s, ok := Lookup(streamType); ok {
		if s.DataStream != "" {
			return s.DataStream
		}
		return s.Name
	}
	samplesMu.Lock()
	defer samplesMu.Unlock()
	return extraTypes[streamType]
}

// DataStreams lists every data stream of the package, sorted.
func DataStreams() []string {
	var out []string
	for _, n := range Names() {
		out = append(out, DataStreamOf(n))
	}
	samplesMu.Lock()
	out = append(out, extraStream...)
	samplesMu.Unlock()
	sort.Strings(out)
	return out
}
