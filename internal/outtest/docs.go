package outtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/network-traffic/network-traffic/input/output"
)

// Sample is one sample event of the Fleet package.
type Sample struct {
	Stream string // package data stream, e.g. "dns"
	Index  string // logs-network_traffic.<stream>-default
	Body   []byte // compact JSON
	Doc    map[string]any
}

// Samples loads package/*/sample_event.json, sorted by stream.
func Samples() ([]Sample, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	files, err := filepath.Glob(filepath.Join(root, "package", "*", "sample_event.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no sample events under %s/package: %v", root, err)
	}
	sort.Strings(files)
	var out []Sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		ds, _ := m["data_stream"].(map[string]any)
		index := fmt.Sprintf("%v-%v-%v", ds["type"], ds["dataset"], ds["namespace"])
		out = append(out, Sample{Stream: filepath.Base(filepath.Dir(f)), Index: index, Body: b.Bytes(), Doc: m})
	}
	return out, nil
}

// Docs returns n documents cycling through the samples, each with a "seq"
// field from..from+n-1 added in front (the sequence the no-loss tests
// check).
func Docs(samples []Sample, from, n int) []output.Doc {
	out := make([]output.Doc, n)
	for i := range out {
		s := samples[(from+i)%len(samples)]
		body := fmt.Appendf(nil, `{"seq":%d,`, from+i)
		body = append(body, s.Body[1:]...)
		out[i] = output.Doc{Index: s.Index, Body: body}
	}
	return out
}
