// Package samples produces the package's sample events and the per data
// stream event sets that the index test loads, by running the real capture
// pipeline over the real captures under _dev/pcaps. Generated files are
// committed; a test regenerates them and fails when they are stale, so what
// the package shows is what the binary emits.
package samples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/output"
)

// Source is one capture and the stream that decodes it.
type Source = protocol.SampleSource

// SampleHost stands for the machine that captured: every document carries
// agent.* and host.* as Packetbeat writes them, and the samples show them
// with these fixed values rather than those of whoever regenerates them.
var SampleHost = hostmeta.Fixed(nil, map[string]any{
	"agent": map[string]any{
		"ephemeral_id": "5a0b2c8e-4f3d-4b1e-9c7a-2d6f8e1a3b4c", "id": "d9c1b2a3-7e6f-4a5b-8c9d-0e1f2a3b4c5d",
		"name": "nt-sample", "type": "packetbeat", "version": "0.1.0",
	},
	"host": map[string]any{
		"architecture": "x86_64", "containerized": false, "hostname": "nt-sample",
		"id": "8f5c2b3a1d4e4f6a9b7c0d1e2f3a4b5c", "ip": []any{"192.0.2.10", "2001:db8::10"},
		"mac": []any{"02-42-C0-00-02-0A"}, "name": "nt-sample",
		"os": map[string]any{
			"codename": "bookworm", "family": "debian", "kernel": "6.1.0-18-amd64", "name": "Debian GNU/Linux",
			"platform": "debian", "type": "linux", "version": "12 (bookworm)",
		},
	},
})

// Sources lists the captures per data stream decoded so far.
// Sources lists the captures of every data stream, as each protocol
// package registers them (protocol.AddSamples): adding a protocol adds its
// samples from its own folder.
var Sources = protocol.Samples()

type collector struct {
	mu   sync.Mutex
	docs [][]byte
}

func (c *collector) Send(d output.Doc) {
	c.mu.Lock()
	c.docs = append(c.docs, d.Body)
	c.mu.Unlock()
}

// Run decodes one source and returns its documents in publication order.
func Run(root string, src Source) ([][]byte, error) {
	stream := map[string]any{"id": src.DataStream}
	for k, v := range src.Stream {
		stream[k] = v
	}
	// One worker: the documents of several shards interleave in whatever
	// order the shards run, and the committed files must not change from
	// one run to the next.
	stream["interface"] = map[string]any{"file": filepath.Join(root, src.Pcap), "top_speed": true, "workers": 1}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{stream}})
	if err != nil {
		return nil, err
	}
	if st := in.Streams[0]; st.Err != nil {
		return nil, st.Err
	}
	col := &collector{}
	w, err := capture.New(in, col, capture.Options{Host: SampleHost})
	if err != nil {
		return nil, err
	}
	if err := w.Run(context.Background()); err != nil {
		return nil, err
	}
	return col.docs, nil
}

// Generate decodes every source and returns, per data stream, the pretty
// sample event and the NDJSON of every event.
func Generate(root string) (samples map[string][]byte, events map[string][]byte, err error) {
	samples, events, _, err = GenerateAll(root)
	return samples, events, err
}

// GenerateAll is Generate plus the named examples (Source.Example).
func GenerateAll(root string) (samples, events, examples map[string][]byte, err error) {
	samples, events, examples = map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	for _, src := range Sources {
		docs, err := Run(root, src)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s from %s: %w", src.DataStream, src.Pcap, err)
		}
		if len(docs) == 0 {
			return nil, nil, nil, fmt.Errorf("%s from %s: no events", src.DataStream, src.Pcap)
		}
		for _, d := range docs {
			events[src.DataStream] = append(append(events[src.DataStream], d...), '\n')
		}
		if src.Example != "" {
			if src.ExampleIndex >= len(docs) {
				return nil, nil, nil, fmt.Errorf("%s from %s: example %d of %d events", src.DataStream, src.Pcap, src.ExampleIndex, len(docs))
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, sortedJSON(docs[src.ExampleIndex]), "", "    "); err != nil {
				return nil, nil, nil, err
			}
			pretty.WriteByte('\n')
			examples[src.Example] = pretty.Bytes()
		}
		if src.Sample == -2 {
			continue // contributes events only
		}
		pick := 0
		if src.Sample >= 0 && src.Sample < len(docs) {
			pick = src.Sample
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, sortedJSON(docs[pick]), "", "    "); err != nil {
			return nil, nil, nil, err
		}
		pretty.WriteByte('\n')
		samples[src.DataStream] = pretty.Bytes()
	}
	return samples, events, examples, nil
}

// sortedJSON re-encodes a document with keys sorted, as sample files
// conventionally are.
func sortedJSON(doc []byte) []byte {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return doc
	}
	out, err := json.Marshal(v) // encoding/json sorts map keys
	if err != nil {
		return doc
	}
	return out
}

// Paths of the generated files.
func SamplePath(root, ds string) string {
	return filepath.Join(root, "package", ds, "sample_event.json")
}
func EventsPath(root, ds string) string {
	return filepath.Join(root, "_dev", "events", ds+".ndjson")
}
func ExamplePath(root, name string) string {
	return filepath.Join(root, "package", "_docs", "examples", name+".json")
}

// Write regenerates the files.
func Write(root string) ([]string, error) {
	samples, events, examples, err := GenerateAll(root)
	if err != nil {
		return nil, err
	}
	var wrote []string
	if len(examples) > 0 {
		if err := os.MkdirAll(filepath.Dir(ExamplePath(root, "x")), 0o755); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(examples) {
		if err := os.WriteFile(ExamplePath(root, name), examples[name], 0o644); err != nil {
			return nil, err
		}
		wrote = append(wrote, ExamplePath(root, name))
	}
	for _, ds := range sortedKeys(samples) {
		if err := os.WriteFile(SamplePath(root, ds), samples[ds], 0o644); err != nil {
			return nil, err
		}
		wrote = append(wrote, SamplePath(root, ds))
	}
	if err := os.MkdirAll(filepath.Join(root, "_dev", "events"), 0o755); err != nil {
		return nil, err
	}
	for _, ds := range sortedKeys(events) {
		if err := os.WriteFile(EventsPath(root, ds), events[ds], 0o644); err != nil {
			return nil, err
		}
		wrote = append(wrote, EventsPath(root, ds))
	}
	return wrote, nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
