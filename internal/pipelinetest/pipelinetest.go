// Package pipelinetest runs the package's pipeline test cases (elastic-package layout) against
// the test engine, and holds the helpers the index template test shares.
//
// Layout, per data stream, in the sources: package/<ds>/_dev/test/pipeline/
//
//	test-<name>.json                  {"events": [ ...documents as the input publishes them... ]}
//	test-<name>.json-expected.json    {"expected": [ ...documents after the default pipeline... ]}
//	test-<name>.json-config.yml       optional: dynamic_fields: {field: regexp}
//
// The package version inside string values (installed pipeline names in error messages) is
// written as VERSION in expected files.
//
// Run with NT_PIPELINE_GENERATE=1 to (re)write the expected files from the engine's output;
// review the diff before committing it.
package pipelinetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Case is one test-<name>.json file.
type Case struct {
	DataStream string
	Name       string // test-<name>
	Path       string
	Events     []map[string]any
	Expected   []map[string]any // nil when the expected file does not exist yet
	Dynamic    map[string]*regexp.Regexp
}

// ExpectedPath is where the case's expected output lives.
func (c *Case) ExpectedPath() string { return c.Path + "-expected.json" }

// CaseDir is package/<ds>/_dev/test/pipeline in the sources under root.
func CaseDir(root, ds string) string {
	return filepath.Join(root, "package", ds, "_dev", "test", "pipeline")
}

var caseName = regexp.MustCompile(`^test-[a-z0-9-]+\.json$`)

// LoadCases reads every case of data stream ds.
func LoadCases(root, ds string) ([]*Case, error) {
	dir := CaseDir(root, ds)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Case
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, "test-") || strings.HasSuffix(n, "-expected.json") ||
			strings.HasSuffix(n, "-config.yml") {
			continue
		}
		if !caseName.MatchString(n) {
			return nil, fmt.Errorf("%s: case names must match %s", filepath.Join(dir, n), caseName)
		}
		c := &Case{DataStream: ds, Name: strings.TrimSuffix(n, ".json"), Path: filepath.Join(dir, n)}
		var in struct {
			Events []map[string]any `json:"events"`
		}
		if err := readJSON(c.Path, &in); err != nil {
			return nil, err
		}
		if len(in.Events) == 0 {
			return nil, fmt.Errorf("%s: no events", c.Path)
		}
		c.Events = in.Events
		var exp struct {
			Expected []map[string]any `json:"expected"`
		}
		switch err := readJSON(c.ExpectedPath(), &exp); {
		case err == nil:
			c.Expected = exp.Expected
		case !os.IsNotExist(err):
			return nil, err
		}
		var cfg struct {
			DynamicFields map[string]string `yaml:"dynamic_fields"`
		}
		if b, err := os.ReadFile(c.Path + "-config.yml"); err == nil {
			if err := yaml.Unmarshal(b, &cfg); err != nil {
				return nil, fmt.Errorf("%s-config.yml: %w", c.Path, err)
			}
		}
		c.Dynamic = map[string]*regexp.Regexp{}
		for f, re := range cfg.DynamicFields {
			r, err := regexp.Compile("^(?:" + re + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s-config.yml: dynamic_fields.%s: %w", c.Path, f, err)
			}
			c.Dynamic[f] = r
		}
		out = append(out, c)
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WriteExpected writes docs as the case's expected file.
func (c *Case) WriteExpected(docs []map[string]any) error {
	b, err := MarshalIndent(map[string]any{"expected": docs})
	if err != nil {
		return err
	}
	return os.WriteFile(c.ExpectedPath(), b, 0o644)
}

// MarshalIndent is JSON with sorted keys, 4-space indent, no HTML escaping, final newline.
func MarshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Flatten maps a document to its leaf fields: dotted name -> canonical JSON of the value.
// Arrays of scalars are one leaf; arrays holding objects are flattened per element index
// (name.0.field) so a difference points at the element.
func Flatten(doc map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				out[prefix] = "{}"
			}
			for k, e := range x {
				// A literal dotted key ("event.action": ...) is not the same document as
				// a nested object: keep the difference visible (dot_expander is tested).
				if strings.Contains(k, ".") {
					k = "[" + k + "]"
				}
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, e)
			}
		case []any:
			hasObj := false
			for _, e := range x {
				if _, ok := e.(map[string]any); ok {
					hasObj = true
				}
			}
			if !hasObj {
				b, _ := json.Marshal(x)
				out[prefix] = string(b)
				return
			}
			for i, e := range x {
				walk(fmt.Sprintf("%s.%d", prefix, i), e)
			}
		default:
			b, _ := json.Marshal(x)
			out[prefix] = string(b)
		}
	}
	walk("", doc)
	return out
}

// Diff compares a document with its expectation, skipping dynamic fields whose actual value
// matches their pattern. It returns one line per difference, sorted.
func Diff(want, got map[string]any, dynamic map[string]*regexp.Regexp) []string {
	w, g := Flatten(want), Flatten(got)
	var out []string
	for k, gv := range g {
		if re, ok := dynamic[k]; ok {
			if !re.MatchString(strings.Trim(gv, `"`)) {
				out = append(out, fmt.Sprintf("%s: dynamic value %s does not match %s", k, gv, re))
			}
			continue
		}
		wv, ok := w[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("+ %s: %s (unexpected)", k, gv))
		case wv != gv:
			out = append(out, fmt.Sprintf("~ %s: want %s, got %s", k, wv, gv))
		}
	}
	for k, wv := range w {
		if _, ok := g[k]; !ok {
			if _, dyn := dynamic[k]; dyn {
				continue
			}
			out = append(out, fmt.Sprintf("- %s: %s (missing)", k, wv))
		}
	}
	sort.Strings(out)
	return out
}

// LeafNames lists a document's field names for the "defined in the package" check: like
// Flatten, but array elements keep their parent's name (fields of objects in arrays are
// defined without an index).
func LeafNames(doc map[string]any) []string {
	vals := LeafValues(doc)
	out := make([]string, 0, len(vals))
	for k := range vals {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// LeafValues maps each leaf field name (as LeafNames) to its scalar values.
func LeafValues(doc map[string]any) map[string][]any {
	out := map[string][]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, e)
			}
		case []any:
			if len(x) == 0 {
				out[prefix] = append(out[prefix], nil)
			}
			for _, e := range x {
				walk(prefix, e)
			}
		default:
			out[prefix] = append(out[prefix], x)
		}
	}
	walk("", doc)
	return out
}
