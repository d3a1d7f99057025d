package estest

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMappingConversion checks the fields -> mapping rules without an engine.
func TestMappingConversion(t *testing.T) {
	fields, err := Resolve([]Field{
		{Name: "data_stream.type", Type: "constant_keyword"},
		{Name: "data_stream.dataset", Type: "constant_keyword"},
		{Name: "data_stream.namespace", Type: "constant_keyword"},
		{Name: "http.request.headers", Type: "flattened"},
		{Name: "amqp.headers", Type: "object", ObjectType: "keyword"},
		{Name: "url.full", External: "ecs"},
		{Name: "tls.server.x509.public_key_exponent", External: "ecs"},
		{Name: "sip.uri.original", Type: "keyword", MultiFields: []Field{{Name: "text", Type: "text"}}},
		{Name: "dns.answers", External: "ecs"},
		{Name: "dns.answers.ttl", External: "ecs"},
		{Name: "x.ratio", Type: "scaled_float"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, gaps, err := Mapping("http", fields)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	got := string(b)
	for _, want := range []string{
		`"data_stream":{"properties":{"dataset":{"type":"constant_keyword","value":"network_traffic.http"},"namespace":{"type":"keyword"},"type":{"type":"constant_keyword","value":"logs"}}}`,
		`"headers":{"type":"flat_object"}`,
		`"full":{"fields":{"text":{"type":"match_only_text"}},"type":"wildcard"}`,
		`"public_key_exponent":{"doc_values":false,"index":false,"type":"long"}`,
		`"original":{"fields":{"text":{"type":"text"}},"ignore_above":1024,"type":"keyword"}`,
		`"answers":{"properties":{"ttl":{"type":"long"}},"type":"object"}`,
		`"ratio":{"scaling_factor":1000,"type":"scaled_float"}`,
		`"dynamic_templates":[{"amqp.headers":{"mapping":{"ignore_above":1024,"type":"keyword"},"path_match":"amqp.headers.*"}}]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("mapping lacks %s\nmapping: %s", want, got)
		}
	}
	if len(gaps) != 2 {
		t.Errorf("gaps = %+v, want namespace and flattened", gaps)
	}
}

func TestResolveRejectsUnknownECS(t *testing.T) {
	_, err := Resolve([]Field{{Name: "no.such.ecs_field", External: "ecs", File: "ecs.yml"}})
	if err == nil || !strings.Contains(err.Error(), "no.such.ecs_field (ecs.yml)") {
		t.Fatalf("err = %v", err)
	}
}

func TestMappingRejectsConflicts(t *testing.T) {
	_, _, err := Mapping("x", []Field{{Name: "a", Type: "keyword"}, {Name: "a.b", Type: "long"}})
	if err == nil {
		t.Fatal("keyword a with sub-field a.b accepted")
	}
}

// TestInstallAllTemplates installs every data stream's pipelines and index template into the
// engine: the engine itself validates the generated mappings and pipeline definitions.
func TestInstallAllTemplates(t *testing.T) {
	c := Available(t)
	p, err := BuildPackage()
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range p.DataStreams() {
		t.Run(ds, func(t *testing.T) {
			if _, err := c.InstallPipelines(p, ds); err != nil {
				t.Fatal(err)
			}
			gaps, err := c.InstallIndexTemplate(p, ds)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gaps {
				t.Logf("engine gap: %s is %s in Elasticsearch 8, %s here", g.Field, g.ES8, g.Engine)
			}
		})
	}
}
