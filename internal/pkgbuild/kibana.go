package pkgbuild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// dashboardSpec is package/kibana/dashboards.yml: the one source of the package's Kibana
// assets. Dashboards and saved searches are declared, not hand-edited JSON, so every object
// gets the same data view reference, dataset filter, controls and navigation, and every field
// it names is checked against the fields of its data streams when the package is built.
type dashboardSpec struct {
	DataView struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
		// FieldFormats are the data view's field formatters (Kibana's fieldFormatMap: id and
		// params per field), which Discover and Lens apply wherever the field is shown.
		FieldFormats map[string]fieldFormat `yaml:"field_formats"`
	} `yaml:"data_view"`
	// Controls are the options-list controls every dashboard gets, in this order.
	Controls []struct {
		Field string `yaml:"field"`
		Title string `yaml:"title"`
	} `yaml:"controls"`
	Dashboards    []dashboardDef   `yaml:"dashboards"`
	SavedSearches []savedSearchDef `yaml:"saved_searches"`
	// PacketbeatLayout: the second set, derived from the first for map_to_ecs off (layout.go).
	PacketbeatLayout layoutSpec `yaml:"packetbeat_layout"`
}

type dashboardDef struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Nav is the dashboard's name in the navigation panel of every dashboard.
	Nav         string      `yaml:"nav"`
	Description string      `yaml:"description"`
	Datasets    []string    `yaml:"datasets"`
	Panels      []panelSpec `yaml:"panels"`
	// twin is the same dashboard in the other field layout, linked as twinLabel.
	twin, twinLabel string
}

// panelSpec is one Lens panel. Kinds:
//
//	count     number of events
//	metric    metric.op of metric.field (average, sum, min, max, median, unique_count)
//	timeline  events (or metric) over time, stacked by the top values of split
//	top       table of the top `size` (10) values of field, with their count (or metric)
type panelSpec struct {
	Kind   string      `yaml:"kind"`
	Title  string      `yaml:"title"`
	Field  string      `yaml:"field"`
	Split  string      `yaml:"split"`
	Metric *metricSpec `yaml:"metric"`
	Size   int         `yaml:"size"`
	// Query narrows one panel (the KQL subset of ParseKQL, e.g. http.version : "2").
	Query string `yaml:"query"`
	// Width in grid columns (of 48); default 12 for count/metric, 24 otherwise.
	Width int `yaml:"width"`
}

type fieldFormat struct {
	ID     string         `yaml:"id" json:"id"`
	Params map[string]any `yaml:"params" json:"params,omitempty"`
}

type metricSpec struct {
	Op    string `yaml:"op"`
	Field string `yaml:"field"`
}

// savedSearchDef is a Discover saved search on the datasets, narrowed by query.
type savedSearchDef struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Datasets    []string `yaml:"datasets"`
	Query       string   `yaml:"query"`
	Columns     []string `yaml:"columns"`
	// Sort is [field, asc|desc]; default [@timestamp, desc].
	Sort []string `yaml:"sort"`
}

type obj = map[string]any

// Kibana saved-object migration versions the rendered objects are at: Kibana upgrades older
// objects on import, so these are the oldest shapes every Kibana the manifest allows reads.
const (
	coreMigrationVersion      = "8.8.0"
	dashboardMigrationVersion = "8.9.0"
	searchMigrationVersion    = "8.0.0"
)

// readDashboardSpec reads dashboards.yml strictly: an unknown key (a typo) is an error, not a
// silently ignored setting.
func readDashboardSpec(srcRoot string) (*dashboardSpec, error) {
	path := filepath.Join(srcRoot, "package", "kibana", "dashboards.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var spec dashboardSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &spec, nil
}

// fieldIndex answers "which type has field f in data stream ds, as indexed" in one field
// layout: IndexedFields (map_to_ecs on) or PacketbeatFields (off).
type fieldIndex struct {
	srcRoot  string
	mapToECS string // "on" or "off", for messages
	load     func(srcRoot, ds string, ecsTypes map[string]string) (map[string]string, error)
	ecs      map[string]string
	byDS     map[string]map[string]string
}

func newFieldIndex(srcRoot, mapToECS string, load func(string, string, map[string]string) (map[string]string, error)) (*fieldIndex, error) {
	ecs, err := ECSTypes()
	if err != nil {
		return nil, err
	}
	return &fieldIndex{srcRoot: srcRoot, mapToECS: mapToECS, load: load, ecs: ecs, byDS: map[string]map[string]string{}}, nil
}

func (x *fieldIndex) stream(ds string) (map[string]string, error) {
	if m, ok := x.byDS[ds]; ok {
		return m, nil
	}
	m, err := x.load(x.srcRoot, ds, x.ecs)
	if err != nil {
		return nil, fmt.Errorf("data stream %s: %w", ds, err)
	}
	x.byDS[ds] = m
	return m, nil
}

// typeIn returns the field's type in the first of datasets that has it, and whether any does.
func (x *fieldIndex) typeIn(field string, datasets []string) (string, bool, error) {
	for _, ds := range datasets {
		m, err := x.stream(ds)
		if err != nil {
			return "", false, err
		}
		if t, ok := m[field]; ok {
			return t, true, nil
		}
	}
	return "", false, nil
}

// missingIn returns the datasets that lack field.
func (x *fieldIndex) missingIn(field string, datasets []string) ([]string, error) {
	var out []string
	for _, ds := range datasets {
		m, err := x.stream(ds)
		if err != nil {
			return nil, err
		}
		if _, ok := m[field]; !ok {
			out = append(out, ds)
		}
	}
	return out, nil
}

// writeKibanaAssets renders the data view, the dashboards and the saved searches of both field
// layouts into pkgDir/kibana, and tags the Packetbeat-layout set (kibana/tags.yml).
func writeKibanaAssets(srcRoot, pkgDir string) error {
	spec, pb, fx, pbFx, err := kibanaSets(srcRoot)
	if err != nil {
		return err
	}
	dvAttrs := obj{
		"title":         spec.DataView.Title,
		"name":          "logs-network_traffic",
		"timeFieldName": "@timestamp",
	}
	// One data view serves both sets: it formats the fields of each.
	formats := map[string]fieldFormat{}
	for _, set := range []*dashboardSpec{pb, spec} {
		for f, ff := range set.DataView.FieldFormats {
			formats[f] = ff
		}
	}
	if len(formats) > 0 {
		b, _ := json.Marshal(formats)
		dvAttrs["fieldFormatMap"] = string(b)
	}
	dv := obj{
		"id":                   spec.DataView.ID,
		"type":                 "index-pattern",
		"attributes":           dvAttrs,
		"coreMigrationVersion": coreMigrationVersion,
		"typeMigrationVersion": "8.0.0",
		"references":           []any{},
	}
	if err := writeJSON(filepath.Join(pkgDir, "kibana", "index_pattern", spec.DataView.ID+".json"), dv); err != nil {
		return err
	}
	var tagged []string
	for _, set := range []struct {
		spec *dashboardSpec
		fx   *fieldIndex
	}{{spec, fx}, {pb, pbFx}} {
		for i := range set.spec.Dashboards {
			dash, err := renderDashboard(set.spec, i, set.fx)
			if err != nil {
				return err
			}
			if err := writeJSON(filepath.Join(pkgDir, "kibana", "dashboard", set.spec.Dashboards[i].ID+".json"), dash); err != nil {
				return err
			}
		}
		for _, s := range set.spec.SavedSearches {
			if err := writeJSON(filepath.Join(pkgDir, "kibana", "search", s.ID+".json"), renderSearch(set.spec, s)); err != nil {
				return err
			}
		}
	}
	for _, d := range pb.Dashboards {
		tagged = append(tagged, d.ID)
	}
	for _, s := range pb.SavedSearches {
		tagged = append(tagged, s.ID)
	}
	return appendTag(filepath.Join(pkgDir, "kibana", "tags.yml"), spec.PacketbeatLayout.Tag, tagged)
}

// appendTag adds a tag on the objects ids to a package's kibana/tags.yml.
func appendTag(path, text string, ids []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	type tag struct {
		Text     string   `yaml:"text"`
		AssetIDs []string `yaml:"asset_ids"`
	}
	entry, err := yaml.Marshal([]tag{{text, ids}})
	if err != nil {
		return err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return os.WriteFile(path, append(b, entry...), 0o644)
}

// PacketbeatAssetIDs returns the ids of the built package's Kibana objects for map_to_ecs off:
// those its kibana/tags.yml tags with dashboards.yml's packetbeat_layout tag.
func PacketbeatAssetIDs(srcRoot, pkgDir string) (map[string]bool, error) {
	spec, err := readDashboardSpec(srcRoot)
	if err != nil {
		return nil, err
	}
	var tags []struct {
		Text     string   `yaml:"text"`
		AssetIDs []string `yaml:"asset_ids"`
	}
	if err := readYAML(filepath.Join(pkgDir, "kibana", "tags.yml"), &tags); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range tags {
		if t.Text == spec.PacketbeatLayout.Tag {
			for _, id := range t.AssetIDs {
				out[id] = true
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no objects tagged %q", pkgDir, spec.PacketbeatLayout.Tag)
	}
	return out, nil
}

// checkSpec validates dashboards.yml as a whole, reporting every problem: ids, datasets, and
// each field a panel, control, query or column names against the fields of the object's data
// streams as indexed (IndexedFields). A renamed or moved field fails the build here.
func checkSpec(spec *dashboardSpec, fx *fieldIndex) error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	known := map[string]bool{}
	for _, ds := range DataStreams {
		known[ds] = true
	}
	ids := map[string]bool{} // "<type>/<id>": Kibana ids are unique per saved-object type
	checkID := func(typ, id string) {
		if !strings.HasPrefix(id, PackageName+"-") || strings.HasSuffix(id, "-ecs") {
			bad("%s: ids start with %s- and do not end in -ecs (package-spec file name rules)", id, PackageName)
		}
		if ids[typ+"/"+id] {
			bad("%s: %s id used twice", id, typ)
		}
		ids[typ+"/"+id] = true
	}
	checkDatasets := func(id string, dss []string) {
		if len(dss) == 0 {
			bad("%s: no datasets to filter on", id)
		}
		for _, ds := range dss {
			if !known[ds] {
				bad("%s: %s is not a data stream", id, ds)
			}
		}
	}
	// field checks one field name: in any of dss, or (all) in every one of them.
	field := func(where, f string, dss []string, all bool) string {
		if f == "" {
			return ""
		}
		missing, err := fx.missingIn(f, dss)
		if err != nil {
			bad("%s: %v", where, err)
			return ""
		}
		switch {
		case len(missing) == len(dss):
			bad("%s: field %s is defined in none of its data streams %v (as indexed with map_to_ecs %s)", where, f, dss, fx.mapToECS)
		case all && len(missing) > 0:
			bad("%s: field %s is not defined in %v", where, f, missing)
		}
		t, _, _ := fx.typeIn(f, dss)
		return t
	}
	query := func(where, q string, dss []string) {
		k, err := ParseKQL(q)
		if err != nil {
			bad("%s: %v", where, err)
			return
		}
		for _, f := range k.Fields() {
			field(where+" query", f, dss, false)
		}
	}
	if spec.DataView.ID == "" || spec.DataView.Title == "" {
		bad("data_view: id and title are required")
	}
	for f, ff := range spec.DataView.FieldFormats {
		t := field("data_view field_formats", f, DataStreams, false)
		if t != "" && lensDataType(t) != "number" {
			bad("data_view field_formats: %s is a %s field, not a number", f, t)
		}
		if ff.ID != "bytes" && ff.ID != "duration" && ff.ID != "number" {
			bad("data_view field_formats: %s: format %q is not one of bytes, duration, number", f, ff.ID)
		}
	}
	for _, d := range spec.Dashboards {
		checkID("dashboard", d.ID)
		checkDatasets(d.ID, d.Datasets)
		if d.Title == "" || d.Nav == "" {
			bad("%s: title and nav are required", d.ID)
		}
		for _, c := range spec.Controls {
			t := field(d.ID+" control", c.Field, d.Datasets, true)
			if t != "" && !optionsListTypes[t] {
				bad("%s control %s: an options list cannot list a %s field", d.ID, c.Field, t)
			}
		}
		for i, p := range d.Panels {
			where := fmt.Sprintf("%s panel %d (%s)", d.ID, i+1, p.Title)
			if p.Title == "" {
				bad("%s: no title", where)
			}
			field(where, p.Field, d.Datasets, false)
			field(where, p.Split, d.Datasets, false)
			if p.Metric != nil {
				t := field(where+" metric", p.Metric.Field, d.Datasets, false)
				switch {
				case !metricOps[p.Metric.Op]:
					bad("%s: metric op %q is not one of average, sum, min, max, median, unique_count", where, p.Metric.Op)
				case p.Metric.Op != "unique_count" && t != "" && lensDataType(t) != "number":
					bad("%s: %s of %s, a %s field", where, p.Metric.Op, p.Metric.Field, t)
				}
			}
			query(where, p.Query, d.Datasets)
			switch p.Kind {
			case "count":
			case "metric":
				if p.Metric == nil {
					bad("%s: a metric panel needs metric: {op, field}", where)
				}
			case "timeline":
			case "top":
				if p.Field == "" {
					bad("%s: a top panel needs a field", where)
				}
			default:
				bad("%s: unknown panel kind %q", where, p.Kind)
			}
		}
	}
	for _, s := range spec.SavedSearches {
		checkID("search", s.ID)
		checkDatasets(s.ID, s.Datasets)
		if s.Title == "" || len(s.Columns) == 0 {
			bad("%s: title and columns are required", s.ID)
		}
		for _, c := range s.Columns {
			field(s.ID+" column", c, s.Datasets, false)
		}
		if len(s.Sort) != 0 {
			if len(s.Sort) != 2 || (s.Sort[1] != "asc" && s.Sort[1] != "desc") {
				bad("%s: sort is [field, asc|desc]", s.ID)
			} else {
				field(s.ID+" sort", s.Sort[0], s.Datasets, false)
			}
		}
		query(s.ID, s.Query, s.Datasets)
	}
	if len(errs) > 0 {
		return fmt.Errorf("package/kibana/dashboards.yml:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// Field types an options-list control lists values of: Kibana's options list suggests terms of
// keyword and boolean fields, and of ip fields (with prefix and CIDR search); not of text,
// numbers (a range slider's job) or flattened fields.
var optionsListTypes = map[string]bool{"keyword": true, "constant_keyword": true, "ip": true, "boolean": true}

var metricOps = map[string]bool{"average": true, "sum": true, "min": true, "max": true, "median": true, "unique_count": true}

func renderDashboard(spec *dashboardSpec, idx int, fx *fieldIndex) (obj, error) {
	d := spec.Dashboards[idx]
	filter := datasetFilter(d.Datasets)
	var panels, refs []any
	var g grid

	// The navigation panel: a Markdown panel with a link to every other dashboard. Links
	// panels (the "links" embeddable) exist only from Kibana 8.14 on, and the package
	// supports ^8.10.0; a Markdown link to #/view/<id> opens a dashboard in every 8.x.
	x, y, w, h := g.place(48, 4)
	panels = append(panels, obj{
		"type":       "visualization",
		"panelIndex": "navigation",
		"gridData":   obj{"x": x, "y": y, "w": w, "h": h, "i": "navigation"},
		"embeddableConfig": obj{
			"hidePanelTitles": true,
			"enhancements":    obj{},
			"savedVis": obj{
				"id": "", "title": "Navigation", "description": "", "type": "markdown",
				"params":  obj{"fontSize": 12, "openLinksInNewTab": false, "markdown": navigationMarkdown(spec, idx)},
				"uiState": obj{},
				"data": obj{"aggs": []any{}, "searchSource": obj{
					"query": obj{"query": "", "language": "kuery"}, "filter": []any{}}},
			},
		},
	})

	for i, p := range d.Panels {
		pid := fmt.Sprintf("panel-%d", i+1)
		attrs, err := lensAttributes(p, d.Datasets, spec.DataView.ID, filter, fx)
		if err != nil {
			return nil, fmt.Errorf("dashboards.yml: %s panel %d: %w", d.ID, i+1, err)
		}
		w, h := p.Width, 14
		if p.Kind == "count" || p.Kind == "metric" {
			h = 7
			if w == 0 {
				w = 12
			}
		}
		if w == 0 {
			w = 24
		}
		x, y, w, h := g.place(w, h)
		panels = append(panels, obj{
			"type":       "lens",
			"panelIndex": pid,
			"gridData":   obj{"x": x, "y": y, "w": w, "h": h, "i": pid},
			"embeddableConfig": obj{
				"attributes":   attrs,
				"enhancements": obj{},
			},
		})
		refs = append(refs, obj{"type": "index-pattern", "id": spec.DataView.ID,
			"name": pid + ":indexpattern-datasource-layer-layer1"})
	}

	// Controls: options lists on the same data view; Kibana keeps the data view of each in a
	// reference named controlGroup_<control id>:optionsListDataView.
	controls := obj{}
	for i, c := range spec.Controls {
		cid := "control-" + strings.ReplaceAll(c.Field, ".", "-")
		controls[cid] = obj{
			"order": i, "width": "medium", "grow": true, "type": "optionsListControl",
			"explicitInput": obj{
				"id": cid, "fieldName": c.Field, "title": c.Title,
				"searchTechnique": "prefix", "selectedOptions": []any{},
				"sort":         obj{"by": "_count", "direction": "desc"},
				"enhancements": obj{},
			},
		}
		refs = append(refs, obj{"type": "index-pattern", "id": spec.DataView.ID,
			"name": "controlGroup_" + cid + ":optionsListDataView"})
	}
	controlsJSON, _ := json.Marshal(controls)
	ignoreParent, _ := json.Marshal(obj{"ignoreFilters": false, "ignoreQuery": false, "ignoreTimerange": false, "ignoreValidations": false})

	panelsJSON, _ := json.Marshal(panels)
	searchJSON, _ := json.Marshal(obj{
		"query":  obj{"query": "", "language": "kuery"},
		"filter": []any{filter},
	})
	return obj{
		"id":   d.ID,
		"type": "dashboard",
		"attributes": obj{
			"title":       d.Title,
			"description": d.Description,
			"timeRestore": false,
			"version":     1,
			"optionsJSON": `{"useMargins":true,"syncColors":false,"syncCursor":true,"syncTooltips":false,"hidePanelTitles":false}`,
			"panelsJSON":  string(panelsJSON),
			"controlGroupInput": obj{
				"controlStyle":             "oneLine",
				"chainingSystem":           "HIERARCHICAL",
				"ignoreParentSettingsJSON": string(ignoreParent),
				"panelsJSON":               string(controlsJSON),
			},
			"kibanaSavedObjectMeta": obj{"searchSourceJSON": string(searchJSON)},
		},
		"references":           refs,
		"coreMigrationVersion": coreMigrationVersion,
		"typeMigrationVersion": dashboardMigrationVersion,
	}, nil
}

// navigationMarkdown links every dashboard of the spec, the current one in bold without a link.
func navigationMarkdown(spec *dashboardSpec, current int) string {
	var parts []string
	for i, d := range spec.Dashboards {
		if i == current {
			parts = append(parts, "**"+d.Nav+"**")
			continue
		}
		parts = append(parts, "["+d.Nav+"](#/view/"+d.ID+")")
	}
	md := strings.Join(parts, " | ")
	if d := spec.Dashboards[current]; d.twin != "" {
		md += "\n\nThe same dashboard [" + d.twinLabel + "](#/view/" + d.twin + ")."
	}
	return md
}

// grid places panels left to right in rows of 48 columns.
type grid struct{ x, y, rowH int }

func (g *grid) place(w, h int) (x, y, ww, hh int) {
	if w > 48 {
		w = 48
	}
	if g.x+w > 48 {
		g.x, g.y, g.rowH = 0, g.y+g.rowH, 0
	}
	x, y = g.x, g.y
	g.x += w
	if h > g.rowH {
		g.rowH = h
	}
	return x, y, w, h
}

func renderSearch(spec *dashboardSpec, s savedSearchDef) obj {
	filter := datasetFilter(s.Datasets)
	filter["meta"].(obj)["indexRefName"] = "kibanaSavedObjectMeta.searchSourceJSON.filter[0].meta.index"
	sort := s.Sort
	if len(sort) == 0 {
		sort = []string{"@timestamp", "desc"}
	}
	searchJSON, _ := json.Marshal(obj{
		"query":        obj{"query": s.Query, "language": "kuery"},
		"filter":       []any{filter},
		"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
		"highlightAll": true,
		"version":      true,
	})
	return obj{
		"id":   s.ID,
		"type": "search",
		"attributes": obj{
			"title":                 s.Title,
			"description":           s.Description,
			"columns":               s.Columns,
			"sort":                  []any{sort},
			"grid":                  obj{},
			"hideChart":             false,
			"isTextBasedQuery":      false,
			"kibanaSavedObjectMeta": obj{"searchSourceJSON": string(searchJSON)},
		},
		"references": []any{
			obj{"type": "index-pattern", "id": spec.DataView.ID, "name": "kibanaSavedObjectMeta.searchSourceJSON.index"},
			obj{"type": "index-pattern", "id": spec.DataView.ID, "name": "kibanaSavedObjectMeta.searchSourceJSON.filter[0].meta.index"},
		},
		"coreMigrationVersion": coreMigrationVersion,
		"typeMigrationVersion": searchMigrationVersion,
	}
}

// datasetFilter is a Kibana "is one of" filter on data_stream.dataset.
func datasetFilter(datasets []string) obj {
	var params, should []any
	for _, ds := range datasets {
		name := "network_traffic." + ds
		params = append(params, name)
		should = append(should, obj{"match_phrase": obj{"data_stream.dataset": name}})
	}
	return obj{
		"meta": obj{
			"alias": nil, "disabled": false, "negate": false,
			"key": "data_stream.dataset", "type": "phrases", "params": params,
		},
		"query":  obj{"bool": obj{"minimum_should_match": 1, "should": should}},
		"$state": obj{"store": "appState"},
	}
}

// lensDataType is the Lens column data type of a field mapping type.
func lensDataType(t string) string {
	switch t {
	case "long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long":
		return "number"
	case "ip", "boolean", "date":
		return t
	}
	return "string"
}

func lensAttributes(p panelSpec, datasets []string, dataView string, filter obj, fx *fieldIndex) (obj, error) {
	value := obj{"label": "Count of records", "dataType": "number", "operationType": "count",
		"isBucketed": false, "scale": "ratio", "sourceField": "___records___"}
	if p.Metric != nil {
		value = obj{"label": metricLabel(p.Metric), "dataType": "number", "operationType": p.Metric.Op,
			"isBucketed": false, "scale": "ratio", "sourceField": p.Metric.Field,
			"params": obj{"emptyAsNull": true}}
	}
	terms := func(field, orderBy string, size int) (obj, error) {
		t, _, err := fx.typeIn(field, datasets)
		if err != nil {
			return nil, err
		}
		return termsColumn(field, lensDataType(t), orderBy, size), nil
	}
	columns := obj{}
	var order []string
	var vis obj
	var visType string
	switch p.Kind {
	case "count", "metric":
		columns["c1"], order = value, []string{"c1"}
		visType = "lnsMetric"
		vis = obj{"layerId": "layer1", "layerType": "data", "metricAccessor": "c1"}
	case "timeline":
		columns["c1"] = obj{"label": "@timestamp", "dataType": "date", "operationType": "date_histogram",
			"sourceField": "@timestamp", "isBucketed": true, "scale": "interval", "params": obj{"interval": "auto"}}
		columns["c2"] = value
		order = []string{"c1", "c2"}
		series := "bar_stacked"
		if p.Metric != nil {
			series = "line"
		}
		layer := obj{"layerId": "layer1", "layerType": "data", "seriesType": series,
			"xAccessor": "c1", "accessors": []string{"c2"}}
		if p.Split != "" {
			c, err := terms(p.Split, "c2", 5)
			if err != nil {
				return nil, err
			}
			columns["c3"] = c
			order = []string{"c3", "c1", "c2"}
			layer["splitAccessor"] = "c3"
		}
		visType = "lnsXY"
		vis = obj{"preferredSeriesType": series, "legend": obj{"isVisible": true, "position": "right"},
			"layers": []any{layer}}
	case "top":
		size := p.Size
		if size == 0 {
			size = 10
		}
		c, err := terms(p.Field, "c2", size)
		if err != nil {
			return nil, err
		}
		columns["c1"] = c
		columns["c2"] = value
		order = []string{"c1", "c2"}
		visType = "lnsDatatable"
		vis = obj{"layerId": "layer1", "layerType": "data",
			"columns": []any{obj{"columnId": "c1"}, obj{"columnId": "c2"}}}
	default:
		return nil, fmt.Errorf("unknown panel kind %q", p.Kind)
	}
	return obj{
		"title":             p.Title,
		"type":              "lens",
		"visualizationType": visType,
		"references": []any{obj{"type": "index-pattern", "id": dataView,
			"name": "indexpattern-datasource-layer-layer1"}},
		"state": obj{
			"datasourceStates": obj{"formBased": obj{"layers": obj{"layer1": obj{
				"columns": columns, "columnOrder": order, "incompleteColumns": obj{},
			}}}},
			"visualization": vis,
			"query":         obj{"query": p.Query, "language": "kuery"},
			"filters":       []any{filter},
		},
	}, nil
}

func metricLabel(m *metricSpec) string {
	names := map[string]string{"average": "Average", "sum": "Sum", "min": "Minimum", "max": "Maximum",
		"median": "Median", "unique_count": "Unique count"}
	return names[m.Op] + " of " + m.Field
}

func termsColumn(field, dataType, orderBy string, size int) obj {
	return obj{"label": "Top values of " + field, "dataType": dataType, "operationType": "terms",
		"sourceField": field, "isBucketed": true, "scale": "ordinal",
		"params": obj{"size": size, "orderBy": obj{"type": "column", "columnId": orderBy},
			"orderDirection": "desc", "otherBucket": true, "missingBucket": false}}
}

// dashboardsDoc renders the Dashboards section of the docs from the same spec: every
// dashboard with its data streams, and every saved search with its query.
func dashboardsDoc(srcRoot string) (string, error) {
	spec, pb, _, _, err := kibanaSets(srcRoot)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| Dashboard | Data streams | Shows |\n|---|---|---|\n")
	for _, d := range spec.Dashboards {
		dss := append([]string(nil), d.Datasets...)
		sort.Strings(dss)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(d.Title), strings.Join(dss, ", "), mdCell(d.Description))
	}
	var controls []string
	for _, c := range spec.Controls {
		controls = append(controls, "`"+c.Field+"`")
	}
	fmt.Fprintf(&b, "\nEvery dashboard has controls on %s and a navigation bar linking all the others.\n\n",
		strings.Join(controls, ", "))
	b.WriteString("| Saved search | Data streams | Query |\n|---|---|---|\n")
	for _, s := range spec.SavedSearches {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(s.Title), strings.Join(s.Datasets, ", "), mdCell(queryCell(s.Query)))
	}
	lay := spec.PacketbeatLayout
	fmt.Fprintf(&b, "\nFor streams with `map_to_ecs: false` (Packetbeat's field names: the compatibility pipeline does "+
		"not run) the same dashboards and the saved searches whose fields differ come a second time, tagged "+
		"*%s*, their field names derived from the compatibility pipeline's renames. Each dashboard links the "+
		"others of its own set and its twin in the other set.\n\n", lay.Tag)
	b.WriteString("| Dashboard (map_to_ecs off) | Data streams |\n|---|---|\n")
	for _, d := range pb.Dashboards {
		dss := append([]string(nil), d.Datasets...)
		sort.Strings(dss)
		fmt.Fprintf(&b, "| %s | %s |\n", mdCell(d.Title), strings.Join(dss, ", "))
	}
	b.WriteString("\n| Saved search (map_to_ecs off) | Data streams | Query |\n|---|---|---|\n")
	for _, s := range pb.SavedSearches {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(s.Title), strings.Join(s.Datasets, ", "), mdCell(queryCell(s.Query)))
	}
	return b.String(), nil
}

func queryCell(q string) string {
	if q == "" {
		return "(all)"
	}
	return "`" + q + "`"
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "\n", " "), "|", `\|`)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
