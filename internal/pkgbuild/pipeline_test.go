package pkgbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPipelineName(t *testing.T) {
	if got := PipelineName("dns", "default", "1.33.0"); got != "logs-network_traffic.dns-1.33.0" {
		t.Errorf("default: %s", got)
	}
	if got := PipelineName("dns", "compatibility", "1.33.0"); got != "logs-network_traffic.dns-1.33.0-compatibility" {
		t.Errorf("compatibility: %s", got)
	}
}

// Every pipeline parses, has on_failure setting error.message and event.kind, and references only
// pipelines that exist for its data stream; rendering replaces every reference.
func TestPipelinesWellFormed(t *testing.T) {
	src := SourceRoot()
	shared, _ := filepath.Glob(filepath.Join(src, "pipelines", "_shared", "*.yml"))
	for _, ds := range DataStreams {
		own, _ := filepath.Glob(filepath.Join(src, "pipelines", ds, "*.yml"))
		have := map[string]bool{}
		for _, f := range append(shared, own...) {
			have[strings.TrimSuffix(filepath.Base(f), ".yml")] = true
		}
		for _, name := range []string{"default", "compatibility", "geoip"} {
			if !have[name] {
				t.Errorf("%s: no %s pipeline", ds, name)
			}
		}
		for _, f := range append(shared, own...) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "---\n") {
				t.Errorf("%s: must start with ---", f)
			}
			for _, ref := range PipelineNames(b) {
				if !have[ref] {
					t.Errorf("%s references missing pipeline %q", f, ref)
				}
			}
			out := RenderPipeline(b, ds, "1.33.0")
			if strings.Contains(string(out), "IngestPipeline") {
				t.Errorf("%s: unrendered reference", f)
			}
			var pl struct {
				Processors []map[string]any            `yaml:"processors"`
				OnFailure  []map[string]map[string]any `yaml:"on_failure"`
			}
			if err := yaml.Unmarshal(out, &pl); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var msg, kind bool
			for _, p := range pl.OnFailure {
				for _, body := range p {
					msg = msg || body["field"] == "error.message"
					kind = kind || (body["field"] == "event.kind" && body["value"] == "pipeline_error")
				}
			}
			if len(pl.Processors) == 0 || !msg || !kind {
				t.Errorf("%s: processors=%d on_failure error.message=%v event.kind=%v", f, len(pl.Processors), msg, kind)
			}
		}
		def, _ := os.ReadFile(filepath.Join(src, "pipelines", ds, "default.yml"))
		if r := string(RenderPipeline(def, ds, "1.33.0")); !strings.Contains(r, "name: 'logs-network_traffic."+ds+"-1.33.0-compatibility'") ||
			!strings.Contains(r, "name: 'logs-network_traffic."+ds+"-1.33.0-geoip'") {
			t.Errorf("%s default.yml does not call its compatibility and geoip pipelines:\n%s", ds, r)
		}
	}
}

// The compatibility copies follow the pipeline's renames.
func TestCompatFields(t *testing.T) {
	src := SourceRoot()
	cases := map[string]map[string]string{
		"dns":       {"network_traffic.dns.flags.authoritative": "boolean", "network_traffic.dns.query": "keyword", "network_traffic.status": "keyword"},
		"memcached": {"network_traffic.memcached.request.keys": "keyword"},
		"mongodb":   {"network_traffic.mongodb.query": "keyword", "network_traffic.mongodb.cursorId": "keyword"},
		"nfs":       {"network_traffic.nfs.rpc.xid": "keyword", "network_traffic.nfs.version": "long"},
		"http": {"network_traffic.http.query": "keyword", "network_traffic.http.grpc.status_code": "long",
			"network_traffic.http.grpc.method": "keyword", "network_traffic.http.http2.reset.error_code": "keyword"},
	}
	for ds, want := range cases {
		fields, err := LoadFields(src, ds)
		if err != nil {
			t.Fatal(err)
		}
		compat, err := CompatFields(src, ds, fields)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range compat {
			got[f.Name] = f.Type
		}
		for name, typ := range want {
			if got[name] != typ {
				t.Errorf("%s: %s has type %q, want %q", ds, name, got[name], typ)
			}
		}
	}
	tls, _ := LoadFields(src, "tls")
	if c, _ := CompatFields(src, "tls", tls); len(c) != 1 || c[0].Name != "network_traffic.status" {
		t.Errorf("tls compat fields = %v, want only network_traffic.status", c)
	}
}
