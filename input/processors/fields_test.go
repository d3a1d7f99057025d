package processors

import "testing"

// Examples of Beats' documentation for the field processors, input and
// expected output field by field.

func TestAddLabelsDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - add_labels:
      labels:
        number: 1
        with.dots: test
        nested:
          with.dots: nested
        array:
          - do
          - re
          - with.field: mi
`)
	m, _ := process(t, c, `{"type":"dns"}`)
	labels, _ := m["labels"].(map[string]any)
	want := map[string]any{"number": 1, "with.dots": "test", "nested.with.dots": "nested",
		"array.0": "do", "array.1": "re", "array.2.with.field": "mi"}
	if js(labels) != js(want) {
		t.Errorf("labels = %s, want %s", js(labels), js(want))
	}
}

func TestCopyFieldsDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - copy_fields:
      fields:
        - from: message
          to: event.original
      fail_on_error: false
      ignore_missing: true
`)
	m, err := process(t, c, `{"message":"my-interesting-message"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"message": "my-interesting-message", "event.original": "my-interesting-message"})

	strict := chainFromYAML(t, `
processors:
  - copy_fields: {fields: [{from: a, to: b}, {from: c, to: d}]}
`)
	m, err = process(t, strict, `{"a":1,"c":2,"d":3}`)
	if err == nil {
		t.Fatal("existing target accepted")
	}
	// fail_on_error reverts the first copy too.
	wantFields(t, m, map[string]any{"a": 1, "b": nil, "d": 3,
		"error.message": `processors[0] (copy_fields): target field "d" already exists, drop or rename this field first`})
}

func TestRenameDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - rename:
      fields:
        - from: "a.g"
          to: "e.d"
      ignore_missing: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"a":{"g":"x","h":1}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"e.d": "x", "a.g": nil, "a.h": 1})
	m, err = process(t, c, `{"b":1}`)
	if err == nil {
		t.Fatal("missing field accepted")
	}
	wantFields(t, m, map[string]any{"b": 1, "error.message": `processors[0] (rename): field "a.g" not found`})
}

func TestReplaceDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - replace:
      fields:
        - field: "file.path"
          pattern: "/usr/"
          replacement: "/usr/local/"
      ignore_missing: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"file":{"path":"/usr/bin"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"file.path": "/usr/local/bin"})
	wantConfigError(t, `processors: [{replace: {fields: [{field: a, pattern: "(", replacement: x}]}}]`, "(replace)", "fields[0]: pattern")
}

func TestTruncateFieldsDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - truncate_fields:
      fields:
        - message
      max_characters: 5
      fail_on_error: false
      ignore_missing: true
`)
	m, err := process(t, c, `{"message":"This is too long"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"message": "This ", "log.flags": []any{"truncated"}})
	// max_bytes never splits a character; a short value is not flagged.
	b := chainFromYAML(t, `
processors:
  - truncate_fields: {fields: [message, dns.question.name], max_bytes: 2, ignore_missing: true}
`)
	m, _ = process(t, b, `{"message":"héllo"}`)
	wantFields(t, m, map[string]any{"message": "h", "log.flags": []any{"truncated"}})
	m, _ = process(t, b, `{"message":"ok"}`)
	wantFields(t, m, map[string]any{"message": "ok", "log": nil})
	wantConfigError(t, `processors: [{truncate_fields: {fields: [a], max_bytes: 3, max_characters: 2}}]`, "(truncate_fields)", "exactly one")
}

func TestURLDecodeDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - urldecode:
      fields:
        - from: "field1"
          to: "field2"
      ignore_missing: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"field1":"correct%20data"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"field1": "correct%20data", "field2": "correct data"})
	m, err = process(t, c, `{"field1":"bad%zzdata"}`)
	if err == nil {
		t.Fatal("bad escape accepted")
	}
	wantFields(t, m, map[string]any{"field2": nil, "field1": "bad%zzdata"})
}

func TestDecodeBase64DocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_base64_field:
      field:
        from: "field1"
        to: "field2"
      ignore_missing: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"field1":"Y29ycmVjdCBkYXRh"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"field2": "correct data"})
	m, err = process(t, c, `{"field1":"not base64!"}`)
	if err == nil {
		t.Fatal("bad base64 accepted")
	}
	wantFields(t, m, map[string]any{"field2": nil})
}

func TestExtractArrayDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - extract_array:
      field: my_array
      mappings:
        source.ip: 0
        destination.ip: 1
        network.transport: 2
`)
	m, err := process(t, c, `{"my_array":["10.1.1.1","10.2.2.2","tcp"]}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"source.ip": "10.1.1.1", "destination.ip": "10.2.2.2", "network.transport": "tcp"})
	_, err = process(t, c, `{"my_array":["10.1.1.1"]}`)
	if err == nil {
		t.Error("short array accepted")
	}
	omit := chainFromYAML(t, `
processors:
  - extract_array: {field: a, mappings: {x: 0, y: 1}, omit_empty: true, overwrite_keys: true}
`)
	m, _ = process(t, omit, `{"a":["",2],"y":1}`)
	wantFields(t, m, map[string]any{"x": nil, "y": 2})
}

func TestConvertDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - convert:
      fields:
        - {from: "src_ip", to: "source.ip", type: "ip"}
        - {from: "src_port", to: "source.port", type: "integer"}
        - {from: "bytes", to: "source.bytes", type: "long"}
        - {from: "ratio", type: "double"}
        - {from: "ok", type: "boolean"}
        - {from: "source.port", to: "port_text", type: "string"}
      ignore_missing: true
      fail_on_error: false
`)
	m, err := process(t, c, `{"src_ip":"10.0.0.1","src_port":"8080","bytes":"0x10","ratio":"0.5","ok":"true"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"source.ip": "10.0.0.1", "source.port": 8080, "source.bytes": 16,
		"ratio": 0.5, "ok": true, "port_text": "8080", "src_ip": "10.0.0.1"})
	strict := chainFromYAML(t, `
processors:
  - convert: {fields: [{from: a, type: integer}, {from: b, type: ip}], mode: rename}
`)
	m, err = process(t, strict, `{"a":"12","b":"not-an-ip"}`)
	if err == nil {
		t.Fatal("bad ip accepted")
	}
	wantFields(t, m, map[string]any{"a": "12", "b": "not-an-ip"}) // reverted
	wantConfigError(t, `processors: [{convert: {fields: [{from: a, type: int}]}}]`, "(convert)", `fields[0]: type: "int"`)
	wantConfigError(t, `processors: [{convert: {fields: [{from: a, type: long}], mode: move}}]`, "(convert)", "mode")
}

func TestIncludeFields(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - include_fields:
      fields: ["dns.question.name", "source"]
`)
	m, _ := process(t, c, `{"@timestamp":"t","type":"dns","dns":{"id":1,"question":{"name":"x","type":"A"}},"source":{"ip":"1.2.3.4","port":53},"network":{"transport":"udp"}}`)
	want := `{"@timestamp":"t","dns":{"question":{"name":"x"}},"source":{"ip":"1.2.3.4","port":53},"type":"dns"}`
	if js(m) != want {
		t.Errorf("got %s\nwant %s", js(m), want)
	}
}

func TestDropFieldsRegexp(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - drop_fields:
      fields: ["/^source\\./", "network.bytes", "/^@time/"]
`)
	m, err := process(t, c, echoDoc)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"source.ip": nil, "source.bytes": nil, "network.bytes": nil,
		"destination.ip": "10.99.0.2", "@timestamp": "2026-11-26T00:55:24.020094Z"})
}

// The examples of Beats' add_tags and add_fields documentation.
func TestAddTagsAndFieldsDocExamples(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - add_tags:
      tags: [web, production]
      target: "environment"
  - add_fields:
      target: project
      fields:
        name: myproject
        id: '574734885120952459'
`)
	m, err := process(t, c, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"environment":["web","production"],"project":{"id":"574734885120952459","name":"myproject"}}`
	if js(m) != want {
		t.Errorf("got  %s\nwant %s", js(m), want)
	}
	// add_fields to @metadata sets the document's _id.
	id := chainFromYAML(t, `
processors:
  - add_fields:
      target: "@metadata"
      fields: {_id: my-doc-id}
`)
	m, _ = process(t, id, echoDoc)
	if id.DocID() != "my-doc-id" || m["@metadata"] != nil {
		t.Errorf("DocID %q, @metadata %v", id.DocID(), m["@metadata"])
	}
}
