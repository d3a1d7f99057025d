package pkgbuild

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// copySources copies the package sources (not the rest of the repository) into a temp dir.
func copySources(t *testing.T) string {
	t.Helper()
	src, dst := SourceRoot(), t.TempDir()
	for _, f := range []string{"manifest.yml", "changelog.yml"} {
		if err := copyFile(filepath.Join(src, f), filepath.Join(dst, f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"package", "fields", "pipelines"} {
		if err := copyTree(filepath.Join(src, d), filepath.Join(dst, d)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A corrupt data stream manifest must fail validation with the validator's message, naming the
// file and the line of the offending var.
func TestValidateReportsBrokenManifest(t *testing.T) {
	src := copySources(t)
	// The dns manifest's third var is monitor_processes; give it a type package-spec rejects.
	replaceIn(t, filepath.Join(src, "package", "dns", "manifest.yml"),
		"      - name: monitor_processes\n        type: bool", "      - name: monitor_processes\n        type: boolean")
	pkgDir, err := Build(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(pkgDir)
	if err == nil {
		t.Fatal("corrupt manifest validated")
	}
	msg := err.Error()
	t.Log(msg)
	want := filepath.Join("data_stream", "dns", "manifest.yml") + ":"
	if !strings.Contains(msg, want) {
		t.Errorf("error does not name %s<line>: %s", want, msg)
	}
	if !strings.Contains(msg, "(source: package/dns/manifest.yml)") {
		t.Errorf("error does not name the source file: %s", msg)
	}
	// The validator's own wording for an enum violation.
	if !strings.Contains(msg, "streams.0.vars.2.type") || !strings.Contains(msg, "must be one of") {
		t.Errorf("error lacks the validator's message: %s", msg)
	}
	// Line of `- name: monitor_processes` in the corrupted source (same in the package copy).
	line := lineOf(t, filepath.Join(src, "package", "dns", "manifest.yml"), "type: boolean")
	if !strings.Contains(msg, want+strconv.Itoa(line)+" ") {
		t.Errorf("error does not point at line %d: %s", line, msg)
	}
}

// A missing changelog entry for the manifest version is a semantic (not schema) error.
func TestValidateReportsVersionWithoutChangelog(t *testing.T) {
	src := copySources(t)
	// A version the changelog cannot have, whatever the current one is.
	m, err := os.ReadFile(filepath.Join(src, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cur := regexp.MustCompile(`(?m)^version: "[^"]+"`).Find(m)
	if cur == nil {
		t.Fatal("manifest.yml has no version line")
	}
	replaceIn(t, filepath.Join(src, "manifest.yml"), string(cur), `version: "99.0.0"`)
	pkgDir, err := Build(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(pkgDir)
	if err == nil || !strings.Contains(err.Error(), "99.0.0") {
		t.Fatalf("want a changelog/version error, got %v", err)
	}
}

// Build itself rejects a field defined twice in a data stream, naming both files.
func TestBuildRejectsDuplicateField(t *testing.T) {
	src := copySources(t)
	f := filepath.Join(src, "fields", "redis", "protocol.yml")
	b, _ := os.ReadFile(f)
	dup := "- name: status\n  type: keyword\n  description: dup\n"
	if err := os.WriteFile(f, append(b, dup...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(src, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "field status defined in fields/_shared/beats.yml and fields/redis/protocol.yml") {
		t.Fatalf("want duplicate field error, got %v", err)
	}
}

func lineOf(t *testing.T, path, needle string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", needle, path)
	return 0
}

// A dashboard panel on a field none of its data streams defines is a build error naming it
// (the flows dashboard's conn_state panel relies on fields/flow defining flow.conn_state, which
// the compatibility pipeline moves to network_traffic.flow.conn_state).
func TestBuildRejectsPanelOnUndefinedField(t *testing.T) {
	src := copySources(t)
	replaceIn(t, filepath.Join(src, "fields", "flow", "protocol.yml"), "- name: flow.conn_state", "- name: flow.connection_state")
	_, err := Build(src, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "field network_traffic.flow.conn_state is defined in none") {
		t.Fatalf("build error %v, want one naming network_traffic.flow.conn_state", err)
	}
}
