// Package docsink is the capture sink tests decode into: it keeps every
// document it is sent, parsed, with the index it was sent to under
// "_index". It is safe for the capture's concurrent workers.
package docsink

import (
	"encoding/json"
	"sync"

	"github.com/network-traffic/network-traffic/input/output"
)

// Sink keeps the documents; the zero value is ready.
type Sink struct {
	mu   sync.Mutex
	docs []map[string]any
}

// Send parses the document; a body that is not a JSON object is a bug in
// the code under test, so it panics rather than being skipped.
func (s *Sink) Send(d output.Doc) {
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		panic(err)
	}
	m["_index"] = d.Index
	s.mu.Lock()
	s.docs = append(s.docs, m)
	s.mu.Unlock()
}

// All returns the documents so far, in the order they were sent.
func (s *Sink) All() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.docs...)
}
