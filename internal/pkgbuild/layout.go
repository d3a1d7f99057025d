package pkgbuild

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// layoutSpec is dashboards.yml's packetbeat_layout: how the second set of assets, for documents
// indexed with map_to_ecs off (Packetbeat's field layout, the compatibility pipeline not run),
// is told apart from the first. Its field names are not written anywhere: each is derived from
// the compatibility pipeline's renames (see layoutNames), so the two sets cannot drift apart.
type layoutSpec struct {
	IDSuffix    string `yaml:"id_suffix"`
	TitleSuffix string `yaml:"title_suffix"`
	// Tag is the Kibana tag every object of the set gets (kibana/tags.yml asset_ids).
	Tag string `yaml:"tag"`
	// Note is appended to each object's description.
	Note string `yaml:"note"`
	// NavLabel and ECSNavLabel name the other set in each navigation panel's link to the same
	// dashboard in the other layout.
	NavLabel    string `yaml:"nav_label"`
	ECSNavLabel string `yaml:"ecs_nav_label"`
	// IDs gives a saved search's twin the id the integration uses for it (its ECS search ->
	// its Packetbeat-layout search), instead of id + id_suffix.
	IDs map[string]string `yaml:"ids"`
	// Fields decides what the rename table cannot: an ECS-layout name several renames land
	// on (network_traffic.mongodb.query, from mongodb.query or query), or one only the
	// compatibility pipeline writes. "" leaves a panel, column or format on it out of the set.
	Fields map[string]string `yaml:"fields"`
}

// layoutNames translates field names of the ECS layout (map_to_ecs on, IndexedFields) to the
// Packetbeat layout (PacketbeatFields) through the compatibility pipeline's own renames: a
// field the pipeline moved from F (or from under F) has its name from F, one it did not move
// keeps its name, and any other case (several sources, none declared, a field that exists in
// one layout only) must be settled in packetbeat_layout.fields.
type layoutNames struct {
	ecs, pb  *fieldIndex
	explicit map[string]string
	used     map[string]bool
	renames  map[string][]compatRename
}

func (l *layoutNames) renamesOf(ds string) ([]compatRename, error) {
	if r, ok := l.renames[ds]; ok {
		return r, nil
	}
	r, err := compatRenames(l.ecs.srcRoot, ds)
	if err != nil {
		return nil, err
	}
	l.renames[ds] = r
	return r, nil
}

// name returns f's name in the Packetbeat layout for an object on datasets dss: the same in
// every one of them that has f ("" if f is left out of the set).
func (l *layoutNames) name(f string, dss []string) (string, error) {
	if f == "" {
		return "", nil
	}
	var names []string
	for _, ds := range dss {
		m, err := l.ecs.stream(ds)
		if err != nil {
			return "", err
		}
		if _, ok := m[f]; !ok {
			continue // the ECS set's own check reports a field in none of them
		}
		n, err := l.nameIn(f, ds)
		if err != nil {
			return "", err
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch len(names) {
	case 0:
		return f, nil
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("%s is %s in different data streams of %v: one panel cannot show both", f, strings.Join(names, " or "), dss)
}

func (l *layoutNames) nameIn(f, ds string) (string, error) {
	renames, err := l.renamesOf(ds)
	if err != nil {
		return "", err
	}
	pb, err := l.pb.stream(ds)
	if err != nil {
		return "", err
	}
	var from, declared []string
	for _, r := range renames {
		if f != r.to && !strings.HasPrefix(f, r.to+".") {
			continue
		}
		src := r.from + strings.TrimPrefix(f, r.to)
		if slices.Contains(from, src) {
			continue
		}
		from = append(from, src)
		if _, ok := pb[src]; ok {
			declared = append(declared, src)
		}
	}
	if n, ok := l.explicit[f]; ok {
		l.used[f] = true
		if n == "" {
			return "", nil
		}
		if _, ok := pb[n]; !ok {
			return "", fmt.Errorf("packetbeat_layout.fields: %s: %s is not a field of %s with map_to_ecs off", f, n, ds)
		}
		if len(from) > 0 && !slices.Contains(from, n) {
			return "", fmt.Errorf("packetbeat_layout.fields: %s: the compatibility pipeline of %s moves it from %v, not from %s", f, ds, from, n)
		}
		return n, nil
	}
	switch {
	case len(declared) == 1:
		return declared[0], nil
	case len(declared) > 1:
		return "", fmt.Errorf("%s: the compatibility pipeline of %s moves each of %v to it; say which one the Packetbeat layout shows in packetbeat_layout.fields", f, ds, declared)
	case len(from) > 0:
		return "", fmt.Errorf("%s: the compatibility pipeline of %s moves %v to it, and none of them is a field of %s; settle it in packetbeat_layout.fields", f, ds, from, ds)
	}
	if _, ok := pb[f]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%s exists in %s only with map_to_ecs on (the compatibility pipeline writes it); say in packetbeat_layout.fields what shows it with map_to_ecs off (\"\" leaves it out)", f, ds)
}

// packetbeatSet derives the Packetbeat-layout set from the ECS one: every dashboard (so each
// set's navigation links its own), and a twin of every saved search whose fields differ.
// Field names come from l; titles, ids, descriptions and tag from spec.PacketbeatLayout.
func packetbeatSet(spec *dashboardSpec, l *layoutNames) (*dashboardSpec, error) {
	lay := spec.PacketbeatLayout
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if lay.IDSuffix == "" || lay.TitleSuffix == "" || lay.Tag == "" || lay.NavLabel == "" || lay.ECSNavLabel == "" {
		bad("packetbeat_layout: id_suffix, title_suffix, tag, nav_label and ecs_nav_label are required")
	}
	name := func(where, f string, dss []string) string {
		n, err := l.name(f, dss)
		if err != nil {
			bad("%s: %v", where, err)
			return f
		}
		return n
	}
	query := func(where, q string, dss []string) string {
		k, err := ParseKQL(q)
		if err != nil {
			return q // the ECS set's check reports it
		}
		out, err := k.RenameFields(func(f string) (string, error) {
			n, err := l.name(f, dss)
			if err == nil && n == "" {
				err = fmt.Errorf("%s is not in the Packetbeat layout; a query cannot leave it out", f)
			}
			return n, err
		})
		if err != nil {
			bad("%s query: %v", where, err)
			return q
		}
		return out
	}
	describe := func(s string) string {
		if lay.Note == "" {
			return s
		}
		return strings.TrimSpace(s + " " + lay.Note)
	}

	pb := &dashboardSpec{DataView: spec.DataView, PacketbeatLayout: lay}
	pb.DataView.FieldFormats = map[string]fieldFormat{}
	for f, ff := range spec.DataView.FieldFormats {
		if n := name("data_view field_formats", f, DataStreams); n != "" {
			pb.DataView.FieldFormats[n] = ff
		}
	}
	for _, c := range spec.Controls {
		c.Field = name("control "+c.Field, c.Field, DataStreams)
		if c.Field == "" {
			bad("control: a control cannot be left out of one layout")
		}
		pb.Controls = append(pb.Controls, c)
	}
	for i := range spec.Dashboards {
		d := spec.Dashboards[i]
		p := d
		p.ID = d.ID + lay.IDSuffix
		p.Title = d.Title + lay.TitleSuffix
		p.Description = describe(d.Description)
		p.twin, p.twinLabel = d.ID, lay.ECSNavLabel
		spec.Dashboards[i].twin, spec.Dashboards[i].twinLabel = p.ID, lay.NavLabel
		p.Panels = nil
		for j, ps := range d.Panels {
			where := fmt.Sprintf("%s panel %d (%s)", d.ID, j+1, ps.Title)
			q := ps
			q.Field = name(where, ps.Field, d.Datasets)
			q.Split = name(where, ps.Split, d.Datasets)
			if ps.Metric != nil {
				m := *ps.Metric
				m.Field = name(where+" metric", m.Field, d.Datasets)
				q.Metric = &m
			}
			q.Query = query(where, ps.Query, d.Datasets)
			if (ps.Field != "" && q.Field == "") || (ps.Split != "" && q.Split == "") || (ps.Metric != nil && q.Metric.Field == "") {
				continue // its field is left out of this layout (packetbeat_layout.fields)
			}
			p.Panels = append(p.Panels, q)
		}
		if len(p.Panels) == 0 {
			bad("%s: no panel left in the Packetbeat layout", d.ID)
		}
		pb.Dashboards = append(pb.Dashboards, p)
	}
	for _, s := range spec.SavedSearches {
		t := s
		t.Columns = nil
		for _, c := range s.Columns {
			if n := name(s.ID+" column", c, s.Datasets); n != "" {
				t.Columns = append(t.Columns, n)
			}
		}
		if len(s.Sort) == 2 {
			t.Sort = []string{name(s.ID+" sort", s.Sort[0], s.Datasets), s.Sort[1]}
		}
		t.Query = query(s.ID, s.Query, s.Datasets)
		id, named := lay.IDs[s.ID]
		if slices.Equal(t.Columns, s.Columns) && slices.Equal(t.Sort, s.Sort) && t.Query == s.Query {
			if named {
				bad("packetbeat_layout.ids: %s reads the same in both layouts and gets no twin", s.ID)
			}
			continue // one saved search serves both layouts
		}
		if !named {
			id = s.ID + lay.IDSuffix
		}
		t.ID = id
		t.Title = s.Title + lay.TitleSuffix
		t.Description = describe(s.Description)
		pb.SavedSearches = append(pb.SavedSearches, t)
	}
	for id := range lay.IDs {
		if !slices.ContainsFunc(spec.SavedSearches, func(s savedSearchDef) bool { return s.ID == id }) {
			bad("packetbeat_layout.ids: %s is not a saved search", id)
		}
	}
	var unused []string
	for f := range lay.Fields {
		if !l.used[f] {
			unused = append(unused, f)
		}
	}
	sort.Strings(unused)
	for _, f := range unused {
		bad("packetbeat_layout.fields: %s is used by no dashboard, saved search or format (stale entry)", f)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("package/kibana/dashboards.yml, Packetbeat layout:\n  %s", strings.Join(errs, "\n  "))
	}
	return pb, nil
}

// kibanaSets reads dashboards.yml and returns both sets of assets, each checked against the
// fields of its own layout: the ECS one as written (map_to_ecs on) and the derived Packetbeat
// one (map_to_ecs off), with their field indexes.
func kibanaSets(srcRoot string) (ecsSet, pbSet *dashboardSpec, ecsFx, pbFx *fieldIndex, err error) {
	spec, err := readDashboardSpec(srcRoot)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ecsFx, err = newFieldIndex(srcRoot, "on", IndexedFields)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pbFx, err = newFieldIndex(srcRoot, "off", PacketbeatFields)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := checkSpec(spec, ecsFx); err != nil {
		return nil, nil, nil, nil, err
	}
	l := &layoutNames{ecs: ecsFx, pb: pbFx, explicit: spec.PacketbeatLayout.Fields, used: map[string]bool{},
		renames: map[string][]compatRename{}}
	pbSet, err = packetbeatSet(spec, l)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := checkSpec(pbSet, pbFx); err != nil {
		return nil, nil, nil, nil, err
	}
	// Ids are unique across both sets, per saved-object type.
	ids := map[string]bool{}
	for _, set := range []*dashboardSpec{spec, pbSet} {
		for _, d := range set.Dashboards {
			if ids["dashboard/"+d.ID] {
				return nil, nil, nil, nil, fmt.Errorf("dashboards.yml: dashboard id %s in both layouts", d.ID)
			}
			ids["dashboard/"+d.ID] = true
		}
		for _, s := range set.SavedSearches {
			if ids["search/"+s.ID] {
				return nil, nil, nil, nil, fmt.Errorf("dashboards.yml: saved search id %s in both layouts", s.ID)
			}
			ids["search/"+s.ID] = true
		}
	}
	return spec, pbSet, ecsFx, pbFx, nil
}
