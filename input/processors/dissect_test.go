package processors

import "testing"

// The example of Beats' dissect documentation: a typed key at the root.
func TestDissectDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - dissect:
      tokenizer: "%{service.pid|integer} - %{service.name} - %{service.status}"
      field: "message"
      target_prefix: ""
`)
	m, err := process(t, c, `{"@timestamp":"2026-11-26T00:55:24.020094Z","message":"321 - App01 - WebServer is starting"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{
		"service.pid": 321, "service.name": "App01", "service.status": "WebServer is starting",
		"message": "321 - App01 - WebServer is starting", "log.flags": nil,
	})
	if _, ok := m["service"].(map[string]any)["pid"].(float64); ok {
		t.Error("pid is not an integer")
	}
}

// The access-log pattern of Elastic's dissect documentation, under the
// default target_prefix.
func TestDissectAccessLog(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - dissect:
      tokenizer: '%{clientip} %{ident} %{auth} [%{@timestamp}] "%{verb} %{request} HTTP/%{httpversion}" %{status} %{size}'
`)
	m, err := process(t, c, `{"message":"1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] \"GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0\" 200 3171"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{
		"dissect.request": "/english/venues/cities/images/montpellier/18.gif", "dissect.auth": "-",
		"dissect.ident": "-", "dissect.verb": "GET", "dissect.@timestamp": "30/Apr/1998:22:00:52 +0000",
		"dissect.size": "3171", "dissect.clientip": "1.2.3.4", "dissect.httpversion": "1.0", "dissect.status": "200",
	})
}

func TestDissectModifiers(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - dissect:
      tokenizer: "%{+name/2} %{+name/1} %{?skipped} %{*k}=%{&k} %{pad->} %{rest}"
      trim_values: all
      trim_chars: " ."
`)
	m, err := process(t, c, `{"message":"Doe John xx user=alice padded     . tail."}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{
		"dissect.name": "John Doe", "dissect.user": "alice", "dissect.pad": "padded",
		"dissect.rest": "tail", "dissect.skipped": nil,
	})
}

// Bad input: a line the pattern does not match keeps the event with the
// flag and error.message; ignore_failure keeps only the flag; a key that
// exists is not overwritten.
func TestDissectFailures(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - dissect: {tokenizer: "%{a} - %{b}", field: message}
`)
	m, err := process(t, c, `{"message":"no dash here"}`)
	if err == nil {
		t.Fatal("no error for a line that does not match")
	}
	wantFields(t, m, map[string]any{"message": "no dash here", "log.flags": []any{"dissect_parsing_error"},
		"error.message": `processors[0] (dissect): could not find delimiter: " - " in remaining: "no dash here"`, "dissect": nil})

	lenient := chainFromYAML(t, `
processors:
  - dissect: {tokenizer: "%{a} - %{b}", ignore_failure: true}
  - add_tags: {tags: [after]}
`)
	m, err = process(t, lenient, `{"message":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"log.flags": []any{"dissect_parsing_error"}, "tags": []any{"after"}, "error": nil})

	m, err = process(t, c, `{"message":"1 - 2","dissect":{"a":"old"}}`)
	if err == nil {
		t.Fatal("existing key overwritten silently")
	}
	wantFields(t, m, map[string]any{"dissect.a": "old", "dissect.b": nil})

	over := chainFromYAML(t, `
processors:
  - dissect: {tokenizer: "%{a} - %{b|integer}", overwrite_keys: true}
`)
	m, err = process(t, over, `{"message":"1 - 2","dissect":{"a":"old"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"dissect.a": "1", "dissect.b": 2})
	if _, err := process(t, over, `{"message":"1 - two"}`); err == nil {
		t.Error("integer conversion of \"two\" succeeded")
	}
}

func TestDissectConfigErrors(t *testing.T) {
	wantConfigError(t, "processors: [{dissect: {field: message}}]", "(dissect)", "tokenizer: required")
	wantConfigError(t, `processors: [{dissect: {tokenizer: "%{a}%{b}"}}]`, "(dissect)", "tokenizer:", "without a delimiter")
	wantConfigError(t, `processors: [{dissect: {tokenizer: "%{a|int}"}}]`, "(dissect)", `unknown data type "int"`)
	wantConfigError(t, `processors: [{dissect: {tokenizer: "%{a}", trim_values: both}}]`, "(dissect)", "trim_values")
	wantConfigError(t, `processors: [{dissect: {tokenizer: "%{a}", target: x}}]`, "(dissect)", `unknown option "target"`)
}

func FuzzDissect(f *testing.F) {
	for _, s := range []string{"%{a} %{b}", "%{+a/2} %{+a/1} %{*k}=%{&k} %{p->} %{}", "x%{a|integer}y"} {
		f.Add(s, "1 2 x=y  z 3")
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		d, err := parseDissect(pattern)
		if err != nil {
			return
		}
		_, _ = d.dissect(line)
	})
}
