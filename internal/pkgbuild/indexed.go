package pkgbuild

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IndexedFields returns the fields of data stream ds as a document has them once indexed with
// the default map_to_ecs: true, each with its mapping type: the declared fields, less those
// the compatibility pipeline renames away under network_traffic.*, plus the network_traffic.*
// copies. A dashboard or saved search on a field of the other layout would show nothing, so
// Kibana assets are checked against this set, not against every declared name.
//
// Types of `external: ecs` fields come from ecsTypes (internal/estest/ecs_types.tsv, the
// table the mapping tests use); one missing there is typed "".
func IndexedFields(srcRoot, ds string, ecsTypes map[string]string) (map[string]string, error) {
	fields, err := LoadFields(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	compat, err := CompatFields(srcRoot, ds, fields)
	if err != nil {
		return nil, err
	}
	moved, err := compatMoved(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range fields {
		if isMoved(f.Name, moved) {
			continue
		}
		typ := f.Type
		if f.External == "ecs" {
			typ = ecsTypes[f.Name]
		}
		out[f.Name] = typ
	}
	for _, f := range compat {
		out[f.Name] = f.Type
	}
	return out, nil
}

// compatRename is one rename processor of a compatibility pipeline: field from (as the binary
// publishes it, Packetbeat's name) becomes to.
type compatRename struct{ from, to string }

// compatRenames returns the rename processors of pipelines/<ds>/compatibility.yml in order:
// the one table both field layouts are derived from.
func compatRenames(srcRoot, ds string) ([]compatRename, error) {
	var pl struct {
		Processors []map[string]map[string]any `yaml:"processors"`
	}
	if err := readYAML(filepath.Join(srcRoot, "pipelines", ds, "compatibility.yml"), &pl); err != nil {
		return nil, err
	}
	var out []compatRename
	for _, p := range pl.Processors {
		r, ok := p["rename"]
		if !ok {
			continue
		}
		from, _ := r["field"].(string)
		to, _ := r["target_field"].(string)
		if from != "" && to != "" {
			out = append(out, compatRename{from, to})
		}
	}
	return out, nil
}

// compatMoved lists the source fields of the compatibility pipeline's renames to
// network_traffic.* (what CompatFields derives its copies from).
func compatMoved(srcRoot, ds string) ([]string, error) {
	renames, err := compatRenames(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range renames {
		if strings.HasPrefix(r.to, "network_traffic.") {
			out = append(out, r.from)
		}
	}
	return out, nil
}

// PacketbeatFields returns the fields of data stream ds as a document has them once indexed
// with map_to_ecs off (the compatibility pipeline not run: Packetbeat's field layout), each with
// its mapping type: the declared fields, less those only the compatibility pipeline writes (a
// declared field at or under a rename target, such as network_traffic.nfs.host.hostname, which
// its script fills, or process.parent.pid), and without the generated network_traffic.* copies.
// Fields the compatibility pipeline removes (type, event.dataset) are in this layout only.
func PacketbeatFields(srcRoot, ds string, ecsTypes map[string]string) (map[string]string, error) {
	fields, err := LoadFields(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	renames, err := compatRenames(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, r := range renames {
		targets = append(targets, r.to)
	}
	out := map[string]string{}
	for _, f := range fields {
		if isMoved(f.Name, targets) {
			continue
		}
		typ := f.Type
		if f.External == "ecs" {
			typ = ecsTypes[f.Name]
		}
		out[f.Name] = typ
	}
	return out, nil
}

func isMoved(name string, moved []string) bool {
	for _, m := range moved {
		if name == m || strings.HasPrefix(name, m+".") {
			return true
		}
	}
	return false
}

// ECSTypes reads the ECS field types the package's `external: ecs` references resolve to
// (internal/estest/ecs_types.tsv under the code tree: field<TAB>type[<TAB>options]).
func ECSTypes() (map[string]string, error) {
	path := filepath.Join(SourceRoot(), "internal", "estest", "ecs_types.tsv")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			return nil, fmt.Errorf("%s:%d: want field<TAB>type", path, n)
		}
		out[cols[0]] = cols[1]
	}
	return out, sc.Err()
}
