package processors

import (
	"encoding/json"
	"testing"
)

// FuzzChain runs arbitrary documents through a chain using every processor
// and condition kind: no panic, and output is always a JSON object.
func FuzzChain(f *testing.F) {
	for _, d := range []string{echoDoc, unreachableDoc, flowDoc, ipv6Doc, `{"a.b":{"c":1},"tags":"x"}`, `{"path":5,"moved":{}}`} {
		f.Add([]byte(d))
	}
	c, err := New([]map[string]any{
		{"add_fields": map[string]any{"target": "a.b", "fields": map[string]any{"x": map[string]any{"y": 1}}}},
		{"add_tags": map[string]any{"tags": []any{"t"}, "target": "labels.t"}},
		{"rename": map[string]any{"fields": []any{map[string]any{"from": "path", "to": "moved.path"}}, "ignore_missing": true}},
		{"drop_fields": map[string]any{"fields": []any{"client", "source.bytes"}, "ignore_missing": true}},
		{"add_observer_metadata": nil},
		{"dissect": map[string]any{"field": "path", "tokenizer": "%{a}.%{+a}.%{b|integer}", "ignore_failure": true}},
		{"convert": map[string]any{"fields": []any{map[string]any{"from": "source.bytes", "to": "sb", "type": "string"}, map[string]any{"from": "path", "type": "ip"}}, "ignore_missing": true, "fail_on_error": false}},
		{"decode_json_fields": map[string]any{"fields": []any{"status", "tags"}, "target": "", "max_depth": 3, "process_array": true, "expand_keys": true}},
		{"copy_fields": map[string]any{"fields": []any{map[string]any{"from": "type", "to": "copied.type"}}, "fail_on_error": false}},
		{"replace": map[string]any{"fields": []any{map[string]any{"field": "status", "pattern": "O", "replacement": "0"}}, "ignore_missing": true, "fail_on_error": false}},
		{"truncate_fields": map[string]any{"fields": []any{"path", "status"}, "max_bytes": 3, "ignore_missing": true, "fail_on_error": false}},
		{"urldecode": map[string]any{"fields": []any{map[string]any{"from": "path"}}, "ignore_missing": true, "fail_on_error": false}},
		{"extract_array": map[string]any{"field": "related.ip", "mappings": map[string]any{"first.ip": 0}, "ignore_missing": true, "fail_on_error": false, "overwrite_keys": true}},
		{"registered_domain": map[string]any{"field": "path", "target_field": "rd", "ignore_missing": true, "ignore_failure": true}},
		{"community_id": map[string]any{"target": "cid"}},
		{"fingerprint": map[string]any{"fields": []any{"type", "status"}, "ignore_missing": true, "target_field": "fp"}},
		{"syslog": map[string]any{"field": "status", "ignore_missing": true, "ignore_failure": true}},
		{"decode_xml": map[string]any{"field": "path", "ignore_missing": true, "ignore_failure": true}},
		{"drop_event": map[string]any{"when": map[string]any{"and": []any{
			map[string]any{"network": map[string]any{"source.ip": []any{"private", "fd00::/8"}}},
			map[string]any{"not": map[string]any{"range": map[string]any{"source.bytes": map[string]any{"lt": 10}}}},
			map[string]any{"or": []any{
				map[string]any{"regexp": map[string]any{"icmp.request.message": "^Dest"}},
				map[string]any{"contains": map[string]any{"tags": "x"}},
				map[string]any{"equals": map[string]any{"status": "OK"}},
				map[string]any{"has_fields": []any{"flow.id"}}}}}}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, drop, err := c.Run(doc)
		if drop || out == nil {
			return
		}
		_ = err // a runtime error still yields a document
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("output not a JSON object: %v: %s", err, out)
		}
	})
}
