package processors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// chainFromYAML builds a chain from a `processors:` list written as in
// Beats' documentation.
func chainFromYAML(t testing.TB, y string) *Chain {
	t.Helper()
	c, err := chainYAML(y)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chainYAML(y string) (*Chain, error) {
	var cfg struct {
		Processors []map[string]any `yaml:"processors"`
	}
	if err := yaml.Unmarshal([]byte(y), &cfg); err != nil {
		return nil, err
	}
	return New(cfg.Processors)
}

// process runs a JSON event through c and returns the result decoded (nil
// when dropped) and the run error.
func process(t testing.TB, c *Chain, event string) (map[string]any, error) {
	t.Helper()
	out, drop, err := c.Run([]byte(event))
	if drop {
		return nil, err
	}
	if out == nil {
		t.Fatalf("no output: %v", err)
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if derr := d.Decode(&m); derr != nil {
		t.Fatalf("output is not JSON: %v: %s", derr, out)
	}
	return m, err
}

// wantFields compares fields of m with want, field by field; values are
// compared as JSON, so 321 matches json.Number("321").
func wantFields(t testing.TB, m map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := getPath(m, k)
		if w == nil {
			if ok {
				t.Errorf("%s = %s, want it absent", k, js(got))
			}
			continue
		}
		if !ok {
			t.Errorf("%s missing (event %s)", k, js(m))
			continue
		}
		if js(got) != js(w) {
			t.Errorf("%s = %s, want %s", k, js(got), js(w))
		}
	}
}

func js(v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// wantConfigError checks that y fails to build with an error containing
// every part.
func wantConfigError(t *testing.T, y string, parts ...string) {
	t.Helper()
	_, err := chainYAML(y)
	if err == nil {
		t.Errorf("config accepted:\n%s", y)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}
