package estest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/network-traffic/network-traffic/internal/pkgbuild"
)

// Package is the assembled Fleet package the tests install, built once per test binary by
// pkgbuild.Build from the repository sources: the tests exercise exactly what ships.
type Package struct {
	Root    string // repository root (sources)
	Dir     string // build/.../network_traffic-<version>
	Version string
}

var (
	buildOnce sync.Once
	built     *Package
	buildErr  error
)

// RepoRoot is the repository root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BuildPackage assembles the package into a temporary directory (once per process).
func BuildPackage() (*Package, error) {
	buildOnce.Do(func() {
		root := RepoRoot()
		out, err := os.MkdirTemp("", "nt-estest-pkg-")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := pkgbuild.Build(root, out)
		if err != nil {
			buildErr = fmt.Errorf("building the package: %w", err)
			return
		}
		v, err := pkgbuild.Version(root)
		if err != nil {
			buildErr = err
			return
		}
		built = &Package{Root: root, Dir: dir, Version: v}
	})
	return built, buildErr
}

// RemoveBuilt deletes the package built by BuildPackage, if any (call it from TestMain).
func RemoveBuilt() {
	if built != nil {
		os.RemoveAll(filepath.Dir(built.Dir))
	}
}

// DataStreams lists the package's data streams.
func (p *Package) DataStreams() []string { return pkgbuild.DataStreams }

// DataStreamDir is data_stream/<ds> in the built package.
func (p *Package) DataStreamDir(ds string) string {
	return filepath.Join(p.Dir, "data_stream", ds)
}

// PipelineName is the installed name of pipeline file name (without .yml) of ds, as Fleet
// names it.
func (p *Package) PipelineName(ds, name string) string {
	return pkgbuild.PipelineName(ds, name, p.Version)
}

// Pipelines returns ds's ingest pipelines as JSON bodies keyed by installed name, with
// {{ IngestPipeline "x" }} references rendered to installed names.
func (p *Package) Pipelines(ds string) (map[string][]byte, error) {
	dir := filepath.Join(p.DataStreamDir(ds), "elasticsearch", "ingest_pipeline")
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no ingest pipelines in %s", ds, dir)
	}
	out := map[string][]byte{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rendered := pkgbuild.RenderPipeline(src, ds, p.Version)
		var v any
		if err := yaml.Unmarshal(rendered, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		body, err := json.Marshal(jsonable(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[p.PipelineName(ds, strings.TrimSuffix(filepath.Base(f), ".yml"))] = body
	}
	return out, nil
}

// InstallPipelines puts every pipeline of ds into the engine and returns the default
// pipeline's name. Pipelines that others call are installed first, though the engine only
// checks references when a document runs.
func (c *Client) InstallPipelines(p *Package, ds string) (string, error) {
	pls, err := p.Pipelines(ds)
	if err != nil {
		return "", err
	}
	def := p.PipelineName(ds, "default")
	if _, ok := pls[def]; !ok {
		return "", fmt.Errorf("%s: no default pipeline", ds)
	}
	names := make([]string, 0, len(pls))
	for n := range pls {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { // default last
		if (names[i] == def) != (names[j] == def) {
			return names[j] == def
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if err := c.PutPipeline(n, pls[n]); err != nil {
			return "", fmt.Errorf("installing pipeline %s: %w", n, err)
		}
	}
	return def, nil
}

// jsonable turns yaml.v3's decoded values into ones encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	default:
		return v
	}
}
