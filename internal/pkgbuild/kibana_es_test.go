package pkgbuild_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/internal/estest"
	"github.com/network-traffic/network-traffic/internal/pipelinetest"
	"github.com/network-traffic/network-traffic/internal/pkgbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	estest.RemoveBuilt()
	os.Exit(code)
}

// kibanaQuery is one query a shipped Kibana object runs: its dataset filter (as the engine's
// query DSL, straight from the object) and its KQL, with the fields it shows.
type kibanaQuery struct {
	where    string
	datasets []string
	filter   map[string]any
	kql      string
	fields   []string
	all      bool // fields must be mapped in every dataset (controls), not just one
}

// The shipped saved searches and Lens panels, run on the real search node against the package's
// own documents (pipeline test events, events from real captures, sample events; those with
// map_to_ecs off or unset left out, the assets being for the default layout) indexed
// through the real pipelines and index templates: each saved search and each panel query
// matches at least one document of its data streams, and every field they show is mapped in
// the installed index of (one of, for controls every one of) their data streams.
func TestKibanaQueriesOnIndexedDocuments(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	queries := loadQueries(t, p.Dir)
	const ns = "kibana"
	indexed := 0
	for _, ds := range p.DataStreams() {
		if _, err := c.InstallPipelines(p, ds); err != nil {
			t.Fatal(err)
		}
		if _, err := c.InstallIndexTemplate(p, ds); err != nil {
			t.Fatal(err)
		}
		all, _, err := pipelinetest.IndexDocs(p.Root, ds)
		if err != nil {
			t.Fatal(err)
		}
		// Only documents of the layout the assets are for (map_to_ecs on, the default).
		var docs []map[string]any
		for _, d := range all {
			if conf, _ := d["_conf"].(map[string]any); conf["map_to_ecs"] == true {
				docs = append(docs, d)
			}
		}
		if len(docs) == 0 {
			t.Fatalf("%s: no documents with map_to_ecs on", ds)
		}
		target := estest.DataStreamName(ds, ns)
		if err := c.Delete("/_data_stream/" + target); err != nil {
			t.Fatal(err)
		}
		items, err := c.BulkCreate(target, docs)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Status >= 300 {
				t.Fatalf("%s: not indexed (HTTP %d): %s", target, it.Status, it.Error)
			}
		}
		indexed += len(docs)
		t.Cleanup(func() { _ = c.Delete("/_data_stream/" + target) })
	}
	count := func(q kibanaQuery) int {
		t.Helper()
		k, err := pkgbuild.ParseKQL(q.kql)
		if err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		var res struct {
			Count int `json:"count"`
		}
		body := map[string]any{"query": map[string]any{"bool": map[string]any{"filter": []any{q.filter, k.ToDSL()}}}}
		if err := c.Do("POST", "/logs-network_traffic.*-"+ns+"/_count", body, &res); err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		return res.Count
	}
	mapped := map[string]map[string]bool{}
	isMapped := func(ds, f string) bool {
		if mapped[ds] == nil {
			mapped[ds] = fieldMappings(t, c, estest.DataStreamName(ds, ns))
		}
		return mapped[ds][f]
	}
	searches, panels := 0, 0
	for _, q := range queries {
		if strings.Contains(q.where, "search/") {
			searches++
		} else if q.kql != "" {
			panels++
		}
		n := count(q)
		if n == 0 {
			t.Errorf("%s: query %q on %v matches none of the indexed documents", q.where, q.kql, q.datasets)
		}
		// A query narrows: one matching every document of its streams is a mistake (say, a
		// negation on a field no document has).
		if all := count(kibanaQuery{where: q.where, filter: q.filter}); q.kql != "" && n == all {
			t.Errorf("%s: query %q matches all %d documents of %v", q.where, q.kql, all, q.datasets)
		}
		for _, f := range q.fields {
			var in []string
			for _, ds := range q.datasets {
				if isMapped(ds, f) {
					in = append(in, ds)
				}
			}
			if len(in) == 0 || (q.all && len(in) != len(q.datasets)) {
				t.Errorf("%s: field %s is mapped in %v of %v", q.where, f, in, q.datasets)
			}
		}
	}
	// Every field shown has a value in some indexed document of its streams, so no panel or
	// column is dead on arrival; the exceptions say why the package's captures lack it.
	noValue := map[string]string{
		"network_traffic.thrift.service": "set only when idl_files names the service; the captures run without IDL",
	}
	for _, q := range queries {
		for _, f := range q.fields {
			if n := count(kibanaQuery{where: q.where, filter: q.filter, kql: f + " : *"}); n == 0 && noValue[f] == "" {
				t.Errorf("%s: field %s has no value in any indexed document of %v", q.where, f, q.datasets)
			}
		}
	}
	t.Logf("%d saved searches, %d panel queries checked on %d documents", searches, panels, indexed)
	if searches < 10 || panels < 10 {
		t.Errorf("only %d saved searches and %d panel queries found", searches, panels)
	}
	// The check can fail: a misspelt value or field matches nothing.
	bad := kibanaQuery{where: "self-check", filter: map[string]any{"match_all": map[string]any{}}}
	for _, kql := range []string{`network_traffic.status : "Erorr"`, `network_traffic.mysql.rows : *`} {
		bad.kql = kql
		if n := count(bad); n != 0 {
			t.Errorf("%q matches %d documents", kql, n)
		}
	}
}

// fieldMappings returns the leaf fields mapped in an index (data stream), by full name.
func fieldMappings(t *testing.T, c *estest.Client, index string) map[string]bool {
	t.Helper()
	var res map[string]struct {
		Mappings map[string]any `json:"mappings"`
	}
	if err := c.Do("GET", "/"+index+"/_mapping", nil, &res); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, v := range props {
			m, _ := v.(map[string]any)
			full := prefix + name
			if sub, ok := m["properties"].(map[string]any); ok {
				walk(full+".", sub)
			}
			if _, ok := m["type"]; ok {
				out[full] = true
			}
		}
	}
	for _, idx := range res {
		props, _ := idx.Mappings["properties"].(map[string]any)
		walk("", props)
	}
	return out
}

// loadQueries reads the saved searches and dashboard panels of the built package.
func loadQueries(t *testing.T, pkgDir string) []kibanaQuery {
	t.Helper()
	var out []kibanaQuery
	files, _ := filepath.Glob(filepath.Join(pkgDir, "kibana", "*", "*.json"))
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Join(pkgDir, "kibana"), f)
		var doc struct {
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		}
		readJSONFile(t, f, &doc)
		var source struct {
			Query struct {
				Query string `json:"query"`
			} `json:"query"`
			Filter []map[string]any `json:"filter"`
		}
		switch doc.Type {
		case "search":
			unstring(t, doc.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"], &source)
			q := datasetQuery(t, rel, source.Filter)
			q.kql = source.Query.Query
			for _, c := range doc.Attributes["columns"].([]any) {
				q.fields = append(q.fields, c.(string))
			}
			out = append(out, q)
		case "dashboard":
			unstring(t, doc.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"], &source)
			dq := datasetQuery(t, rel, source.Filter)
			var controls map[string]struct {
				ExplicitInput struct {
					FieldName string `json:"fieldName"`
				} `json:"explicitInput"`
			}
			unstring(t, doc.Attributes["controlGroupInput"].(map[string]any)["panelsJSON"], &controls)
			cq := dq
			cq.where += " controls"
			cq.all = true
			for _, c := range controls {
				cq.fields = append(cq.fields, c.ExplicitInput.FieldName)
			}
			out = append(out, cq)
			var panels []struct {
				PanelIndex       string `json:"panelIndex"`
				EmbeddableConfig struct {
					Attributes struct {
						State struct {
							Query struct {
								Query string `json:"query"`
							} `json:"query"`
							Filters          []map[string]any `json:"filters"`
							DatasourceStates struct {
								FormBased struct {
									Layers map[string]struct {
										Columns map[string]struct {
											SourceField string `json:"sourceField"`
										} `json:"columns"`
									} `json:"layers"`
								} `json:"formBased"`
							} `json:"datasourceStates"`
						} `json:"state"`
					} `json:"attributes"`
				} `json:"embeddableConfig"`
			}
			unstring(t, doc.Attributes["panelsJSON"], &panels)
			for _, p := range panels {
				st := p.EmbeddableConfig.Attributes.State
				if len(st.Filters) == 0 {
					continue // the navigation panel
				}
				q := datasetQuery(t, rel+" "+p.PanelIndex, st.Filters)
				q.kql = st.Query.Query
				for _, l := range st.DatasourceStates.FormBased.Layers {
					for _, c := range l.Columns {
						if c.SourceField != "___records___" {
							q.fields = append(q.fields, c.SourceField)
						}
					}
				}
				out = append(out, q)
			}
		}
	}
	return out
}

// datasetQuery takes the data_stream.dataset filter of an object: its datasets and its DSL.
func datasetQuery(t *testing.T, where string, filters []map[string]any) kibanaQuery {
	t.Helper()
	for _, f := range filters {
		meta, _ := f["meta"].(map[string]any)
		if meta["key"] != "data_stream.dataset" {
			continue
		}
		q := kibanaQuery{where: where, filter: f["query"].(map[string]any)}
		for _, p := range meta["params"].([]any) {
			q.datasets = append(q.datasets, strings.TrimPrefix(p.(string), "network_traffic."))
		}
		return q
	}
	t.Fatalf("%s: no data_stream.dataset filter", where)
	return kibanaQuery{}
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func unstring(t *testing.T, v any, into any) {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("want a JSON string, got %T", v)
	}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		t.Fatal(err)
	}
}
