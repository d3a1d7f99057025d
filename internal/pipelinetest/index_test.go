package pipelinetest

import (
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/internal/estest"
)

// setup installs ds's pipelines and index template and returns its resolved fields.
func setup(t *testing.T, c *estest.Client, p *estest.Package, ds string) []estest.Field {
	t.Helper()
	if _, err := c.InstallPipelines(p, ds); err != nil {
		t.Fatal(err)
	}
	gaps, err := c.InstallIndexTemplate(p, ds)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gaps {
		t.Logf("engine gap: %s is %s in Elasticsearch 8, %s here", g.Field, g.ES8, g.Engine)
	}
	fields, err := p.Fields(ds)
	if err != nil {
		t.Fatal(err)
	}
	fields, err = estest.Resolve(fields)
	if err != nil {
		t.Fatal(err)
	}
	return fields
}

// TestIndexTemplates indexes every data stream's documents through its pipelines into
// logs-network_traffic.<ds>-default with the package's mappings (pipeline test events,
// _dev/events/<ds>.ndjson from real captures, sample_event.json), and fails on any mapping
// error, pipeline_error, ignored field or field the package does not define.
func TestIndexTemplates(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range p.DataStreams() {
		t.Run(ds, func(t *testing.T) {
			fields := setup(t, c, p, ds)
			docs, from, err := IndexDocs(p.Root, ds)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) == 0 {
				t.Fatalf("no documents to index for %s", ds)
			}
			t.Logf("%d documents", len(docs))
			res, err := IndexAndCheck(c, estest.DataStreamName(ds, "default"), fields, docs, from)
			if err != nil {
				t.Fatal(err)
			}
			if res.Docs != len(docs) {
				t.Errorf("%d documents sent, %d found", len(docs), res.Docs)
			}
			if len(res.Problems) > 0 {
				t.Errorf("%d problems:\n  %s", len(res.Problems), strings.Join(res.Problems, "\n  "))
			}
		})
	}
}

// TestIndexChecksCatchProblems proves the checks above can fail: each broken document must be
// reported.
func TestIndexChecksCatchProblems(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	fields := setup(t, c, p, "dns")
	base := func() map[string]any {
		return map[string]any{"@timestamp": "2026-01-01T00:00:00Z", "_conf": map[string]any{"map_to_ecs": true}}
	}
	undefined := base()
	undefined["not_a_package_field"] = "x"
	ignored := base()
	ignored["dns"] = map[string]any{"question": map[string]any{"name": strings.Repeat("a", 1100)}}
	broken := base()
	broken["host"] = map[string]any{"mac": 7}
	unmappable := base()
	unmappable["dns"] = map[string]any{"answers_count": "many"}
	res, err := IndexAndCheck(c, estest.DataStreamName("dns", "selfcheck"), fields,
		[]map[string]any{undefined, ignored, broken, unmappable},
		[]string{"undefined", "ignored", "broken", "unmappable"})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(res.Problems, "\n")
	for _, want := range []string{
		"field not_a_package_field (in 1 documents) is not defined",
		"over ignore_above 1024",
		"pipeline_error",
		"unmappable: not indexed",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problem %q not reported; got:\n%s", want, all)
		}
	}
	_ = c.Delete("/_data_stream/" + estest.DataStreamName("dns", "selfcheck"))
}
