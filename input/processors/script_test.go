package processors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The examples of Beats' script processor documentation.
func TestScriptDocExamples(t *testing.T) {
	tag := chainFromYAML(t, `
processors:
  - script:
      lang: javascript
      source: >
        function process(event) {
            event.Tag("js");
        }
`)
	m, err := process(t, tag, `{"type":"dns","tags":["x"]}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"tags": []any{"x", "js"}})

	params := chainFromYAML(t, `
processors:
  - script:
      lang: javascript
      tag: my_filter
      params:
        threshold: 15
      source: >
        var params = {threshold: 42};
        function register(scriptParams) {
            params = scriptParams;
        }
        function process(event) {
            if (event.Get("severity") < params.threshold) {
                event.Cancel();
            }
        }
`)
	if m, _ := process(t, params, `{"severity":10}`); m != nil {
		t.Error("severity 10 < 15 not cancelled")
	}
	if m, _ := process(t, params, `{"severity":20}`); m == nil {
		t.Error("severity 20 dropped (threshold 15 from params, not 42)")
	}

	// test() runs at load time, with `new Event`.
	withTest := `
processors:
  - script:
      lang: javascript
      source: |
        function process(event) {
            if (event.Get("event.code") === 1102) {
                event.Put("event.action", "cleared");
            }
            return event;
        }
        function test() {
            var event = process(new Event({event: {code: 1102}}));
            if (event.Get("event.action") !== "cleared") {
                throw "expected event.action === cleared";
            }
        }
`
	c := chainFromYAML(t, withTest)
	m, _ = process(t, c, `{"event":{"code":1102}}`)
	wantFields(t, m, map[string]any{"event.action": "cleared"})
	wantConfigError(t, strings.Replace(withTest, `"cleared");`, `"kept");`, 1),
		"(script)", "test() failed: expected event.action === cleared")
}

// A real multi-function script: helpers, every event method, objects and
// arrays in and out, and the chain carrying on after it.
func TestScriptMultiFunction(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "10-lib.js")
	main := filepath.Join(dir, "20-main.js")
	os.WriteFile(lib, []byte(`
var SLOW_NS = 1000000;
function classify(ns) {
    if (ns === null) { return "unknown"; }
    return ns >= SLOW_NS ? "slow" : "fast";
}
function peers(event) {
    var out = [];
    var ips = event.Get("related.ip") || [];
    for (var i = 0; i < ips.length; i++) {
        if (ips[i].indexOf("10.") === 0) { out.push(ips[i]); }
    }
    return out;
}
`), 0o644)
	os.WriteFile(main, []byte(`
var seen = 0;
function register(p) { SLOW_NS = p.slow_ms * 1000000; }
function process(event) {
    seen++;
    var speed = classify(event.Get("event.duration"));
    event.Put("labels.speed", speed);
    event.Put("labels.seen", seen);
    event.Put("net", {peers: peers(event), count: peers(event).length});
    if (!event.Rename("path", "icmp.path")) { event.Tag("no_path"); }
    event.Delete("client");
    event.AppendTo("event.category", "host");
    var old = event.Put("status", (event.Get("status") || "NONE").toLowerCase());
    event.Put("labels.old_status", old);
    if (event.Get("icmp.request.type") === 3) { event.Cancel(); }
}
`), 0o644)
	c := chainFromYAML(t, `
processors:
  - script:
      lang: javascript
      files: ["`+dir+`/*.js"]
      params: {slow_ms: 0.01}
  - add_tags: {tags: [after_script]}
`)
	m, err := process(t, c, echoDoc)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{
		"labels.speed": "slow", "labels.seen": 1, "net.peers": []any{"10.99.0.1", "10.99.0.2"}, "net.count": 2,
		"icmp.path": "10.99.0.2", "path": nil, "client": nil, "event.category": []any{"network", "host"},
		"status": "ok", "labels.old_status": "OK", "tags": []any{"after_script"},
		"event.duration": 20000, "icmp.request.type": 8, "server.ip": "10.99.0.2",
	})
	m, _ = process(t, c, flowDoc)
	wantFields(t, m, map[string]any{"labels.speed": "slow", "labels.seen": 2, "tags": []any{"no_path", "after_script"}, "status": "none"})
	if m, _ := process(t, c, unreachableDoc); m != nil {
		t.Error("Cancel() did not drop the unreachable")
	}
}

// Bad input: a throwing script keeps the event, tagged, with error.message;
// a looping one is interrupted by timeout and the next event runs.
func TestScriptRuntimeErrors(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - script:
      lang: javascript
      timeout: 50ms
      source: |
        function process(event) {
            if (event.Get("loop")) { while (true) {} }
            if (event.Get("throw")) { throw new Error("bad " + event.Get("throw")); }
            event.Put("ok", true);
            event.Get("nope").length;
        }
`)
	m, err := process(t, c, `{"throw":"thing"}`)
	if err == nil {
		t.Fatal("exception not reported")
	}
	wantFields(t, m, map[string]any{"tags": []any{"_js_exception"}, "throw": "thing",
		"error.message": "processors[0] (script): failed in process function: Error: bad thing"})
	start := time.Now()
	m, err = process(t, c, `{"loop":true}`)
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") || time.Since(start) > 2*time.Second {
		t.Fatalf("loop: %v after %s", err, time.Since(start))
	}
	wantFields(t, m, map[string]any{"tags": []any{"_js_exception"}})
	m, err = process(t, c, `{"x":1}`)
	if err == nil || !strings.Contains(err.Error(), "TypeError") {
		t.Fatalf("null deref: %v", err)
	}
	wantFields(t, m, map[string]any{"ok": true, "x": 1})
}

func TestScriptConfigErrors(t *testing.T) {
	wantConfigError(t, `processors: [{script: {lang: javascript, source: "var x = 1;"}}]`, "(script)", "no process(event)")
	wantConfigError(t, `processors: [{script: {lang: python, source: "x"}}]`, "(script)", `lang: "python"`)
	wantConfigError(t, `processors: [{script: {lang: js, source: "function process(e) {"}}]`, "(script)", "source:")
	wantConfigError(t, `processors: [{script: {lang: js, file: /nonexistent/x.js}}]`, "(script)", "file:")
	wantConfigError(t, `processors: [{script: {lang: js, source: "function process(e){}", timeout: soon}}]`, "(script)", "timeout")
	wantConfigError(t, `processors: [{script: {lang: js, source: "function process(e){}", params: {a: 1}}}]`, "(script)", "register(params)")
	wantConfigError(t, `processors: [{script: {lang: js, source: "while(true){}", timeout: 20ms}}]`, "(script)", "timed out")
}

// Beats' script modules: console and processor (built-in processors run
// from JavaScript).
func TestScriptModules(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - script:
      lang: javascript
      source: |
        var console = require('console');
        var processor = require('processor');
        var dissect = new processor.Dissect({tokenizer: "%{a}-%{b}", field: "message", target_prefix: "parts"});
        var cid = new processor.CommunityID({});
        var path = require('path');
        function process(event) {
            console.log("processing", event.Get("message"));
            dissect.Run(event);
            cid.Run(event);
            event.Put("file.name", path.basename("/var/log/app.log", ".log"));
            event.Put("file.directory", path.dirname(path.join("/var", "log", "..", "log", "app.log")));
        }
`)
	m, err := process(t, c, `{"message":"x-y","source":{"ip":"128.232.110.120","port":34855},"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"tcp"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"parts.a": "x", "parts.b": "y", "network.community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
		"file.name": "app", "file.directory": "/var/log"})
	wantConfigError(t, `processors: [{script: {lang: js, source: "var fs = require('fs'); function process(e) {}"}}]`, "(script)", `module "fs"`)
	wantConfigError(t, `processors: [{script: {lang: js, source: "var d = new (require('processor').Dissect)({}); function process(e) {}"}}]`, "(script)", "tokenizer")
	for name, want := range map[string]string{"add_fields": "AddFields", "community_id": "CommunityID", "decode_json_fields": "DecodeJSONFields", "dns": "DNS", "add_id": "AddID"} {
		if got := jsConstructorName(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
