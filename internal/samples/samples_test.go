package samples

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The committed sample events and event sets must be exactly what the
// binary's pipeline produces from the committed captures. Regenerate with
// `go run ./_dev/samples` and review the diff.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root := repoRoot()
	samples, events, examples, err := GenerateAll(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range examples {
		got, err := os.ReadFile(ExamplePath(root, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("package/_docs/examples/%s.json is stale: run go run ./_dev/samples", name)
		}
	}
	for ds, want := range samples {
		got, err := os.ReadFile(SamplePath(root, ds))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("package/%s/sample_event.json is stale: run go run ./_dev/samples", ds)
		}
	}
	for ds, want := range events {
		got, err := os.ReadFile(EventsPath(root, ds))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("_dev/events/%s.ndjson is stale: run go run ./_dev/samples", ds)
		}
	}
}
