package pkgbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one entry of a fields/*.yml file (the subset of package-spec keys we use).
type Field struct {
	Name        string  `yaml:"name"`
	Type        string  `yaml:"type,omitempty"`
	ObjectType  string  `yaml:"object_type,omitempty"`
	External    string  `yaml:"external,omitempty"`
	Description string  `yaml:"description,omitempty"`
	MultiFields []Field `yaml:"multi_fields,omitempty"`
	Fields      []Field `yaml:"fields,omitempty"`
}

// FlatField is a leaf field with its full dotted name and the file that defines it.
type FlatField struct {
	Field
	File string
}

// fieldFiles returns the source field files of ds: the shared ones first, then fields/<ds>/.
func fieldFiles(srcRoot, ds string) ([]string, error) {
	var out []string
	for _, dir := range []string{filepath.Join(srcRoot, "fields", "_shared"), filepath.Join(srcRoot, "fields", ds)} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.yml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// LoadFields returns every leaf field of data stream ds as defined in the sources (without the
// generated network_traffic.* compatibility copies; see CompatFields).
func LoadFields(srcRoot, ds string) ([]FlatField, error) {
	files, err := fieldFiles(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	var out []FlatField
	for _, f := range files {
		var fields []Field
		if err := readYAML(f, &fields); err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(srcRoot, f)
		out = appendFlat(out, fields, "", rel)
	}
	return out, nil
}

func appendFlat(out []FlatField, fields []Field, prefix, file string) []FlatField {
	for _, f := range fields {
		name := f.Name
		if prefix != "" {
			name = prefix + "." + f.Name
		}
		if len(f.Fields) > 0 {
			out = appendFlat(out, f.Fields, name, file)
			continue
		}
		leaf := f
		leaf.Name = name
		out = append(out, FlatField{Field: leaf, File: file})
	}
	return out
}

// CompatFields derives the network_traffic.<proto>.* copies from the rename processors of
// pipelines/<ds>/compatibility.yml: a field moved by the pipeline gets a definition at its new
// name with the original's type and description, so both layouts (map_to_ecs on or off) map.
func CompatFields(srcRoot, ds string, fields []FlatField) ([]Field, error) {
	var pl struct {
		Processors []map[string]map[string]any `yaml:"processors"`
	}
	if err := readYAML(filepath.Join(srcRoot, "pipelines", ds, "compatibility.yml"), &pl); err != nil {
		return nil, err
	}
	var out []Field
	seen := map[string]bool{} // two renames may target one field (mongodb.query and query): first wins
	for _, p := range pl.Processors {
		r, ok := p["rename"]
		if !ok {
			continue
		}
		from, _ := r["field"].(string)
		to, _ := r["target_field"].(string)
		if !strings.HasPrefix(to, "network_traffic.") {
			continue // e.g. process.ppid -> process.parent.pid, an ECS field defined in ecs.yml
		}
		n := 0
		for _, f := range fields {
			if f.External != "" || (f.Name != from && !strings.HasPrefix(f.Name, from+".")) {
				continue
			}
			c := f.Field
			c.Name = to + strings.TrimPrefix(f.Name, from)
			n++
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			out = append(out, c)
		}
		if n == 0 {
			return nil, fmt.Errorf("pipelines/%s/compatibility.yml renames %s to %s, but no field %s is defined", ds, from, to, from)
		}
	}
	return out, nil
}

// checkUniqueFields fails on a field defined twice in one data stream (package-spec rejects it,
// but naming both files here is more helpful).
func checkUniqueFields(ds string, fields []FlatField) error {
	seen := map[string]string{}
	var errs []string
	for _, f := range fields {
		if prev, dup := seen[f.Name]; dup {
			errs = append(errs, fmt.Sprintf("%s: field %s defined in %s and %s", ds, f.Name, prev, f.File))
		}
		seen[f.Name] = f.File
	}
	if len(errs) > 0 {
		return fmt.Errorf("duplicate fields:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

func writeFieldsYAML(path, header string, fields []Field) error {
	b, err := yaml.Marshal(fields)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(header), b...), 0o644)
}
