package pkgbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elastic/package-spec/v3/code/go/pkg/validator"
)

// TestBuildAndValidate assembles the real package and runs Elastic's validator on it.
func TestBuildAndValidate(t *testing.T) {
	src := SourceRoot()
	pkgDir, err := Build(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(pkgDir); err != nil {
		t.Fatal(err)
	}
	version, _ := Version(src)
	if filepath.Base(pkgDir) != "network_traffic-"+version {
		t.Errorf("package dir %s, want network_traffic-%s", pkgDir, version)
	}
	// The zip is what Fleet uploads: it must validate too.
	if err := validator.ValidateFromZip(pkgDir + ".zip"); err != nil {
		t.Errorf("zip: %v", err)
	}
	for _, ds := range DataStreams {
		for _, f := range []string{
			"manifest.yml", "sample_event.json", "agent/stream/" + ds + ".yml.hbs",
			"fields/base.yml", "elasticsearch/ingest_pipeline/default.yml",
			"elasticsearch/ingest_pipeline/compatibility.yml", "elasticsearch/ingest_pipeline/geoip.yml",
		} {
			if _, err := os.Stat(filepath.Join(pkgDir, "data_stream", ds, f)); err != nil {
				t.Errorf("%s: %v", ds, err)
			}
		}
	}
	pls, err := InstallablePipelines(pkgDir, "dns", version)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"", "-compatibility", "-geoip"} {
		if _, ok := pls["logs-network_traffic.dns-"+version+n]; !ok {
			t.Errorf("InstallablePipelines lacks logs-network_traffic.dns-%s%s (have %d)", version, n, len(pls))
		}
	}
	readme, err := os.ReadFile(filepath.Join(pkgDir, "docs", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| dns.question.etld_plus_one |", "| network_traffic.dns.question.etld_plus_one |", `"dataset": "network_traffic.tls"`} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("docs/README.md lacks %q", want)
		}
	}
}
