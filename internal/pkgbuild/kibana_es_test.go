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
	all      bool   // fields must be mapped in every dataset (controls), not just one
	ns       string // namespace of the documents of its field layout
}

// Namespaces the documents of each field layout are indexed under (one node, one setup).
const (
	ecsNS = "kibana"   // map_to_ecs on: the compatibility pipeline ran
	pbNS  = "kibanapb" // map_to_ecs off: Packetbeat's field layout
)

// The shipped saved searches and Lens panels, run on the real search node against the package's
// own documents (pipeline test events, events from real captures, sample events) indexed
// through the real pipelines and index templates, each set against the documents of its own
// field layout: the ECS set against those with map_to_ecs on, the Packetbeat-layout set
// (tagged so in kibana/tags.yml) against those with map_to_ecs off, in a namespace of their
// own. Each saved search and each panel query matches at least one document of its data
// streams but not all, and every field they show is mapped in the installed index of (one of,
// for controls every one of) their data streams and has a value in some document.
func TestKibanaQueriesOnIndexedDocuments(t *testing.T) {
	c := estest.Available(t)
	p, err := estest.BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	pbIDs, err := pkgbuild.PacketbeatAssetIDs(p.Root, p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	queries := loadQueries(t, p.Dir, pbIDs)
	indexed := map[string]int{}
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
		// Each layout's documents: map_to_ecs on, or off (documents without _conf, such as
		// the sample events, which are already in their indexed form, are left out).
		byNS := map[string][]map[string]any{}
		for _, d := range all {
			conf, ok := d["_conf"].(map[string]any)
			switch {
			case ok && conf["map_to_ecs"] == true:
				byNS[ecsNS] = append(byNS[ecsNS], d)
			case ok:
				byNS[pbNS] = append(byNS[pbNS], d)
			}
		}
		for _, ns := range []string{ecsNS, pbNS} {
			docs := byNS[ns]
			if len(docs) == 0 {
				t.Fatalf("%s: no documents for namespace %s", ds, ns)
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
			indexed[ns] += len(docs)
			t.Cleanup(func() { _ = c.Delete("/_data_stream/" + target) })
		}
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
		if err := c.Do("POST", "/logs-network_traffic.*-"+q.ns+"/_count", body, &res); err != nil {
			t.Fatalf("%s: %v", q.where, err)
		}
		return res.Count
	}
	mapped := map[string]map[string]bool{}
	isMapped := func(ds, ns, f string) bool {
		name := estest.DataStreamName(ds, ns)
		if mapped[name] == nil {
			mapped[name] = fieldMappings(t, c, name)
		}
		return mapped[name][f]
	}
	searches, panels := map[string]int{}, map[string]int{}
	for _, q := range queries {
		if strings.Contains(q.where, "search/") {
			searches[q.ns]++
		} else if q.kql != "" {
			panels[q.ns]++
		}
		n := count(q)
		if n == 0 {
			t.Errorf("%s: query %q on %v matches none of the indexed documents", q.where, q.kql, q.datasets)
		}
		// A query narrows: one matching every document of its streams is a mistake (say, a
		// negation on a field no document has).
		if all := count(kibanaQuery{where: q.where, filter: q.filter, ns: q.ns}); q.kql != "" && n == all {
			t.Errorf("%s: query %q matches all %d documents of %v", q.where, q.kql, all, q.datasets)
		}
		for _, f := range q.fields {
			var in []string
			for _, ds := range q.datasets {
				if isMapped(ds, q.ns, f) {
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
		"thrift.service":                 "the same with map_to_ecs off",
	}
	for _, q := range queries {
		for _, f := range q.fields {
			if n := count(kibanaQuery{where: q.where, filter: q.filter, kql: f + " : *", ns: q.ns}); n == 0 && noValue[f] == "" {
				t.Errorf("%s: field %s has no value in any indexed document of %v", q.where, f, q.datasets)
			}
		}
	}
	// Why the second set exists: each ECS object that has a twin, run on the documents with
	// map_to_ecs off, shows less than its twin (a field without any value, or a query
	// matching other documents), while the twin shows all of it.
	twinOf := map[string]string{ // Packetbeat-layout file -> ECS file, where not by the suffix
		"search/network_traffic-cassandra-queryview.json": "search/network_traffic-cassandra-ecs-queryview.json",
		"search/network_traffic-dhcpv4-search.json":       "search/network_traffic-dhcpv4-ecs-search.json",
	}
	byWhere := map[string]kibanaQuery{}
	for _, q := range queries {
		byWhere[q.where] = q
	}
	twins := 0
	for _, q := range queries {
		if q.ns != pbNS {
			continue
		}
		file, rest, _ := strings.Cut(q.where, " ")
		ecsFile, ok := twinOf[file]
		if !ok {
			ecsFile = strings.Replace(file, "-packetbeat.json", ".json", 1)
		}
		e, ok := byWhere[strings.TrimSpace(ecsFile+" "+rest)]
		if !ok {
			t.Errorf("%s: no ECS twin %s", q.where, ecsFile)
			continue
		}
		if e.kql == q.kql && sameSet(e.fields, q.fields) {
			continue // the same in both layouts (its dashboard differs elsewhere)
		}
		twins++
		e.ns = pbNS
		empty := count(e) != count(q)
		for _, f := range e.fields {
			empty = empty || count(kibanaQuery{where: e.where, filter: e.filter, kql: f + " : *", ns: pbNS}) == 0
		}
		if !empty {
			t.Errorf("%s shows on documents with map_to_ecs off what its twin %s does: why the twin?", e.where, q.where)
		}
	}
	if twins < 20 {
		t.Errorf("only %d ECS objects differ from their map_to_ecs-off twins", twins)
	}
	for _, ns := range []string{ecsNS, pbNS} {
		t.Logf("namespace %s: %d saved searches, %d panel queries checked on %d documents", ns, searches[ns], panels[ns], indexed[ns])
		if ns == pbNS {
			t.Logf("%d ECS panels, controls and searches show less on these documents than their twins", twins)
		}
		if searches[ns] < 10 || panels[ns] < 10 {
			t.Errorf("namespace %s: only %d saved searches and %d panel queries found", ns, searches[ns], panels[ns])
		}
	}
	// The check can fail: a misspelt value or field matches nothing, and a field of one layout
	// has no value in the documents of the other (what the second set is for).
	all := map[string]any{"match_all": map[string]any{}}
	for _, bad := range []kibanaQuery{
		{kql: `network_traffic.status : "Erorr"`, ns: ecsNS},
		{kql: `network_traffic.mysql.rows : *`, ns: ecsNS},
		{kql: `status : "Erorr"`, ns: pbNS},
		{kql: `network_traffic.status : *`, ns: pbNS},
		{kql: `network_traffic.mysql.num_rows : *`, ns: pbNS},
		{kql: `mysql.num_rows : *`, ns: ecsNS},
	} {
		bad.where, bad.filter = "self-check", all
		if n := count(bad); n != 0 {
			t.Errorf("%q matches %d documents in namespace %s", bad.kql, n, bad.ns)
		}
	}
	for _, good := range []string{`status : "Error"`, `mysql.num_rows : *`} {
		if n := count(kibanaQuery{where: "self-check", filter: all, kql: good, ns: pbNS}); n == 0 {
			t.Errorf("%q matches no document with map_to_ecs off", good)
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

// loadQueries reads the saved searches and dashboard panels of the built package, each with
// the namespace of its field layout (pbIDs: the Packetbeat-layout objects).
func loadQueries(t *testing.T, pkgDir string, pbIDs map[string]bool) []kibanaQuery {
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
		ns := ecsNS
		if pbIDs[strings.TrimSuffix(filepath.Base(f), ".json")] {
			ns = pbNS
		}
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
			q.ns = ns
			q.kql = source.Query.Query
			for _, c := range doc.Attributes["columns"].([]any) {
				q.fields = append(q.fields, c.(string))
			}
			out = append(out, q)
		case "dashboard":
			unstring(t, doc.Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"], &source)
			dq := datasetQuery(t, rel, source.Filter)
			dq.ns = ns
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
				q.ns = ns
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

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
