package pkgbuild

import (
	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/protocol"

	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"gopkg.in/yaml.v3"
)

// Var is one variable declared in a manifest (package input or data stream).
type Var struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Title    string `yaml:"title"`
	Desc     string `yaml:"description"`
	Multi    bool   `yaml:"multi"`
	Required bool   `yaml:"required"`
	ShowUser bool   `yaml:"show_user"`
	Default  any    `yaml:"default"`
}

type streamManifest struct {
	Title   string `yaml:"title"`
	Streams []struct {
		Input        string `yaml:"input"`
		Title        string `yaml:"title"`
		Description  string `yaml:"description"`
		TemplatePath string `yaml:"template_path"`
		Vars         []Var  `yaml:"vars"`
	} `yaml:"streams"`
}

type packageManifest struct {
	Name            string `yaml:"name"`
	Title           string `yaml:"title"`
	Version         string `yaml:"version"`
	PolicyTemplates []struct {
		Inputs []struct {
			Type string `yaml:"type"`
			Vars []Var  `yaml:"vars"`
		} `yaml:"inputs"`
	} `yaml:"policy_templates"`
}

// SourceRoot returns the repository root that holds manifest.yml, package/, fields/ and
// pipelines/, found from this source file's location (tests and mage run from the checkout).
func SourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// DataStreams lists the data streams in the order they are documented
// (alphabetical), from the protocol registry: a protocol's package declares
// its data stream, nothing here lists them.
var DataStreams = protocol.DataStreams()

// DefaultVars returns the variables Fleet would pass to the stream template of ds when the
// user keeps every default: the `packet` input's vars and the stream's vars, each set to its
// manifest default; vars without a default are left out (undefined in the template).
func DefaultVars(srcRoot, ds string) (map[string]any, error) {
	vars := map[string]any{}
	var pm packageManifest
	if err := readYAML(filepath.Join(srcRoot, "manifest.yml"), &pm); err != nil {
		return nil, err
	}
	for _, pt := range pm.PolicyTemplates {
		for _, in := range pt.Inputs {
			for _, v := range in.Vars {
				if v.Default != nil {
					vars[v.Name] = v.Default
				}
			}
		}
	}
	sm, err := readStreamManifest(srcRoot, ds)
	if err != nil {
		return nil, err
	}
	for _, v := range sm.Streams[0].Vars {
		if v.Default != nil {
			vars[v.Name] = v.Default
		}
	}
	return vars, nil
}

// RenderStream renders package/<ds>/agent/stream/<ds>.yml.hbs from SourceRoot() with vars, as
// Fleet does when it builds the agent policy. Pass DefaultVars (plus overrides such as
// "interface") to get the unit config the packet input receives by default.
func RenderStream(ds string, vars map[string]any) (string, error) {
	return RenderStreamFrom(SourceRoot(), ds, vars)
}

// RenderStreamFrom is RenderStream with an explicit source root.
func RenderStreamFrom(srcRoot, ds string, vars map[string]any) (string, error) {
	sm, err := readStreamManifest(srcRoot, ds)
	if err != nil {
		return "", err
	}
	path := filepath.Join(srcRoot, "package", ds, "agent", "stream", sm.Streams[0].TemplatePath)
	tmpl, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	out, err := renderTemplate(string(tmpl), vars)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func readStreamManifest(srcRoot, ds string) (*streamManifest, error) {
	var sm streamManifest
	if err := readYAML(filepath.Join(srcRoot, "package", ds, "manifest.yml"), &sm); err != nil {
		return nil, err
	}
	if len(sm.Streams) != 1 {
		return nil, fmt.Errorf("package/%s/manifest.yml: want exactly one stream, have %d", ds, len(sm.Streams))
	}
	return &sm, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
