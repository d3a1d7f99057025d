package pkgbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Ingest pipeline naming.
//
// Pipeline sources (pipelines/<ds>/<name>.yml, copied into the package as
// data_stream/<ds>/elasticsearch/ingest_pipeline/<name>.yml) call each other with
// `{{ IngestPipeline "<name>" }}`, as Fleet expects. When Fleet (or our pipeline test runner)
// installs them into a node, each gets the name
//
//	logs-network_traffic.<ds>-<version>               for "default" (the data stream's default_pipeline)
//	logs-network_traffic.<ds>-<version>-<name>        for every other file (compatibility, geoip)
//
// and the references are replaced by those names. Use PipelineName and RenderPipeline for that,
// so the names in tests match what Fleet installs.

// PipelineName returns the installed name of pipeline name (file name without .yml) of data
// stream ds in package version version.
func PipelineName(ds, name, version string) string {
	base := fmt.Sprintf("logs-network_traffic.%s-%s", ds, version)
	if name == "default" {
		return base
	}
	return base + "-" + name
}

var ingestPipelineRef = regexp.MustCompile(`\{\{\s*IngestPipeline\s+"([a-z0-9_-]+)"\s*\}\}`)

// PipelineNames returns the pipelines src references with {{ IngestPipeline "x" }}, in order.
func PipelineNames(src []byte) []string {
	var out []string
	for _, m := range ingestPipelineRef.FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// RenderPipeline replaces every {{ IngestPipeline "x" }} in a pipeline source of data stream ds
// with PipelineName(ds, x, version). The result is still YAML; convert it to JSON to PUT it.
func RenderPipeline(src []byte, ds, version string) []byte {
	return ingestPipelineRef.ReplaceAllFunc(src, func(m []byte) []byte {
		name := ingestPipelineRef.FindSubmatch(m)[1]
		return []byte(PipelineName(ds, string(name), version))
	})
}

// InstallablePipelines returns the ingest pipelines of data stream ds in an assembled package
// (pkgDir from Build), keyed by their installed name (PipelineName) with references rendered:
// what Fleet would PUT to _ingest/pipeline/<name> (YAML; convert to JSON before sending).
func InstallablePipelines(pkgDir, ds, version string) (map[string][]byte, error) {
	files, err := filepath.Glob(filepath.Join(pkgDir, "data_stream", ds, "elasticsearch", "ingest_pipeline", "*.yml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no ingest pipelines for data stream %s", pkgDir, ds)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		out[PipelineName(ds, name, version)] = RenderPipeline(b, ds, version)
	}
	return out, nil
}
