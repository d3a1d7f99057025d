package estest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// ecsTypesTSV holds the types of the ECS fields the package references (`external: ecs`).
//
//go:embed ecs_types.tsv
var ecsTypesTSV string

// ECSField is one row of ecs_types.tsv.
type ECSField struct {
	Type    string
	Text    bool // also a .text match_only_text multi-field
	NoIndex bool // index: false, doc_values: false
}

// ECSTypes parses ecs_types.tsv.
func ECSTypes() (map[string]ECSField, error) {
	out := map[string]ECSField{}
	for i, line := range strings.Split(ecsTypesTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			return nil, fmt.Errorf("ecs_types.tsv:%d: want field<TAB>type[<TAB>options]", i+1)
		}
		f := ECSField{Type: cols[1]}
		if len(cols) > 2 {
			for _, o := range strings.Split(cols[2], ",") {
				switch o {
				case "text":
					f.Text = true
				case "noindex":
					f.NoIndex = true
				default:
					return nil, fmt.Errorf("ecs_types.tsv:%d: unknown option %q", i+1, o)
				}
			}
		}
		out[cols[0]] = f
	}
	return out, nil
}

// Field is a leaf field definition of a data stream, with its full dotted name.
type Field struct {
	Name        string
	Type        string
	ObjectType  string
	External    string
	ScalingFact any
	Value       string // constant_keyword value, if the definition sets one
	MultiFields []Field
	File        string
}

type rawField struct {
	Name          string     `yaml:"name"`
	Type          string     `yaml:"type"`
	ObjectType    string     `yaml:"object_type"`
	External      string     `yaml:"external"`
	ScalingFactor any        `yaml:"scaling_factor"`
	Value         string     `yaml:"value"`
	MultiFields   []rawField `yaml:"multi_fields"`
	Fields        []rawField `yaml:"fields"`
}

// Fields reads data_stream/<ds>/fields/*.yml of the built package, flattened to leaves.
func (p *Package) Fields(ds string) ([]Field, error) {
	files, err := filepath.Glob(filepath.Join(p.DataStreamDir(ds), "fields", "*.yml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Field
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var raw []rawField
		if err := yaml.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = flatten(out, raw, "", filepath.Base(f))
	}
	return out, nil
}

func flatten(out []Field, raw []rawField, prefix, file string) []Field {
	for _, r := range raw {
		name := r.Name
		if prefix != "" {
			name = prefix + "." + r.Name
		}
		if len(r.Fields) > 0 && (r.Type == "" || r.Type == "group") {
			out = flatten(out, r.Fields, name, file)
			continue
		}
		f := Field{Name: name, Type: r.Type, ObjectType: r.ObjectType, External: r.External,
			ScalingFact: r.ScalingFactor, Value: r.Value, File: file}
		for _, m := range r.MultiFields {
			f.MultiFields = append(f.MultiFields, Field{Name: m.Name, Type: m.Type})
		}
		out = append(out, f)
	}
	return out
}

// Resolve fills in the type of `external: ecs` fields from the ECS table. A reference the
// table lacks is an error: the mapping must not guess.
func Resolve(fields []Field) ([]Field, error) {
	ecs, err := ECSTypes()
	if err != nil {
		return nil, err
	}
	var missing []string
	out := make([]Field, len(fields))
	for i, f := range fields {
		if f.External == "ecs" && f.Type == "" {
			e, ok := ecs[f.Name]
			if !ok {
				missing = append(missing, f.Name+" ("+f.File+")")
			}
			f.Type = e.Type
			if e.Text {
				f.MultiFields = append(f.MultiFields, Field{Name: "text", Type: "match_only_text"})
			}
			if e.NoIndex {
				f.ObjectType = "noindex" // marker read by leafMapping
			}
		} else if f.External != "" && f.External != "ecs" {
			missing = append(missing, f.Name+" (external: "+f.External+")")
		}
		out[i] = f
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no type for external fields (add them to internal/estest/ecs_types.tsv from ECS): %s",
			strings.Join(missing, ", "))
	}
	return out, nil
}

// Gap is one place where the generated mapping differs from what Elasticsearch 8 would get,
// because the engine lacks the feature. Tests log them; README.md lists them.
type Gap struct{ Field, ES8, Engine string }

// Mapping converts resolved leaf fields into index mappings (properties and dynamic templates)
// for data stream ds, and reports the gaps it bridged.
func Mapping(ds string, fields []Field) (map[string]any, []Gap, error) {
	props := map[string]any{}
	var dyn []any
	var gaps []Gap
	for _, f := range fields {
		leaf, g, err := leafMapping(ds, f)
		if err != nil {
			return nil, nil, err
		}
		if g != nil {
			gaps = append(gaps, *g)
		}
		if f.Type == "object" && f.ObjectType != "" && f.ObjectType != "noindex" {
			// object_type: values under name.* get that type, as Fleet's dynamic templates do.
			om, _, err := leafMapping(ds, Field{Name: f.Name + ".*", Type: f.ObjectType})
			if err != nil {
				return nil, nil, err
			}
			dyn = append(dyn, map[string]any{
				f.Name: map[string]any{"path_match": f.Name + ".*", "mapping": om},
			})
		}
		if err := insert(props, strings.Split(f.Name, "."), leaf); err != nil {
			return nil, nil, fmt.Errorf("field %s (%s): %w", f.Name, f.File, err)
		}
	}
	m := map[string]any{"properties": props}
	if len(dyn) > 0 {
		m["dynamic_templates"] = dyn
	}
	return m, gaps, nil
}

func leafMapping(ds string, f Field) (map[string]any, *Gap, error) {
	var m map[string]any
	var gap *Gap
	switch f.Type {
	case "keyword":
		m = map[string]any{"type": "keyword", "ignore_above": IgnoreAbove}
	case "constant_keyword":
		// Elasticsearch 8 takes the value from the first document; this engine requires
		// it in the mapping. Known values are set; others map as keyword.
		v := f.Value
		switch f.Name {
		case "data_stream.type":
			v = "logs"
		case "data_stream.dataset":
			v = "network_traffic." + ds
		}
		if v != "" {
			m = map[string]any{"type": "constant_keyword", "value": v}
		} else {
			m = map[string]any{"type": "keyword"}
			gap = &Gap{f.Name, "constant_keyword (value from the first document)", "keyword (constant_keyword needs its value up front)"}
		}
	case "flattened":
		m = map[string]any{"type": "flat_object"}
		gap = &Gap{f.Name, "flattened", "flat_object"}
	case "text", "match_only_text", "wildcard", "long", "integer", "short", "byte", "double",
		"float", "half_float", "ip", "date", "boolean", "geo_point", "binary", "date_nanos":
		m = map[string]any{"type": f.Type}
	case "scaled_float":
		sf := f.ScalingFact
		if sf == nil {
			sf = 1000 // package-spec's default
		}
		m = map[string]any{"type": "scaled_float", "scaling_factor": sf}
	case "object":
		m = map[string]any{"type": "object"}
	case "nested":
		m = map[string]any{"type": "nested"}
	case "":
		return nil, nil, fmt.Errorf("field %s (%s) has no type", f.Name, f.File)
	default:
		return nil, nil, fmt.Errorf("field %s (%s): type %q not supported by the mapping generator", f.Name, f.File, f.Type)
	}
	if f.ObjectType == "noindex" {
		m["index"] = false
		m["doc_values"] = false
	}
	if len(f.MultiFields) > 0 {
		mf := map[string]any{}
		for _, x := range f.MultiFields {
			sub, _, err := leafMapping(ds, x)
			if err != nil {
				return nil, nil, err
			}
			mf[x.Name] = sub
		}
		m["fields"] = mf
	}
	return m, gap, nil
}

// insert places leaf at path in a properties tree. An object leaf and fields under it merge.
func insert(props map[string]any, path []string, leaf map[string]any) error {
	name := path[0]
	if len(path) == 1 {
		if prev, ok := props[name].(map[string]any); ok {
			if leaf["type"] != "object" && leaf["type"] != "nested" {
				if prev["type"] == nil || prev["type"] == "object" {
					return fmt.Errorf("defined as %v but other fields are under it", leaf["type"])
				}
				return fmt.Errorf("defined twice")
			}
			for k, v := range leaf {
				if k != "properties" {
					prev[k] = v
				}
			}
			return nil
		}
		props[name] = leaf
		return nil
	}
	node, ok := props[name].(map[string]any)
	if !ok {
		node = map[string]any{}
		props[name] = node
	}
	if t, ok := node["type"]; ok && t != "object" && t != "nested" {
		return fmt.Errorf("%s is a %v field, cannot hold sub-fields", name, t)
	}
	sub, ok := node["properties"].(map[string]any)
	if !ok {
		sub = map[string]any{}
		node["properties"] = sub
	}
	return insert(sub, path[1:], leaf)
}

// IndexPattern and DataStreamName follow Fleet's naming.
func IndexPattern(ds string) string { return "logs-network_traffic." + ds + "-*" }

// DataStreamName is the data stream Fleet writes ds's events to in namespace ns.
func DataStreamName(ds, ns string) string { return "logs-network_traffic." + ds + "-" + ns }

// IndexTemplate builds the composable index template for ds: the data stream's mappings from
// its fields, and the default pipeline, as Fleet installs them.
func (p *Package) IndexTemplate(ds string) (map[string]any, []Gap, error) {
	fields, err := p.Fields(ds)
	if err != nil {
		return nil, nil, err
	}
	fields, err = Resolve(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ds, err)
	}
	mappings, gaps, err := Mapping(ds, fields)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ds, err)
	}
	return map[string]any{
		"index_patterns": []string{IndexPattern(ds)},
		"data_stream":    map[string]any{},
		"priority":       200,
		"template": map[string]any{
			"settings": map[string]any{
				"index.default_pipeline":   p.PipelineName(ds, "default"),
				"index.number_of_shards":   1,
				"index.number_of_replicas": 0,
				// Fleet's templates raise the default 1000; the ECS + protocol fields stay below it.
				"index.mapping.total_fields.limit": 10000,
			},
			"mappings": mappings,
		},
	}, gaps, nil
}

// InstallIndexTemplate puts ds's index template (named like Fleet's) into the engine.
func (c *Client) InstallIndexTemplate(p *Package, ds string) ([]Gap, error) {
	tmpl, gaps, err := p.IndexTemplate(ds)
	if err != nil {
		return nil, err
	}
	if err := c.Do("PUT", "/_index_template/logs-network_traffic."+ds, tmpl, nil); err != nil {
		return nil, err
	}
	return gaps, nil
}

// IgnoreAbove is the ignore_above of every keyword field in the generated mappings (as ECS).
const IgnoreAbove = 1024

// DefinedName reports whether a document's leaf field (dotted name) is covered by fields.
func DefinedName(fields []Field, name string) bool {
	_, ok := Lookup(fields, name)
	return ok
}

// Lookup finds the definition covering a document's leaf field: the field itself, or an
// object, flattened or geo_point ({lat, lon}) field above it.
func Lookup(fields []Field, name string) (Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
		if strings.HasPrefix(name, f.Name+".") && (f.Type == "object" || f.Type == "flattened" || f.Type == "geo_point") {
			return f, true
		}
	}
	return Field{}, false
}
