package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A standalone `output:` section with an Elasticsearch preset runs the
// publish queue with the preset's queue.mem values (read back from
// -stats-json), and a `queue:` section beside a non-custom preset is a
// config error naming both. The stream decodes nothing of the capture, so
// the output (a closed port) is never called.
func TestStandalonePresetQueue(t *testing.T) {
	dir := t.TempDir()
	streams := "id: standalone\ntype: packet\nstreams:\n  - {id: cassandra, type: cassandra}\n"
	out := "output:\n  type: elasticsearch\n  hosts: [\"http://127.0.0.1:1\"]\n  preset: latency\n"
	cfg := filepath.Join(dir, "c.yml")
	os.WriteFile(cfg, []byte(streams+out), 0o644)
	sj := filepath.Join(dir, "stats.json")
	var so, se bytes.Buffer
	if code := run([]string{"-c", cfg, "-I", samplePcap, "-t", "-stats-json", sj}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	raw, err := os.ReadFile(sj)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Queue struct {
			Type     string         `json:"type"`
			Settings map[string]any `json:"settings"`
		} `json:"queue"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	// Elastic's documented latency preset: queue.mem.events 4100,
	// flush.min_events 2050, flush.timeout 1s.
	s := st.Queue.Settings
	if st.Queue.Type != "mem" || s["events"] != 4100.0 || s["flush.min_events"] != 2050.0 || s["flush.timeout"] != "1s" {
		t.Fatalf("queue %s", raw)
	}

	os.WriteFile(cfg, []byte(streams+out+"queue:\n  mem: {events: 100}\n"), 0o644)
	so.Reset()
	se.Reset()
	if code := run([]string{"-c", cfg, "-I", samplePcap, "-t"}, &so, &se); code != 1 ||
		!strings.Contains(se.String(), "queue.mem") || !strings.Contains(se.String(), `preset "latency"`) {
		t.Fatalf("queue beside a preset: exit %d: %s", code, se.String())
	}
}
