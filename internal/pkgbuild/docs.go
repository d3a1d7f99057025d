package pkgbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

// writeDocs renders package/_docs/README.md.tmpl into docs/README.md. The template may call
// {{fields "ds"}} (a table of the data stream's fields, as assembled), {{dashboards}} (the
// dashboards and saved searches of package/kibana/dashboards.yml), {{event "ds"}}
// (its sample_event.json) and {{example "name"}} (package/_docs/examples/<name>.json, a further event
// from a real capture, written by internal/samples).
func writeDocs(srcRoot, pkgDir string) error {
	src := filepath.Join(srcRoot, "package", "_docs", "README.md.tmpl")
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	funcs := template.FuncMap{
		"example": func(name string) (string, error) {
			ev, err := os.ReadFile(filepath.Join(srcRoot, "package", "_docs", "examples", name+".json"))
			if err != nil {
				return "", err
			}
			return "```json\n" + strings.TrimSpace(string(ev)) + "\n```\n", nil
		},
		"fields":     func(ds string) (string, error) { return fieldsTable(pkgDir, srcRoot, ds) },
		"dashboards": func() (string, error) { return dashboardsDoc(srcRoot) },
		"event": func(ds string) (string, error) {
			ev, err := os.ReadFile(filepath.Join(pkgDir, "data_stream", ds, "sample_event.json"))
			if err != nil {
				return "", err
			}
			return "An example event for `" + ds + "` looks as following:\n\n```json\n" +
				strings.TrimSpace(string(ev)) + "\n```\n", nil
		},
	}
	t, err := template.New("README.md").Funcs(funcs).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	var out strings.Builder
	if err := t.Execute(&out, nil); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	dst := filepath.Join(pkgDir, "docs", "README.md")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(out.String()), 0o644)
}

// fieldsTable renders the fields of an assembled data stream as a Markdown table.
func fieldsTable(pkgDir, srcRoot, ds string) (string, error) {
	files, err := filepath.Glob(filepath.Join(pkgDir, "data_stream", ds, "fields", "*.yml"))
	if err != nil {
		return "", err
	}
	var flat []FlatField
	for _, f := range files {
		var fields []Field
		if err := readYAML(f, &fields); err != nil {
			return "", err
		}
		flat = appendFlat(flat, fields, "", filepath.Base(f))
	}
	if len(flat) == 0 {
		return "", fmt.Errorf("no fields for data stream %s (was it built?)", ds)
	}
	sort.Slice(flat, func(i, j int) bool { return flat[i].Name < flat[j].Name })
	var b strings.Builder
	b.WriteString("**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n")
	for _, f := range flat {
		desc, typ := f.Description, f.Type
		if f.External == "ecs" {
			desc, typ = "ECS field, see the Elastic Common Schema reference.", "ECS"
		}
		if f.ObjectType != "" {
			typ += " (" + f.ObjectType + ")"
		}
		desc = strings.ReplaceAll(strings.TrimSpace(desc), "\n", " ")
		desc = strings.ReplaceAll(desc, "|", `\|`)
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.Name, desc, typ)
	}
	return b.String(), nil
}
