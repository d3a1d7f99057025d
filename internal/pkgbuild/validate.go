package pkgbuild

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/elastic/package-spec/v3/code/go/pkg/specerrors"
	"github.com/elastic/package-spec/v3/code/go/pkg/validator"
	"gopkg.in/yaml.v3"
)

// Validate runs Elastic's package-spec validator (v3.5.0) on an assembled package directory,
// then drops the checks excluded by the package's validation.yml (the validator itself does not
// read it). It returns nil when the package is valid, else an error listing every remaining
// problem as "<file>:<line>: <validator message>" (":<line>" only when the message names a
// field we can find in the file).
func Validate(pkgDir string) error {
	err := validator.ValidateFromPath(pkgDir)
	if err == nil {
		return nil
	}
	var verrs specerrors.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	if cfg, ferr := specerrors.LoadConfigFilter(os.DirFS(pkgDir)); ferr == nil {
		res, rerr := specerrors.NewFilter(cfg).Run(verrs)
		if rerr != nil {
			return rerr
		}
		if res.Processed == nil {
			return nil
		}
		if errors.As(res.Processed, &verrs) && len(verrs) == 0 {
			return nil
		}
	}
	lines := make([]string, 0, len(verrs))
	for _, ve := range verrs {
		lines = append(lines, locate(pkgDir, ve.Error()))
	}
	return fmt.Errorf("package %s is invalid (%d errors):\n  %s", filepath.Base(pkgDir), len(lines), strings.Join(lines, "\n  "))
}

// Validator messages look like: file "<abs path>" is invalid: field streams.0.vars.2: <why>.
var validatorMsg = regexp.MustCompile(`^file "([^"]+)" is invalid: (?:field ([^:\s]+): )?`)

// locate prefixes a validator message with "<path relative to pkgDir>:<line>:".
func locate(pkgDir, msg string) string {
	m := validatorMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	file := m[1]
	rel := file
	if r, err := filepath.Rel(pkgDir, file); err == nil && !strings.HasPrefix(r, "..") {
		rel = r
	}
	where := rel
	if m[2] != "" {
		if line := yamlLine(file, m[2]); line > 0 {
			where += ":" + strconv.Itoa(line)
		}
	}
	if srcFile := sourceOf(rel); srcFile != "" {
		where += " (source: " + srcFile + ")"
	}
	return where + ": " + msg
}

// sourceOf names the repository source a file of the assembled package was copied from, so a
// validator error can be fixed where it belongs ("" when generated or unknown).
func sourceOf(rel string) string {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 1 && (parts[0] == "manifest.yml" || parts[0] == "changelog.yml"):
		return parts[0]
	case len(parts) >= 3 && parts[0] == "data_stream":
		ds, rest := parts[1], parts[2:]
		switch rest[0] {
		case "fields":
			if rest[len(rest)-1] == "protocol_ecs.yml" {
				return "pipelines/" + ds + "/compatibility.yml (generated fields)"
			}
			return "fields/{_shared," + ds + "}/" + rest[len(rest)-1]
		case "elasticsearch":
			return "pipelines/{_shared," + ds + "}/" + rest[len(rest)-1]
		default:
			return "package/" + ds + "/" + strings.Join(rest, "/")
		}
	case len(parts) == 2 && parts[0] == "kibana" && parts[1] == "tags.yml":
		return "package/kibana/tags.yml"
	case parts[0] == "kibana":
		return "package/kibana/dashboards.yml"
	}
	return ""
}

// yamlLine returns the line of the node at dotted path (map keys and list indexes, as in
// "streams.0.vars.2.type") in a YAML file; for a missing key, the line of its deepest parent.
func yamlLine(file, path string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n := doc.Content[0]
	line := n.Line
	for _, part := range strings.Split(path, ".") {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					next = n.Content[i+1]
					line = n.Content[i].Line
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}
