package pipelinetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/estest"
)

// TestIndexCaptures runs our own binary over every checked-in capture (_dev/pcaps/**) and
// indexes what it publishes, per data stream, through the package's pipelines and mappings
// into logs-network_traffic.<ds>-captures: once with map_to_ecs and geoip_enrich on (the
// defaults) and once with both off. It fails like TestIndexTemplates. Data streams appear
// here as their decoders land.
func TestIndexCaptures(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	pcaps, err := findCaptures(filepath.Join(p.Root, "_dev", "pcaps"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pcaps) == 0 {
		t.Fatal("no captures under _dev/pcaps")
	}
	bin := filepath.Join(t.TempDir(), "network-traffic")
	build := exec.Command("go", "build", "-o", bin, "./cmd/network-traffic")
	build.Dir = p.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the binary: %v\n%s", err, out)
	}

	byDS := map[string][]map[string]any{}
	from := map[string][]string{}
	for _, pc := range pcaps {
		docs, err := runBinary(bin, pc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(p.Root, pc)
		for i, d := range docs {
			ds, _ := dig(d, "data_stream", "dataset").(string)
			ds = strings.TrimPrefix(ds, "network_traffic.")
			if ds == "" {
				t.Fatalf("%s document %d has no data_stream.dataset", rel, i)
			}
			for _, on := range []bool{true, false} {
				doc := deepCopy(d)
				// What the stream template's `fields: _conf` adds under Fleet.
				doc["_conf"] = map[string]any{"map_to_ecs": on, "geoip_enrich": on}
				byDS[ds] = append(byDS[ds], doc)
				from[ds] = append(from[ds], fmt.Sprintf("%s document %d (map_to_ecs %v)", rel, i, on))
			}
		}
	}
	names := make([]string, 0, len(byDS))
	for ds := range byDS {
		names = append(names, ds)
	}
	sort.Strings(names)
	t.Logf("%d captures, documents per data stream: %v", len(pcaps), counts(byDS))
	known := map[string]bool{}
	for _, ds := range p.DataStreams() {
		known[ds] = true
	}
	for _, ds := range names {
		t.Run(ds, func(t *testing.T) {
			if !known[ds] {
				t.Fatalf("the binary publishes data stream %s, which the package does not have", ds)
			}
			fields := setup(t, c, p, ds)
			res, err := IndexAndCheck(c, estest.DataStreamName(ds, "captures"), fields, byDS[ds], from[ds])
			if err != nil {
				t.Fatal(err)
			}
			if res.Docs != len(byDS[ds]) {
				t.Errorf("%d documents sent, %d found", len(byDS[ds]), res.Docs)
			}
			if len(res.Problems) > 0 {
				t.Errorf("%d problems:\n  %s", len(res.Problems), strings.Join(res.Problems, "\n  "))
			}
		})
	}
}

func counts(m map[string][]map[string]any) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v) / 2
	}
	return out
}

func findCaptures(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			out = append(out, path)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// runBinary reads one capture with the binary's defaults and returns its NDJSON documents.
func runBinary(bin, pcap string) ([]map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-I", pcap, "-o", "-")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -I %s: %v\n%s", bin, pcap, err, stderr.String())
	}
	var docs []map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var d map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", pcap, n, err)
		}
		docs = append(docs, d)
	}
	return docs, sc.Err()
}
