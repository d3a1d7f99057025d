package pkgbuild

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// kibanaObject is one saved object of the assembled package.
type kibanaObject struct {
	file string // relative to pkgDir
	doc  map[string]any
}

func (o kibanaObject) id() string  { s, _ := o.doc["id"].(string); return s }
func (o kibanaObject) typ() string { s, _ := o.doc["type"].(string); return s }
func (o kibanaObject) attrs() map[string]any {
	m, _ := o.doc["attributes"].(map[string]any)
	return m
}

// Kibana asset folders and the saved-object type each holds.
var kibanaDirs = map[string]string{"dashboard": "dashboard", "search": "search", "index_pattern": "index-pattern"}

func loadKibanaObjects(pkgDir string) ([]kibanaObject, []string) {
	var out []kibanaObject
	var problems []string
	entries, _ := os.ReadDir(filepath.Join(pkgDir, "kibana"))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		want, ok := kibanaDirs[e.Name()]
		if !ok {
			problems = append(problems, fmt.Sprintf("kibana/%s: unexpected asset folder (legacy visualizations are not allowed)", e.Name()))
			continue
		}
		files, _ := filepath.Glob(filepath.Join(pkgDir, "kibana", e.Name(), "*"))
		for _, f := range files {
			rel, _ := filepath.Rel(pkgDir, f)
			b, err := os.ReadFile(f)
			var doc map[string]any
			if err == nil {
				err = json.Unmarshal(b, &doc)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", rel, err))
				continue
			}
			o := kibanaObject{file: rel, doc: doc}
			if filepath.Base(f) != o.id()+".json" {
				problems = append(problems, fmt.Sprintf("%s: file name is not its id %q + .json", rel, o.id()))
			}
			if o.typ() != want {
				problems = append(problems, fmt.Sprintf("%s: type %q in kibana/%s", rel, o.typ(), e.Name()))
			}
			if want != "index-pattern" && (!strings.HasPrefix(o.id(), PackageName+"-") || strings.HasSuffix(o.id(), "-ecs")) {
				problems = append(problems, fmt.Sprintf("%s: id must start with %s- and not end in -ecs", rel, PackageName))
			}
			out = append(out, o)
		}
	}
	return out, problems
}

// embeddedJSON decodes a JSON-in-a-string attribute (panelsJSON, searchSourceJSON, ...).
func embeddedJSON(v any, into any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("not a JSON string: %T", v)
	}
	return json.Unmarshal([]byte(s), into)
}

// filterDatasets returns the data streams a filter list restricts to: the params of its
// "is one of" filter on data_stream.dataset, without the network_traffic. prefix.
func filterDatasets(filters []any) []string {
	for _, f := range filters {
		m, _ := f.(map[string]any)
		meta, _ := m["meta"].(map[string]any)
		if meta["key"] != "data_stream.dataset" || meta["negate"] == true || meta["disabled"] == true {
			continue
		}
		var out []string
		params, _ := meta["params"].([]any)
		for _, p := range params {
			s, _ := p.(string)
			out = append(out, strings.TrimPrefix(s, PackageName+"."))
		}
		if s, ok := meta["params"].(map[string]any); ok { // "phrase" filter
			q, _ := s["query"].(string)
			out = append(out, strings.TrimPrefix(q, PackageName+"."))
		}
		return out
	}
	return nil
}

var navLink = regexp.MustCompile(`\]\(#/view/([^)]+)\)`)

// checkKibanaAssets checks the Kibana objects of an assembled package on their own (not
// through dashboards.yml): ids and file names, every reference resolving to an object of the
// package, every field a panel, control, column, sort, query or filter uses existing in the
// data streams the object filters on (as indexed, IndexedFields), navigation links resolving
// and covering every dashboard, and the package-spec rules for Fleet (filters, by-value panels
// only, no legacy visualizations).
func checkKibanaAssets(t *testing.T, srcRoot, pkgDir string) []string {
	t.Helper()
	objs, problems := loadKibanaObjects(pkgDir)
	bad := func(o kibanaObject, format string, a ...any) {
		problems = append(problems, o.file+": "+fmt.Sprintf(format, a...))
	}
	ecs, err := ECSTypes()
	if err != nil {
		t.Fatal(err)
	}
	// Each object is checked against the fields of its own layout: the Packetbeat-layout set
	// (tagged as such in kibana/tags.yml) with map_to_ecs off, the others with it on.
	pbIDs, err := PacketbeatAssetIDs(srcRoot, pkgDir)
	if err != nil {
		problems = append(problems, err.Error())
	}
	ecsIndexed := map[string]map[string]string{}
	pbIndexed := map[string]map[string]string{}
	for _, ds := range DataStreams {
		m, err := IndexedFields(srcRoot, ds, ecs)
		if err != nil {
			t.Fatal(err)
		}
		ecsIndexed[ds] = m
		if m, err = PacketbeatFields(srcRoot, ds, ecs); err != nil {
			t.Fatal(err)
		}
		pbIndexed[ds] = m
	}
	indexed := ecsIndexed
	// typeOf returns the field's type in the first dataset that has it; missing lists the
	// datasets without it.
	typeOf := func(f string, dss []string) (typ string, missing []string) {
		for _, ds := range dss {
			if ty, ok := indexed[ds][f]; ok {
				if typ == "" {
					typ = ty
				}
			} else {
				missing = append(missing, ds)
			}
		}
		return typ, missing
	}
	field := func(o kibanaObject, where, f string, dss []string) {
		if f == "___records___" {
			return // Lens's document count
		}
		if o.typ() == "index-pattern" { // serves both layouts
			_, inECS := typeOf(f, dss)
			indexed = pbIndexed
			_, inPB := typeOf(f, dss)
			indexed = ecsIndexed
			if len(inECS) == len(dss) && len(inPB) == len(dss) {
				bad(o, "%s: field %s is in none of %v", where, f, dss)
			}
			return
		}
		if _, missing := typeOf(f, dss); len(missing) == len(dss) {
			bad(o, "%s: field %s is in none of %v", where, f, dss)
		}
	}
	query := func(o kibanaObject, where string, q any, dss []string) {
		m, _ := q.(map[string]any)
		s, _ := m["query"].(string)
		if lang, _ := m["language"].(string); s != "" && lang != "kuery" {
			bad(o, "%s: query language %q", where, lang)
		}
		k, err := ParseKQL(s)
		if err != nil {
			bad(o, "%s: %v", where, err)
			return
		}
		for _, f := range k.Fields() {
			field(o, where+" query", f, dss)
		}
	}
	exists := map[string]bool{}
	dashboards := map[bool][]string{} // by layout: Packetbeat (true) or ECS
	for _, o := range objs {
		exists[o.typ()+"/"+o.id()] = true
		if o.typ() == "dashboard" {
			dashboards[pbIDs[o.id()]] = append(dashboards[pbIDs[o.id()]], o.id())
		}
	}
	for _, o := range objs {
		indexed = ecsIndexed
		if pbIDs[o.id()] {
			indexed = pbIndexed
		}
		refs, _ := o.doc["references"].([]any)
		refNames := map[string]bool{}
		for _, r := range refs {
			m, _ := r.(map[string]any)
			typ, _ := m["type"].(string)
			id, _ := m["id"].(string)
			name, _ := m["name"].(string)
			if !exists[typ+"/"+id] {
				bad(o, "reference %s to %s %s that the package does not have", name, typ, id)
			}
			if refNames[name] {
				bad(o, "reference name %s used twice", name)
			}
			refNames[name] = true
		}
		a := o.attrs()
		switch o.typ() {
		case "index-pattern":
			// Field formatters name fields of some data stream.
			if fm, ok := a["fieldFormatMap"]; ok {
				var formats map[string]any
				if err := embeddedJSON(fm, &formats); err != nil {
					bad(o, "fieldFormatMap: %v", err)
				}
				for f := range formats {
					field(o, "fieldFormatMap", f, DataStreams)
				}
			}
		case "dashboard":
			var search struct {
				Query  any   `json:"query"`
				Filter []any `json:"filter"`
			}
			if err := embeddedJSON(dig(a, "kibanaSavedObjectMeta", "searchSourceJSON"), &search); err != nil {
				bad(o, "searchSourceJSON: %v", err)
				continue
			}
			dss := filterDatasets(search.Filter)
			if len(dss) == 0 {
				bad(o, "no data_stream.dataset filter (SVR00002: dashboards must filter on their datasets)")
				continue
			}
			for _, ds := range dss {
				if indexed[ds] == nil {
					bad(o, "filters on %s, not a data stream", ds)
				}
			}
			query(o, "dashboard", search.Query, dss)
			var panels []map[string]any
			if err := embeddedJSON(a["panelsJSON"], &panels); err != nil {
				bad(o, "panelsJSON: %v", err)
				continue
			}
			navs := 0
			for _, p := range panels {
				pid, _ := p["panelIndex"].(string)
				where := "panel " + pid
				cfg, _ := p["embeddableConfig"].(map[string]any)
				switch p["type"] {
				case "lens":
					la, _ := cfg["attributes"].(map[string]any)
					if la == nil {
						bad(o, "%s: Lens panel by reference (SVR00004: panels must be by value)", where)
						continue
					}
					if !refNames[pid+":indexpattern-datasource-layer-layer1"] {
						bad(o, "%s: no data view reference for its layer", where)
					}
					state, _ := la["state"].(map[string]any)
					filters, _ := state["filters"].([]any)
					pdss := filterDatasets(filters)
					if len(pdss) == 0 {
						bad(o, "%s: no data_stream.dataset filter", where)
						pdss = dss
					}
					query(o, where, state["query"], pdss)
					layers, _ := dig(state, "datasourceStates", "formBased", "layers").(map[string]any)
					if len(layers) == 0 {
						bad(o, "%s: no layers", where)
					}
					for _, l := range layers {
						cols, _ := l.(map[string]any)["columns"].(map[string]any)
						for cid, c := range cols {
							f, _ := c.(map[string]any)["sourceField"].(string)
							if f == "" {
								bad(o, "%s column %s: no sourceField", where, cid)
							}
							field(o, where+" column "+cid, f, pdss)
						}
					}
				case "visualization":
					vis, _ := cfg["savedVis"].(map[string]any)
					if vis == nil || vis["type"] != "markdown" {
						bad(o, "%s: only by-value Markdown visualizations are allowed (no legacy visualizations)", where)
						continue
					}
					md, _ := dig(vis, "params", "markdown").(string)
					links := map[string]bool{}
					other := 0
					for _, m := range navLink.FindAllStringSubmatch(md, -1) {
						links[m[1]] = true
						if !exists["dashboard/"+m[1]] {
							bad(o, "%s: link to dashboard %s that the package does not have", where, m[1])
						} else if pbIDs[m[1]] != pbIDs[o.id()] {
							other++
						}
					}
					if len(links) > 0 {
						navs++
						// Every dashboard of its own layout's set, and one (its twin) of the other.
						for _, d := range dashboards[pbIDs[o.id()]] {
							if d != o.id() && !links[d] {
								bad(o, "%s: navigation lacks a link to %s", where, d)
							}
						}
						if other != 1 {
							bad(o, "%s: %d links to dashboards of the other field layout, want 1 (its twin)", where, other)
						}
					}
				default:
					bad(o, "%s: panel type %v", where, p["type"])
				}
			}
			if navs != 1 {
				bad(o, "%d navigation panels, want 1", navs)
			}
			// Controls: options lists on the dashboard's data view, on fields every one of its
			// data streams has.
			var controls map[string]map[string]any
			if err := embeddedJSON(dig(a, "controlGroupInput", "panelsJSON"), &controls); err != nil {
				bad(o, "controlGroupInput.panelsJSON: %v", err)
				continue
			}
			var ctlFields []string
			ids := make([]string, 0, len(controls))
			for cid := range controls {
				ids = append(ids, cid)
			}
			sort.Slice(ids, func(i, j int) bool {
				oi, _ := controls[ids[i]]["order"].(float64)
				oj, _ := controls[ids[j]]["order"].(float64)
				return oi < oj
			})
			for _, cid := range ids {
				c := controls[cid]
				f, _ := dig(c, "explicitInput", "fieldName").(string)
				ctlFields = append(ctlFields, f)
				if c["type"] != "optionsListControl" {
					bad(o, "control %s: type %v", cid, c["type"])
				}
				if !refNames["controlGroup_"+cid+":optionsListDataView"] {
					bad(o, "control %s: no data view reference", cid)
				}
				typ, missing := typeOf(f, dss)
				if len(missing) > 0 {
					bad(o, "control %s: field %s is not in %v", cid, f, missing)
				}
				if typ != "" && !optionsListTypes[typ] {
					bad(o, "control %s: options list on %s, a %s field", cid, f, typ)
				}
			}
			if want := []string{"agent.name", "client.ip", "server.ip"}; !slices.Equal(ctlFields, want) {
				bad(o, "controls on %v, want %v", ctlFields, want)
			}
		case "search":
			var search struct {
				Query        any    `json:"query"`
				Filter       []any  `json:"filter"`
				IndexRefName string `json:"indexRefName"`
			}
			if err := embeddedJSON(dig(a, "kibanaSavedObjectMeta", "searchSourceJSON"), &search); err != nil {
				bad(o, "searchSourceJSON: %v", err)
				continue
			}
			if search.IndexRefName == "" || !refNames[search.IndexRefName] {
				bad(o, "data view reference %q missing", search.IndexRefName)
			}
			dss := filterDatasets(search.Filter)
			if len(dss) == 0 {
				bad(o, "no data_stream.dataset filter")
				continue
			}
			query(o, "search", search.Query, dss)
			cols, _ := a["columns"].([]any)
			if len(cols) == 0 {
				bad(o, "no columns")
			}
			for _, c := range cols {
				f, _ := c.(string)
				field(o, "column", f, dss)
			}
			sorts, _ := a["sort"].([]any)
			for _, s := range sorts {
				pair, _ := s.([]any)
				if len(pair) != 2 {
					bad(o, "sort %v is not [field, direction]", s)
					continue
				}
				f, _ := pair[0].(string)
				field(o, "sort", f, dss)
			}
		}
	}
	return problems
}

func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func buildPackage(t *testing.T, src string) string {
	t.Helper()
	pkgDir, err := Build(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return pkgDir
}

// The Kibana assets the package ships pass every check above, and cover what the integration
// ships: a dashboard per protocol family, every data stream on one, its saved searches, tags.
func TestKibanaAssets(t *testing.T) {
	src := SourceRoot()
	pkgDir := buildPackage(t, src)
	for _, p := range checkKibanaAssets(t, src, pkgDir) {
		t.Error(p)
	}
	objs, _ := loadKibanaObjects(pkgDir)
	pbIDs, err := PacketbeatAssetIDs(src, pkgDir)
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	searches := map[string]bool{}
	onDashboard := map[string]bool{}
	for _, o := range objs {
		switch o.typ() {
		case "dashboard":
			title, _ := o.attrs()["title"].(string)
			titles[title] = true
			var search struct {
				Filter []any `json:"filter"`
			}
			_ = embeddedJSON(dig(o.attrs(), "kibanaSavedObjectMeta", "searchSourceJSON"), &search)
			if o.id() != "network_traffic-overview" {
				for _, ds := range filterDatasets(search.Filter) {
					onDashboard[ds] = true
				}
			}
		case "search":
			searches[o.id()] = true
		}
	}
	for _, family := range []string{"Overview", "Flows", "DNS", "HTTP", "TLS", "DHCPv4", "MySQL", "PostgreSQL",
		"MongoDB", "Cassandra", "NFS", "Thrift", "Redis", "Memcache", "AMQP", "SIP",
		"TLS fingerprints and QUIC", "HTTP/2 and gRPC"} {
		if !titles["[Network Packet Capture] "+family] {
			t.Errorf("no dashboard %q (have %v)", "[Network Packet Capture] "+family, titles)
		}
	}
	for _, ds := range DataStreams {
		if !onDashboard[ds] {
			t.Errorf("data stream %s is on no dashboard but the overview", ds)
		}
	}
	// The integration's saved searches (those of its ECS layout).
	for _, id := range []string{"search", "flows-search", "transactions-errors", "mysql-errors", "mysql-transactions",
		"pgsql-errors", "pgsql-transactions", "mongodb-transactions", "mongodb-transactions-with-write-concern-0", "nfs", "nfs-errors-search", "thrift-errors",
		"thrift-transactions", "cassandra-ecs-queryview", "dhcpv4-ecs-search"} {
		if !searches["network_traffic-"+id] || pbIDs["network_traffic-"+id] {
			t.Errorf("no saved search network_traffic-%s for map_to_ecs on", id)
		}
	}
	// The second set, for map_to_ecs off: a twin of every dashboard, told apart by its title
	// and tag, and of every saved search whose fields differ; the integration's pair of
	// Cassandra searches under its ids.
	for _, o := range objs {
		title, _ := o.attrs()["title"].(string)
		if o.typ() == "dashboard" && !pbIDs[o.id()] {
			twin := o.id() + "-packetbeat"
			if !pbIDs[twin] || !titles[title+" (map_to_ecs off)"] {
				t.Errorf("dashboard %s (%s) has no twin %s for map_to_ecs off", o.id(), title, twin)
			}
		}
		if pbIDs[o.id()] && !strings.HasSuffix(title, " (map_to_ecs off)") {
			t.Errorf("%s %s: title %q does not say map_to_ecs off", o.typ(), o.id(), title)
		}
	}
	for _, id := range []string{"cassandra-queryview", "dhcpv4-search", "mysql-errors-packetbeat", "transactions-errors-packetbeat", "flows-search-packetbeat"} {
		if !searches["network_traffic-"+id] || !pbIDs["network_traffic-"+id] {
			t.Errorf("no saved search network_traffic-%s for map_to_ecs off", id)
		}
	}
	// The one data view formats the fields of both layouts.
	for _, o := range objs {
		if o.typ() == "index-pattern" {
			fm, _ := o.attrs()["fieldFormatMap"].(string)
			for _, f := range []string{`"network_traffic.memcached.response.bytes"`, `"memcache.response.bytes"`, `"event.duration"`} {
				if !strings.Contains(fm, f) {
					t.Errorf("data view formats no %s", f)
				}
			}
		}
	}
	if searches["network_traffic-search-packetbeat"] {
		t.Error("network_traffic-search has a twin, but its fields are the same in both layouts")
	}
	// The docs list every dashboard and saved search (rendered from the same dashboards.yml).
	readme, err := os.ReadFile(filepath.Join(pkgDir, "docs", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if title, _ := o.attrs()["title"].(string); o.typ() != "index-pattern" && !strings.Contains(string(readme), "| "+title+" |") {
			t.Errorf("docs/README.md does not list %s %q", o.typ(), title)
		}
	}
	var tags []struct {
		Text       string   `yaml:"text"`
		AssetTypes []string `yaml:"asset_types"`
	}
	if err := readYAML(filepath.Join(pkgDir, "kibana", "tags.yml"), &tags); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"dashboard", "search"} {
		found := false
		for _, tag := range tags {
			found = found || slices.Contains(tag.AssetTypes, typ)
		}
		if !found {
			t.Errorf("tags.yml tags no %s", typ)
		}
	}
}

// The checks above fail on what they look for: a field renamed in a built dashboard panel,
// control, saved-search column and query, a dangling navigation link, a dangling reference, a
// dashboard without its dataset filter, a legacy visualization and a file not named by its id.
func TestKibanaChecksCatchProblems(t *testing.T) {
	src := SourceRoot()
	pkgDir := buildPackage(t, src)
	dash := filepath.Join(pkgDir, "kibana", "dashboard")
	edit := func(file, old, new string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q", file, old)
		}
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// In the map_to_ecs-off set, an ECS-layout name is as wrong as a misspelt one, and its
	// navigation covers its own set.
	pbMySQL := filepath.Join(dash, "network_traffic-mysql-packetbeat.json")
	edit(pbMySQL, `\"sourceField\":\"mysql.num_rows\"`, `\"sourceField\":\"network_traffic.mysql.num_rows\"`)
	edit(pbMySQL, `status : \\\"Error\\\"`, `network_traffic.status : \\\"Error\\\"`)
	edit(pbMySQL, `#/view/network_traffic-sip-packetbeat)`, `#/view/network_traffic-sip)`)
	edit(filepath.Join(pkgDir, "kibana", "search", "network_traffic-cassandra-queryview.json"), `"cassandra.request.query"`, `"network_traffic.cassandra.request.query"`)
	mysql := filepath.Join(dash, "network_traffic-mysql.json")
	edit(mysql, `network_traffic.mysql.num_rows`, `network_traffic.mysql.rows`)
	edit(mysql, `network_traffic.status : \\\"Error\\\"`, `network_traffic.state : \\\"Error\\\"`)
	edit(mysql, `\"fieldName\":\"server.ip\"`, `\"fieldName\":\"server.ipaddr\"`)
	edit(mysql, `\"fieldName\":\"client.ip\"`, `\"fieldName\":\"client.port\"`)
	edit(filepath.Join(dash, "network_traffic-dns.json"), `#/view/network_traffic-sip)`, `#/view/network_traffic-voip)`)
	edit(filepath.Join(dash, "network_traffic-tls.json"), `\"key\":\"data_stream.dataset\"`, `\"key\":\"data_stream.type\"`)
	edit(filepath.Join(dash, "network_traffic-redis.json"), `\"type\":\"markdown\"`, `\"type\":\"table\"`)
	edit(filepath.Join(pkgDir, "kibana", "search", "network_traffic-pgsql-errors.json"), `network_traffic.pgsql.error_severity`, `pgsql.error_severity`)
	edit(filepath.Join(pkgDir, "kibana", "search", "network_traffic-nfs-errors-search.json"), `network_traffic.nfs.status : *`, `nfs.status : *`)
	edit(filepath.Join(pkgDir, "kibana", "search", "network_traffic-search.json"), `"id": "network_traffic-logs"`, `"id": "network_traffic-gone"`)
	edit(filepath.Join(pkgDir, "kibana", "index_pattern", "network_traffic-logs.json"), `\"event.duration\"`, `\"event.elapsed\"`)
	if err := os.Rename(filepath.Join(dash, "network_traffic-amqp.json"), filepath.Join(dash, "network_traffic-rabbit.json")); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(checkKibanaAssets(t, src, pkgDir), "\n")
	for _, want := range []string{
		"network_traffic-mysql.json: panel panel-4 column c1: field network_traffic.mysql.rows is in none of [mysql]",
		"network_traffic-mysql.json: panel panel-3 query: field network_traffic.state is in none of [mysql]",
		"network_traffic-mysql.json: control control-server-ip: field server.ipaddr is not in [mysql]",
		"network_traffic-mysql.json: control control-client-ip: options list on client.port, a long field",
		"network_traffic-mysql.json: controls on [agent.name client.port server.ipaddr]",
		"network_traffic-dns.json: panel navigation: link to dashboard network_traffic-voip that the package does not have",
		"network_traffic-dns.json: panel navigation: navigation lacks a link to network_traffic-sip",
		"network_traffic-tls.json: no data_stream.dataset filter",
		"network_traffic-redis.json: panel navigation: only by-value Markdown visualizations",
		"network_traffic-pgsql-errors.json: column: field pgsql.error_severity is in none of [pgsql]",
		"network_traffic-nfs-errors-search.json: search query: field nfs.status is in none of [nfs]",
		"network_traffic-search.json: reference kibanaSavedObjectMeta.searchSourceJSON.index to index-pattern network_traffic-gone",
		"network_traffic-rabbit.json: file name is not its id",
		"network_traffic-logs.json: fieldFormatMap: field event.elapsed is in none of",
		"network_traffic-mysql-packetbeat.json: panel panel-4 column c1: field network_traffic.mysql.num_rows is in none of [mysql]",
		"network_traffic-mysql-packetbeat.json: panel panel-3 query: field network_traffic.status is in none of [mysql]",
		"network_traffic-mysql-packetbeat.json: panel navigation: navigation lacks a link to network_traffic-sip-packetbeat",
		"network_traffic-mysql-packetbeat.json: panel navigation: 2 links to dashboards of the other field layout, want 1",
		"network_traffic-cassandra-queryview.json: column: field network_traffic.cassandra.request.query is in none of [cassandra]",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problem %q not reported; got:\n%s", want, all)
		}
	}
}

// A field renamed in the sources fails the build, naming every object that uses it: a panel
// cannot be left behind on the old name.
func TestBuildRejectsRenamedField(t *testing.T) {
	src := copySources(t)
	replaceIn(t, filepath.Join(src, "fields", "mysql", "protocol.yml"), "- name: mysql.num_rows", "- name: mysql.rows_returned")
	_, err := Build(src, t.TempDir())
	if err == nil {
		t.Fatal("build passed with mysql.num_rows renamed")
	}
	for _, want := range []string{
		"network_traffic-mysql panel 4 (Rows returned) metric: field network_traffic.mysql.num_rows is defined in none",
		"network_traffic-mysql panel 9 (Queries returning most rows) metric: field network_traffic.mysql.num_rows",
		"network_traffic-mysql-transactions column: field network_traffic.mysql.num_rows",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error lacks %q:\n%v", want, err)
		}
	}
}

// Controls must be on fields of every data stream of their dashboard, and of a type an
// options list can list.
func TestBuildRejectsBadControl(t *testing.T) {
	src := copySources(t)
	replaceIn(t, filepath.Join(src, "package", "kibana", "dashboards.yml"), "{field: server.ip, title: Server IP}",
		"{field: server.ip, title: Server IP}\n  - {field: event.duration, title: Duration}\n  - {field: dns.question.name, title: Name}")
	_, err := Build(src, t.TempDir())
	if err == nil {
		t.Fatal("build passed")
	}
	for _, want := range []string{
		"network_traffic-overview control event.duration: an options list cannot list a long field",
		"network_traffic-overview control: field dns.question.name is not defined in [amqp cassandra",
		"network_traffic-dns control event.duration",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "network_traffic-dns control: field dns.question.name") {
		t.Errorf("dns.question.name rejected on the DNS dashboard:\n%v", err)
	}
}

// dashboards.yml is read strictly: a misspelt key is an error, not a silently dropped setting.
func TestBuildRejectsUnknownSpecKey(t *testing.T) {
	src := copySources(t)
	replaceIn(t, filepath.Join(src, "package", "kibana", "dashboards.yml"), "{kind: count, title: Queries}", "{kind: count, title: Queries, querry: 'x : 1'}")
	if _, err := Build(src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "field querry not found") {
		t.Fatalf("want an unknown-key error, got %v", err)
	}
}

// Elastic's validator, which TestBuildAndValidate runs on the package, does check dashboards:
// a by-reference panel, a dangling reference, a legacy visualization and a dashboard whose
// panels and itself lack a filter are each reported.
func TestValidatorRejectsBrokenDashboards(t *testing.T) {
	pkgDir := buildPackage(t, SourceRoot())
	dash := filepath.Join(pkgDir, "kibana", "dashboard")
	rewrite := func(name string, change func(doc map[string]any)) {
		t.Helper()
		f := filepath.Join(dash, name+".json")
		var doc map[string]any
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil {
			t.Fatal(err)
		}
		change(doc)
		if err := writeJSON(f, doc); err != nil {
			t.Fatal(err)
		}
	}
	rewrite("network_traffic-redis", func(doc map[string]any) {
		doc["references"] = append(doc["references"].([]any), obj{"type": "lens", "id": "network_traffic-gone", "name": "panel-99:panel_panel-99"})
	})
	rewrite("network_traffic-sip", func(doc map[string]any) {
		a := doc["attributes"].(map[string]any)
		a["panelsJSON"] = strings.Replace(a["panelsJSON"].(string), `"type":"markdown"`, `"type":"table"`, 1)
	})
	rewrite("network_traffic-amqp", func(doc map[string]any) {
		a := doc["attributes"].(map[string]any)
		var panels []map[string]any
		_ = json.Unmarshal([]byte(a["panelsJSON"].(string)), &panels)
		for _, p := range panels {
			if st, ok := dig(p, "embeddableConfig", "attributes", "state").(map[string]any); ok {
				st["filters"] = []any{}
			}
		}
		b, _ := json.Marshal(panels)
		a["panelsJSON"] = string(b)
		a["kibanaSavedObjectMeta"] = obj{"searchSourceJSON": `{"query":{"query":"","language":"kuery"},"filter":[]}`}
	})
	err := Validate(pkgDir)
	if err == nil {
		t.Fatal("broken dashboards validated")
	}
	for _, want := range []string{
		"references found in dashboard kibana/dashboard/network_traffic-redis.json: network_traffic-gone (lens) (SVR00004)",
		"network_traffic-redis.json (source: package/kibana/dashboards.yml): ",
		"dangling reference found: network_traffic-gone (lens) (SVR00003)",
		`"[Network Packet Capture] SIP" contains legacy visualization: "Navigation" (table`,
		"network_traffic-amqp.json (source: package/kibana/dashboards.yml): ",
		"no filter found and at least one panel does not have a filter (SVR00002)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validator error lacks %q:\n%v", want, err)
		}
	}
}
