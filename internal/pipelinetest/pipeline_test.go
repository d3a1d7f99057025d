package pipelinetest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/internal/estest"
)

func generate() bool { return os.Getenv("NT_PIPELINE_GENERATE") != "" }

// TestPipelines runs every data stream's pipeline test cases through the default pipeline
// with _ingest/pipeline/<name>/_simulate and compares the output with the expected files.
func TestPipelines(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, ds := range p.DataStreams() {
		t.Run(ds, func(t *testing.T) {
			cases, err := LoadCases(p.Root, ds)
			if err != nil {
				t.Fatal(err)
			}
			if len(cases) == 0 {
				t.Fatalf("no pipeline test cases in %s", CaseDir(p.Root, ds))
			}
			def, err := c.InstallPipelines(p, ds)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				total += len(tc.Events)
				t.Run(tc.Name, func(t *testing.T) { runCase(t, c, def, p.Version, tc) })
			}
		})
	}
	t.Logf("%d documents simulated", total)
}

func runCase(t *testing.T, c *estest.Client, pipeline, version string, tc *Case) {
	// The engine changes the documents it is given only in its own copy, but Simulate
	// encodes them; hand it a deep copy anyway so the case stays pristine.
	docs := make([]map[string]any, len(tc.Events))
	for i, e := range tc.Events {
		docs[i] = deepCopy(e)
	}
	res, err := c.Simulate(pipeline, estest.DataStreamName(tc.DataStream, "default"), docs)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]map[string]any, len(res))
	for i, r := range res {
		if r.Source == nil {
			// Our pipelines handle failures themselves: a document must never be lost.
			t.Fatalf("event %d: dropped by the pipeline: %s", i, r.Error)
		}
		// Installed pipeline names carry the package version (error messages quote them);
		// expected files say VERSION so a version bump does not rewrite them all.
		got[i] = replaceStrings(r.Source, "-"+version, "-VERSION").(map[string]any)
	}
	if generate() {
		if err := tc.WriteExpected(got); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", tc.ExpectedPath())
		return
	}
	if tc.Expected == nil {
		t.Fatalf("%s missing: run with NT_PIPELINE_GENERATE=1 and review it", tc.ExpectedPath())
	}
	if len(tc.Expected) != len(got) {
		t.Fatalf("%d documents out, %d expected", len(got), len(tc.Expected))
	}
	for i := range got {
		if d := Diff(tc.Expected[i], got[i], tc.Dynamic); len(d) > 0 {
			t.Errorf("event %d differs from %s:\n  %s", i, tc.ExpectedPath(), strings.Join(d, "\n  "))
		}
	}
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// replaceStrings replaces old with new in every string value of v.
func replaceStrings(v any, old, new string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = replaceStrings(e, old, new)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = replaceStrings(e, old, new)
		}
		return x
	case string:
		return strings.ReplaceAll(x, old, new)
	default:
		return v
	}
}
