package processors

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Documents as the icmp and flow decoders wrote them for
// _dev/pcaps/icmp/veth.pcap (an answered ping, an unreachable) and
// lo_ping.pcap (a flow).
const (
	echoDoc        = `{"@timestamp":"2026-11-26T00:55:24.020094Z","type":"icmp","status":"OK","path":"10.99.0.2","event":{"kind":"event","category":["network"],"type":["connection"],"dataset":"icmp","start":"2026-11-26T00:55:24.020094Z","end":"2026-11-26T00:55:24.020114Z","duration":20000},"network":{"type":"ipv4","transport":"icmp","protocol":"icmp","community_id":"1:VlLN3Gxeh89WWmstlJ0cfMdpqPg=","bytes":112,"direction":"unknown"},"source":{"ip":"10.99.0.1","bytes":56},"destination":{"ip":"10.99.0.2","bytes":56},"client":{"ip":"10.99.0.1","bytes":56},"server":{"ip":"10.99.0.2","bytes":56},"related":{"ip":["10.99.0.1","10.99.0.2"]},"icmp":{"version":4,"request":{"message":"EchoRequest(0)","type":8,"code":0},"response":{"message":"EchoReply(0)","type":0,"code":0}}}`
	unreachableDoc = `{"@timestamp":"2026-11-26T00:55:25.446574Z","type":"icmp","status":"Error","path":"10.99.0.1","event":{"kind":"event","category":["network"],"type":["connection"],"dataset":"icmp","start":"2026-11-26T00:55:25.446574Z"},"network":{"type":"ipv4","transport":"icmp","protocol":"icmp","community_id":"1:qFDQqlzH9hi1/sYjW3Kg8B8+KF4=","bytes":34,"direction":"unknown"},"source":{"ip":"10.99.0.2","bytes":34},"destination":{"ip":"10.99.0.1"},"client":{"ip":"10.99.0.2","bytes":34},"server":{"ip":"10.99.0.1"},"related":{"ip":["10.99.0.2","10.99.0.1"]},"icmp":{"version":4,"request":{"message":"DestinationUnreachable(Port)","type":3,"code":3}}}`
	flowDoc        = `{"@timestamp":"2026-11-26T00:55:18.819814Z","type":"flow","event":{"kind":"event","category":["network"],"type":["connection","end"],"dataset":"flow","start":"2026-11-26T00:55:18.819814Z","end":"2026-11-26T00:55:19.225319Z","duration":405505000,"action":"network_flow"},"network":{"type":"ipv4","transport":"icmp","community_id":"1:PRCVIRO2XedYcoD1kwnYlWfzz28=","bytes":588,"packets":6,"direction":"unknown"},"source":{"ip":"127.0.0.1","packets":3,"bytes":294,"mac":"00-00-00-00-00-00"},"destination":{"ip":"127.0.0.1","packets":3,"bytes":294,"mac":"00-00-00-00-00-00"},"related":{"ip":["127.0.0.1"]},"flow":{"final":true,"id":"AQB_AAABfwAAAQAAAAA5xg"}}`
	ipv6Doc        = `{"type":"icmp","source":{"ip":"fe80::ff:fe00:a"},"destination":{"ip":"ff02::2"},"related":{"ip":["fe80::ff:fe00:a","ff02::2"]}}`
)

func mustNew(t *testing.T, yamlish []map[string]any) *Chain {
	t.Helper()
	c, err := New(yamlish)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t *testing.T, c *Chain, doc string) (map[string]any, bool) {
	t.Helper()
	out, drop, err := c.Run([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if drop {
		return nil, true
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, out)
	}
	return m, false
}

func field(m map[string]any, path string) any {
	v, _ := getPath(m, path)
	return v
}

func TestEmptyChainCostsNothing(t *testing.T) {
	for _, cfgs := range [][]map[string]any{nil, {}} {
		c, err := New(cfgs)
		if err != nil || c != nil {
			t.Fatalf("New(%v) = %v, %v; want a nil chain", cfgs, c, err)
		}
		doc := []byte(echoDoc)
		out, drop, err := c.Run(doc)
		if err != nil || drop || &out[0] != &doc[0] || len(out) != len(doc) {
			t.Fatal("nil chain changed or copied the document")
		}
		if n := testing.AllocsPerRun(100, func() { c.Run(doc) }); n != 0 {
			t.Errorf("nil chain: %v allocations", n)
		}
	}
}

func TestAddFields(t *testing.T) {
	c := mustNew(t, []map[string]any{
		{"add_fields": map[string]any{"target": "project", "fields": map[string]any{"name": "myproject", "id": "574734885120952459"}}},
		{"add_fields": map[string]any{"target": "", "fields": map[string]any{"event": map[string]any{"module": "network_traffic"}, "labels": map[string]any{"env": "lab"}}}},
		{"add_fields": map[string]any{"fields": map[string]any{"x": 1}}},
	})
	m, _ := run(t, c, echoDoc)
	checks := map[string]any{
		"project.name": "myproject", "project.id": "574734885120952459",
		"event.module": "network_traffic", "event.kind": "event", // merged, not replaced
		"labels.env": "lab", "fields.x": json.Number("1"),
		"event.duration": json.Number("20000"),
	}
	for k, want := range checks {
		if got := field(m, k); got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
}

func TestAddTags(t *testing.T) {
	c := mustNew(t, []map[string]any{
		{"add_tags": map[string]any{"tags": []any{"web", "forwarded"}}},
		{"add_tags": map[string]any{"tags": "lab", "target": "labels.where"}},
	})
	doc := strings.Replace(echoDoc, `"type":"icmp",`, `"type":"icmp","tags":["forwarded"],`, 1)
	m, _ := run(t, c, doc)
	if got := field(m, "tags"); !equalJSON(got, []any{"forwarded", "web"}) {
		t.Errorf("tags = %v", got)
	}
	if got := field(m, "labels.where"); !equalJSON(got, []any{"lab"}) {
		t.Errorf("labels.where = %v", got)
	}
}

func TestDropFields(t *testing.T) {
	c := mustNew(t, []map[string]any{{"drop_fields": map[string]any{
		"fields": []any{"client", "server", "network.community_id", "@timestamp", "nope"}, "ignore_missing": true}}})
	m, _ := run(t, c, echoDoc)
	for _, gone := range []string{"client", "server", "network.community_id"} {
		if _, ok := getPath(m, gone); ok {
			t.Errorf("%s still present", gone)
		}
	}
	if field(m, "@timestamp") == nil || field(m, "network.transport") != "icmp" {
		t.Error("dropped too much")
	}
	strict := mustNew(t, []map[string]any{{"drop_fields": map[string]any{"fields": []any{"client", "nope"}}}})
	_, _, err := strict.Run([]byte(echoDoc))
	if err == nil || err.Error() != "processors[0] (drop_fields): field not found: nope" {
		t.Errorf("error %v", err)
	}
}

func TestDropEventWhen(t *testing.T) {
	c := mustNew(t, []map[string]any{{"drop_event": map[string]any{"when": map[string]any{"equals": map[string]any{"status": "Error"}}}}})
	if _, drop := run(t, c, unreachableDoc); !drop {
		t.Error("Error event not dropped")
	}
	if _, drop := run(t, c, echoDoc); drop {
		t.Error("OK event dropped")
	}
	all := mustNew(t, []map[string]any{{"drop_event": nil}})
	if _, drop := run(t, all, flowDoc); !drop {
		t.Error("unconditional drop_event kept the event")
	}
	// `when` next to the processor name.
	sib := mustNew(t, []map[string]any{{"drop_event": nil, "when": map[string]any{"equals": map[string]any{"type": "flow"}}}})
	if _, drop := run(t, sib, flowDoc); !drop {
		t.Error("sibling when: flow kept")
	}
	if _, drop := run(t, sib, echoDoc); drop {
		t.Error("sibling when: icmp dropped")
	}
}

func TestRename(t *testing.T) {
	c := mustNew(t, []map[string]any{{"rename": map[string]any{"fields": []any{
		map[string]any{"from": "icmp", "to": "network_traffic.icmp"},
		map[string]any{"from": "path", "to": "network_traffic.icmp.path"},
	}}}})
	m, _ := run(t, c, echoDoc)
	if field(m, "network_traffic.icmp.path") != "10.99.0.2" || field(m, "network_traffic.icmp.request.type") != json.Number("8") {
		t.Errorf("renamed: %v", m["network_traffic"])
	}
	if field(m, "icmp") != nil || field(m, "path") != nil {
		t.Error("old fields left behind")
	}

	clash := mustNew(t, []map[string]any{{"rename": map[string]any{"fields": []any{
		map[string]any{"from": "path", "to": "moved"},
		map[string]any{"from": "status", "to": "type"},
	}}}})
	_, _, err := clash.Run([]byte(echoDoc))
	if err == nil || err.Error() != `processors[0] (rename): target field "type" already exists` {
		t.Errorf("error %v", err)
	}
	// fail_on_error: false keeps going silently; ignore_missing skips.
	lenient := mustNew(t, []map[string]any{{"rename": map[string]any{"fail_on_error": false, "ignore_missing": true,
		"fields": []any{map[string]any{"from": "nope", "to": "x"}, map[string]any{"from": "status", "to": "type"}}}}})
	m, _ = run(t, lenient, echoDoc)
	if field(m, "status") != "OK" || field(m, "type") != "icmp" {
		t.Errorf("lenient rename changed %v %v", field(m, "status"), field(m, "type"))
	}
}

// TestRenameRollback: with fail_on_error the chain's document keeps the
// earlier renames undone (the caller publishes the original anyway).
func TestRenameRollback(t *testing.T) {
	c := mustNew(t, []map[string]any{{"rename": map[string]any{"fields": []any{
		map[string]any{"from": "path", "to": "moved"},
		map[string]any{"from": "missing", "to": "x"},
	}}}})
	doc := map[string]any{}
	json.Unmarshal([]byte(echoDoc), &doc)
	_, err := c.procs[0].run(doc)
	if err == nil || doc["path"] != "10.99.0.2" || doc["moved"] != nil {
		t.Errorf("err %v path %v moved %v", err, doc["path"], doc["moved"])
	}
}

func TestHostAndObserverMetadata(t *testing.T) {
	c := mustNew(t, []map[string]any{{"add_host_metadata": nil}, {"add_observer_metadata": map[string]any{"netinfo.enabled": false}}})
	m, _ := run(t, c, echoDoc)
	hn, _ := os.Hostname()
	if field(m, "host.hostname") != hn || field(m, "host.name") != hn || field(m, "observer.hostname") != hn {
		t.Errorf("hostname %v/%v/%v, want %s", field(m, "host.hostname"), field(m, "host.name"), field(m, "observer.hostname"), hn)
	}
	if out, err := exec.Command("uname", "-m").Output(); err == nil {
		if field(m, "host.architecture") != strings.TrimSpace(string(out)) {
			t.Errorf("architecture %v, uname -m %s", field(m, "host.architecture"), out)
		}
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		if field(m, "host.os.kernel") != strings.TrimSpace(string(out)) {
			t.Errorf("kernel %v, uname -r %s", field(m, "host.os.kernel"), out)
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil && strings.Contains(string(b), "NAME=") {
		if n, _ := field(m, "host.os.name").(string); n == "" || !strings.Contains(string(b), n) {
			t.Errorf("os.name %q not from /etc/os-release", n)
		}
	}
	if field(m, "host.os.type") != "linux" {
		t.Errorf("os.type %v", field(m, "host.os.type"))
	}
	if field(m, "observer.ip") != nil || field(m, "observer.name") != nil {
		t.Errorf("observer with netinfo off: %v", m["observer"])
	}
	// replace_fields: false keeps a host field the event already has.
	keep := mustNew(t, []map[string]any{{"add_host_metadata": map[string]any{"replace_fields": false}}})
	m, _ = run(t, keep, strings.Replace(echoDoc, `"type":"icmp",`, `"type":"icmp","host":{"name":"sensor-1"},`, 1))
	if field(m, "host.name") != "sensor-1" || field(m, "host.hostname") != hn {
		t.Errorf("replace_fields false: %v", m["host"])
	}
}

func TestConditions(t *testing.T) {
	type tc struct {
		name string
		when map[string]any
		docs map[string]bool // doc -> should match
	}
	cases := []tc{
		{"equals number", map[string]any{"equals": map[string]any{"icmp.request.type": 8}},
			map[string]bool{echoDoc: true, unreachableDoc: false, flowDoc: false}},
		{"equals two fields", map[string]any{"equals": map[string]any{"type": "icmp", "status": "OK"}},
			map[string]bool{echoDoc: true, unreachableDoc: false}},
		{"equals bool", map[string]any{"equals": map[string]any{"flow.final": true}},
			map[string]bool{flowDoc: true, echoDoc: false}},
		{"contains", map[string]any{"contains": map[string]any{"icmp.request.message": "Unreachable"}},
			map[string]bool{unreachableDoc: true, echoDoc: false}},
		{"contains in array", map[string]any{"contains": map[string]any{"event.type": "end"}},
			map[string]bool{flowDoc: true, echoDoc: false}},
		{"regexp", map[string]any{"regexp": map[string]any{"icmp.request.message": `^Echo\w+\(0\)$`}},
			map[string]bool{echoDoc: true, unreachableDoc: false}},
		{"range", map[string]any{"range": map[string]any{"source.bytes": map[string]any{"gte": 50, "lt": 100}}},
			map[string]bool{echoDoc: true, unreachableDoc: false, flowDoc: false}},
		{"range float", map[string]any{"range": map[string]any{"event.duration": map[string]any{"gt": 0.5e9}}},
			map[string]bool{flowDoc: false, echoDoc: false}},
		{"network loopback", map[string]any{"network": map[string]any{"source.ip": "loopback"}},
			map[string]bool{flowDoc: true, echoDoc: false}},
		{"network private", map[string]any{"network": map[string]any{"destination.ip": "private"}},
			map[string]bool{echoDoc: true, flowDoc: false, ipv6Doc: false}},
		{"network CIDR list", map[string]any{"network": map[string]any{"source.ip": []any{"192.168.0.0/16", "10.99.0.0/30"}}},
			map[string]bool{echoDoc: true, unreachableDoc: true, flowDoc: false}},
		{"network on array, v6 named", map[string]any{"network": map[string]any{"related.ip": "link_local_multicast"}},
			map[string]bool{ipv6Doc: true, echoDoc: false}},
		{"network public", map[string]any{"network": map[string]any{"destination.ip": "public"}},
			map[string]bool{echoDoc: false, flowDoc: false}},
		{"has_fields", map[string]any{"has_fields": []any{"icmp.response", "path"}},
			map[string]bool{echoDoc: true, unreachableDoc: false}},
		{"or", map[string]any{"or": []any{
			map[string]any{"equals": map[string]any{"type": "flow"}},
			map[string]any{"equals": map[string]any{"status": "Error"}}}},
			map[string]bool{flowDoc: true, unreachableDoc: true, echoDoc: false}},
		{"and", map[string]any{"and": []any{
			map[string]any{"equals": map[string]any{"type": "icmp"}},
			map[string]any{"has_fields": []any{"icmp.response"}}}},
			map[string]bool{echoDoc: true, unreachableDoc: false, flowDoc: false}},
		{"not", map[string]any{"not": map[string]any{"equals": map[string]any{"type": "icmp"}}},
			map[string]bool{flowDoc: true, echoDoc: false}},
	}
	for _, c := range cases {
		cond, err := parseCondition(c.when)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for doc, want := range c.docs {
			m := map[string]any{}
			d := json.NewDecoder(strings.NewReader(doc))
			d.UseNumber()
			d.Decode(&m)
			if got := cond.match(m); got != want {
				t.Errorf("%s on %s...: %v, want %v", c.name, doc[:60], got, want)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  []map[string]any
		want string
	}{
		{[]map[string]any{{"add_tags": map[string]any{"tags": "a"}}, {"add_feilds": map[string]any{}}},
			`processors[1]: unknown processor "add_feilds" (supported: ` + strings.Join(Names(), ", ") + ")"},
		{[]map[string]any{{"add_fields": map[string]any{"target": "x"}}},
			`processors[0] (add_fields): fields: required, a non-empty map`},
		{[]map[string]any{{"add_fields": map[string]any{"fields": map[string]any{"a": 1}, "traget": "x"}}},
			`processors[0] (add_fields): unknown option "traget" (known: target, fields)`},
		{[]map[string]any{{"add_tags": map[string]any{"tags": "a"}, "drop_event": nil}},
			`processors[0]: one processor per list item, found "add_tags" and "drop_event"`},
		{[]map[string]any{{"drop_event": map[string]any{"when": map[string]any{"regexp": map[string]any{"path": "("}}}}},
			"processors[0] (drop_event): when: regexp: path: error parsing regexp: missing closing ): `(`"},
		{[]map[string]any{{"drop_event": map[string]any{"when": map[string]any{"range": map[string]any{"source.bytes": map[string]any{"ge": 1}}}}}},
			`processors[0] (drop_event): when: range: source.bytes: unknown operator "ge" (want gt, gte, lt, lte)`},
		{[]map[string]any{{"drop_event": map[string]any{"when": map[string]any{"network": map[string]any{"source.ip": "10.0.0/8"}}}}},
			`processors[0] (drop_event): when: network: source.ip: "10.0.0/8" is neither a CIDR nor one of global_unicast, interface_local_multicast, link_local_multicast, link_local_unicast, loopback, multicast, private, public, unicast, unspecified`},
		{[]map[string]any{{"drop_event": map[string]any{"when": map[string]any{"equal": map[string]any{"a": 1}}}}},
			`processors[0] (drop_event): when: equal: unknown condition (want equals, contains, regexp, range, network, has_fields, or, and, not)`},
		{[]map[string]any{{"drop_event": map[string]any{"when": map[string]any{"or": []any{map[string]any{"equals": "x"}}}}}},
			`processors[0] (drop_event): when: or: [0]: equals: want a map of field names to values, got "x"`},
		{[]map[string]any{{"rename": map[string]any{"fields": []any{map[string]any{"from": "a"}}}}},
			`processors[0] (rename): fields[0]: from and to are both required strings`},
		{[]map[string]any{{"drop_fields": map[string]any{"fields": []any{"a"}, "ignore_missing": "maybe"}}},
			`processors[0] (drop_fields): ignore_missing: "maybe" is not true or false`},
		{[]map[string]any{{"add_host_metadata": "yes"}},
			`processors[0] (add_host_metadata): options must be a map, got "yes"`},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil || err.Error() != c.want {
			t.Errorf("got  %v\nwant %s", err, c.want)
		}
	}
}

func TestNumbersAndEscapingSurvive(t *testing.T) {
	c := mustNew(t, []map[string]any{{"add_tags": map[string]any{"tags": "x"}}})
	doc := `{"event":{"duration":9007199254740993},"url":{"query":"a=<b>&c"}}`
	out, _, err := c.Run([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"duration":9007199254740993`)) || !bytes.Contains(out, []byte(`"a=<b>&c"`)) {
		t.Errorf("re-encoded: %s", out)
	}
	for _, bad := range []string{`[1,2]`, `null`, `{"a":`, ``} {
		if _, _, err := c.Run([]byte(bad)); err == nil {
			t.Errorf("document %q accepted", bad)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func BenchmarkChain(b *testing.B) {
	c, _ := New([]map[string]any{
		{"add_host_metadata": nil},
		{"drop_event": map[string]any{"when": map[string]any{"network": map[string]any{"source.ip": "loopback"}}}},
		{"add_tags": map[string]any{"tags": "lab"}},
	})
	doc := []byte(echoDoc)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Run(doc)
	}
}

// The geo example of Beats' add_host_metadata documentation.
func TestHostMetadataGeoDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - add_host_metadata:
      cache.ttl: 5m
      geo:
        name: nyc-dc1-rack1
        location: 40.7128, -74.0060
        continent_name: North America
        country_iso_code: US
        region_name: New York
        region_iso_code: NY
        city_name: New York
`)
	m, _ := process(t, c, echoDoc)
	wantFields(t, m, map[string]any{"host.geo.name": "nyc-dc1-rack1", "host.geo.location.lat": 40.7128,
		"host.geo.location.lon": -74.006, "host.geo.continent_name": "North America", "host.geo.country_iso_code": "US",
		"host.geo.region_name": "New York", "host.geo.region_iso_code": "NY", "host.geo.city_name": "New York"})
	if hn, _ := os.Hostname(); field(m, "host.name") != hn {
		t.Errorf("host.name %v", field(m, "host.name"))
	}
	wantConfigError(t, "processors: [{add_host_metadata: {geo: {location: north}}}]", "(add_host_metadata)", "geo.location")
	wantConfigError(t, "processors: [{add_host_metadata: {geo: {town: x}}}]", "(add_host_metadata)", `geo: unknown option "town"`)
	wantConfigError(t, "processors: [{add_observer_metadata: {netinfo: {enable: false}}}]", "(add_observer_metadata)", `netinfo: unknown option "enable"`)
	wantConfigError(t, "processors: [{add_host_metadata: {cache.ttl: often}}]", "(add_host_metadata)", "cache.ttl")
}
