package pkgbuild

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// dashboardSpec is package/kibana/dashboards.yml: dashboards are declared, not hand-edited JSON,
// so every panel gets the same data view reference and dataset filter.
type dashboardSpec struct {
	DataView struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"data_view"`
	Dashboards []struct {
		ID          string   `yaml:"id"`
		Title       string   `yaml:"title"`
		Description string   `yaml:"description"`
		Datasets    []string `yaml:"datasets"`
		Panels      []struct {
			Kind  string `yaml:"kind"` // count, timeline, top
			Title string `yaml:"title"`
			Field string `yaml:"field"`
			Split string `yaml:"split"`
			// Query narrows one panel (KQL, e.g. http.version : "2").
			Query string `yaml:"query"`
		} `yaml:"panels"`
	} `yaml:"dashboards"`
}

type obj = map[string]any

// writeKibanaAssets renders the data view and the dashboards into pkgDir/kibana.
func writeKibanaAssets(srcRoot, pkgDir string) error {
	var spec dashboardSpec
	if err := readYAML(filepath.Join(srcRoot, "package", "kibana", "dashboards.yml"), &spec); err != nil {
		return err
	}
	dv := obj{
		"id":   spec.DataView.ID,
		"type": "index-pattern",
		"attributes": obj{
			"title":         spec.DataView.Title,
			"name":          "logs-network_traffic",
			"timeFieldName": "@timestamp",
		},
		"coreMigrationVersion": "8.8.0",
		"typeMigrationVersion": "8.0.0",
		"references":           []any{},
	}
	if err := writeJSON(filepath.Join(pkgDir, "kibana", "index_pattern", spec.DataView.ID+".json"), dv); err != nil {
		return err
	}
	for _, d := range spec.Dashboards {
		if len(d.Datasets) == 0 {
			return fmt.Errorf("dashboards.yml: %s has no datasets to filter on", d.ID)
		}
		filter := datasetFilter(d.Datasets)
		defined, err := definedFields(srcRoot, d.Datasets)
		if err != nil {
			return err
		}
		var panels, refs []any
		for i, p := range d.Panels {
			for _, f := range []string{p.Field, p.Split} {
				if f != "" && !defined[f] {
					return fmt.Errorf("dashboards.yml: %s panel %d: field %s is defined in none of its data streams", d.ID, i+1, f)
				}
			}
			pid := fmt.Sprintf("panel-%d", i+1)
			attrs, err := lensAttributes(p.Kind, p.Title, p.Field, p.Split, spec.DataView.ID, filter)
			if err == nil && p.Query != "" {
				attrs["state"].(obj)["query"] = obj{"query": p.Query, "language": "kuery"}
			}
			if err != nil {
				return fmt.Errorf("dashboards.yml: %s panel %d: %w", d.ID, i+1, err)
			}
			w, h := 24, 15
			if p.Kind == "count" {
				w, h = 12, 8
			}
			panels = append(panels, obj{
				"type":       "lens",
				"panelIndex": pid,
				"gridData":   obj{"x": (i % 2) * 24, "y": (i / 2) * 15, "w": w, "h": h, "i": pid},
				"embeddableConfig": obj{
					"attributes":   attrs,
					"enhancements": obj{},
				},
			})
			refs = append(refs, obj{"type": "index-pattern", "id": spec.DataView.ID,
				"name": pid + ":indexpattern-datasource-layer-layer1"})
		}
		panelsJSON, _ := json.Marshal(panels)
		searchJSON, _ := json.Marshal(obj{
			"query":  obj{"query": "", "language": "kuery"},
			"filter": []any{filter},
		})
		dash := obj{
			"id":   d.ID,
			"type": "dashboard",
			"attributes": obj{
				"title":                 d.Title,
				"description":           d.Description,
				"timeRestore":           false,
				"version":               1,
				"optionsJSON":           `{"useMargins":true,"syncColors":false,"syncCursor":true,"syncTooltips":false,"hidePanelTitles":false}`,
				"panelsJSON":            string(panelsJSON),
				"kibanaSavedObjectMeta": obj{"searchSourceJSON": string(searchJSON)},
			},
			"references":           refs,
			"coreMigrationVersion": "8.8.0",
			"typeMigrationVersion": "8.9.0",
		}
		if err := writeJSON(filepath.Join(pkgDir, "kibana", "dashboard", d.ID+".json"), dash); err != nil {
			return err
		}
	}
	return nil
}

// definedFields is the set of field names any of datasets defines: a panel
// on an undefined field would show nothing.
func definedFields(srcRoot string, datasets []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, ds := range datasets {
		fields, err := LoadFields(srcRoot, ds)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			out[f.Name] = true
		}
		// The copies the compatibility pipeline makes under
		// network_traffic.* are fields of the data stream too.
		compat, err := CompatFields(srcRoot, ds, fields)
		if err != nil {
			return nil, err
		}
		for _, f := range compat {
			out[f.Name] = true
		}
	}
	return out, nil
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

func lensAttributes(kind, title, field, split, dataView string, filter obj) (obj, error) {
	count := obj{"label": "Count of records", "dataType": "number", "operationType": "count",
		"isBucketed": false, "scale": "ratio", "sourceField": "___records___"}
	columns := obj{}
	var order []string
	var vis obj
	var visType string
	switch kind {
	case "count":
		columns["c1"], order = count, []string{"c1"}
		visType = "lnsMetric"
		vis = obj{"layerId": "layer1", "layerType": "data", "metricAccessor": "c1"}
	case "timeline":
		columns["c1"] = obj{"label": "@timestamp", "dataType": "date", "operationType": "date_histogram",
			"sourceField": "@timestamp", "isBucketed": true, "scale": "interval", "params": obj{"interval": "auto"}}
		columns["c2"] = count
		order = []string{"c1", "c2"}
		layer := obj{"layerId": "layer1", "layerType": "data", "seriesType": "bar_stacked",
			"xAccessor": "c1", "accessors": []string{"c2"}}
		if split != "" {
			columns["c3"] = termsColumn(split, "c2", 5)
			order = []string{"c3", "c1", "c2"}
			layer["splitAccessor"] = "c3"
		}
		visType = "lnsXY"
		vis = obj{"preferredSeriesType": "bar_stacked", "legend": obj{"isVisible": true, "position": "right"},
			"layers": []any{layer}}
	case "top":
		if field == "" {
			return nil, fmt.Errorf("top panel needs a field")
		}
		columns["c1"] = termsColumn(field, "c2", 10)
		columns["c2"] = count
		order = []string{"c1", "c2"}
		visType = "lnsDatatable"
		vis = obj{"layerId": "layer1", "layerType": "data",
			"columns": []any{obj{"columnId": "c1"}, obj{"columnId": "c2"}}}
	default:
		return nil, fmt.Errorf("unknown panel kind %q", kind)
	}
	return obj{
		"title":             title,
		"type":              "lens",
		"visualizationType": visType,
		"references": []any{obj{"type": "index-pattern", "id": dataView,
			"name": "indexpattern-datasource-layer-layer1"}},
		"state": obj{
			"datasourceStates": obj{"formBased": obj{"layers": obj{"layer1": obj{
				"columns": columns, "columnOrder": order, "incompleteColumns": obj{},
			}}}},
			"visualization": vis,
			"query":         obj{"query": "", "language": "kuery"},
			"filters":       []any{filter},
		},
	}, nil
}

func termsColumn(field, orderBy string, size int) obj {
	return obj{"label": "Top values of " + field, "dataType": "string", "operationType": "terms",
		"sourceField": field, "isBucketed": true, "scale": "ordinal",
		"params": obj{"size": size, "orderBy": obj{"type": "column", "columnId": orderBy},
			"orderDirection": "desc", "otherBucket": true, "missingBucket": false}}
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
