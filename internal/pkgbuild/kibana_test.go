package pkgbuild

import (
	"path/filepath"
	"testing"
)

// Every field a dashboard panel counts or splits on is a field of one of
// the dashboard's data streams, as indexed (declared, or the copy the
// compatibility pipeline moves it to): a panel on a misspelt or moved
// field would show nothing.
func TestDashboardFieldsExist(t *testing.T) {
	src := SourceRoot()
	var spec dashboardSpec
	if err := readYAML(filepath.Join(src, "package", "kibana", "dashboards.yml"), &spec); err != nil {
		t.Fatal(err)
	}
	known := map[string]map[string]bool{}
	for _, d := range spec.Dashboards {
		for _, ds := range d.Datasets {
			if known[ds] != nil {
				continue
			}
			fields, err := LoadFields(src, ds)
			if err != nil {
				t.Fatal(err)
			}
			compat, err := CompatFields(src, ds, fields)
			if err != nil {
				t.Fatal(err)
			}
			known[ds] = map[string]bool{}
			for _, f := range fields {
				known[ds][f.Name] = true
			}
			for _, f := range compat {
				known[ds][f.Name] = true
			}
		}
		for _, p := range d.Panels {
			for _, name := range []string{p.Field, p.Split} {
				if name == "" {
					continue
				}
				found := false
				for _, ds := range d.Datasets {
					found = found || known[ds][name]
				}
				if !found {
					t.Errorf("%s panel %q: field %s is in none of %v", d.ID, p.Title, name, d.Datasets)
				}
			}
		}
	}
}
