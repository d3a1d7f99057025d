package outfmt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sampleDocs are documents this binary produced from the captures under
// _dev/pcaps (the Fleet package's sample events), compacted as ecsmap
// writes them.
func sampleDocs(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("../../../package/*/sample_event.json")
	if len(files) < 5 {
		t.Fatalf("sample events not found: %v", files)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(f))] = b.Bytes()
		out[filepath.Base(filepath.Dir(f))+"-indented"] = raw
	}
	return out
}

// paths lists every dotted path to a scalar in m. A literal dotted key
// that a nested path also reaches (NFS's "host.hostname" beside the
// capturing host's host object, as in Packetbeat's documents) resolves to
// the nested value, as Beats' %{[host.hostname]} does.
func paths(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			paths(p, sub, out)
			continue
		}
		if _, seen := out[p]; seen && strings.Contains(k, ".") {
			continue
		}
		out[p] = v
	}
}

// TestLookupAgreesWithDecoding checks the byte-level lookup against
// encoding/json on every scalar of every sample document.
func TestLookupAgreesWithDecoding(t *testing.T) {
	n := 0
	for name, doc := range sampleDocs(t) {
		m, err := decode(doc)
		if err != nil {
			t.Fatal(name, err)
		}
		all := map[string]any{}
		paths("", m, all)
		for p, want := range all {
			raw, ok := lookup(doc, p)
			if want == nil {
				if ok {
					t.Errorf("%s %s: null found as %s", name, p, raw)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: %s not found", name, p)
				continue
			}
			var got any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&got); err != nil {
				t.Errorf("%s %s: raw %q: %v", name, p, raw, err)
				continue
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("%s %s: got %s want %s", name, p, gj, wj)
			}
			n++
		}
		if _, ok := lookup(doc, "no.such.field"); ok {
			t.Errorf("%s: missing field found", name)
		}
	}
	if n < 200 {
		t.Fatalf("only %d fields compared", n)
	}
}

func TestFormat(t *testing.T) {
	docs := sampleDocs(t)
	dns, http := docs["dns"], docs["http"]
	doc := []byte(`{"@timestamp":"2026-11-26T01:07:33.964582Z","fields":{"x":"ex","n":42,"b":true,"o":{"a":1}},"fields.flat":"dotted","e":"a\"b\u00e9","nil":null}`)
	cases := []struct {
		format string
		doc    []byte
		want   string
		err    string
	}{
		{"%{[data_stream.type]}-%{[data_stream.dataset]}", dns, "logs-network_traffic.dns", ""},
		{"%{[data_stream.type]}-%{[data_stream.dataset]}", http, "logs-network_traffic.http", ""},
		{"nt-%{[data_stream][namespace]}", dns, "nt-default", ""},
		{"%{[fields.x]}", doc, "ex", ""},
		{"%{[fields.n]}/%{[fields.b]}", doc, "42/true", ""},
		{"%{[fields.flat]}", doc, "dotted", ""},
		{"%{[e]}", doc, "a\"bé", ""},
		{"%{[fields.missing]:none}", doc, "none", ""},
		{"%{[nil]:was-null}", doc, "was-null", ""},
		{"%{[fields.o]:obj}", doc, "obj", ""},
		{"%{[fields.missing]}", doc, "", `field "fields.missing" is missing`},
		{"%{[fields.o]}", doc, "", `field "fields.o" is missing or not a string`},
		{"daily-%{+yyyy.MM.dd}", doc, "daily-2026.11.26", ""},
		{"%{+yyyy-MM-dd'T'HH}", doc, "", `"T" is not supported`},
		{"plain", doc, "plain", ""},
		{"", doc, "", ""},
		{"100%", doc, "100%", ""},
	}
	for _, c := range cases {
		f, err := Parse(c.format)
		if err != nil {
			if c.err == "" || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: parse: %v", c.format, err)
			}
			continue
		}
		got, err := f.Run(c.doc)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %q, %v; want error %q", c.format, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.format, got, err, c.want)
		}
	}
	for _, bad := range []string{"%{[a]", "%{a}", "%{[]}", "%{[a]x}", "%{+}", "%{+yyyy.QQ}"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

func selectorFrom(t *testing.T, y string, single, list, fallback string) (*Selector, error) {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(y), &cfg); err != nil {
		t.Fatal(err)
	}
	return NewSelector(cfg, single, list, fallback)
}

func TestSelector(t *testing.T) {
	docs := sampleDocs(t)
	s, err := selectorFrom(t, `
key: "%{[data_stream.type]}-%{[data_stream.dataset]}"
keys:
  - key: "dns-queries"
    when: {equals: {network.protocol: dns}}
  - key: "%{[http.response.status_code]}"
    mappings: {"200": ok, "404": missing}
    default: other-status
  - key: "%{[fields.team]}"
    mappings: {blue: team-blue}
  - key: "mongo-%{[destination.port]}"
    when: {range: {destination.port: {gte: 27000}}}
`, "key", "keys", "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range docs {
		if !strings.HasSuffix(n, "-indented") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	got := map[string]string{}
	for _, n := range names {
		k, err := s.Select(docs[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		got[n] = k
	}
	want := map[string]string{
		"dns":     "dns-queries",
		"http":    "ok", // the sample is a 200
		"mongodb": "mongo-27017",
		"flow":    "logs-network_traffic.flow",
		"mysql":   "logs-network_traffic.mysql",
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: got %q want %q", n, got[n], w)
		}
	}
	team := []byte(`{"fields":{"team":"blue"},"data_stream":{"type":"logs","dataset":"x"}}`)
	if k, _ := s.Select(team); k != "team-blue" {
		t.Errorf("mapping: got %q", k)
	}
	red := []byte(`{"fields":{"team":"red"},"data_stream":{"type":"logs","dataset":"x"}}`)
	if k, _ := s.Select(red); k != "logs-x" {
		t.Errorf("unmapped value without default falls through: got %q", k)
	}
	if _, err := s.Select([]byte(`{"fields":{}}`)); err == nil || !strings.Contains(err.Error(), "data_stream.type") {
		t.Errorf("no key: %v", err)
	}
}

func TestSelectorConfig(t *testing.T) {
	s, err := selectorFrom(t, `{}`, "key", "keys", "network-traffic")
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := s.Const(); !ok || k != "network-traffic" {
		t.Errorf("fallback: %q %v", k, ok)
	}
	if _, err := selectorFrom(t, `{}`, "topic", "topics", ""); err == nil || !strings.Contains(err.Error(), "topic: required") {
		t.Errorf("missing topic: %v", err)
	}
	s, err = selectorFrom(t, `{topics: [{topic: "a-%{[x]}"}]}`, "topic", "topics", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Select([]byte(`{}`)); err == nil || !strings.Contains(err.Error(), "topic is not set") {
		t.Errorf("rules only, none applies: %v", err)
	}
	for y, msg := range map[string]string{
		`{key: 5}`:                                  "key: want a string",
		`{keys: {key: a}}`:                          "keys: want a list",
		`{keys: [{key: a, topic: b}]}`:              "keys[0]: unknown setting topic",
		`{keys: [{mappings: {a: b}}]}`:              "keys[0]: key: required",
		`{keys: [{key: a, when: {bogus: {a: 1}}}]}`: "keys[0]: when:",
		`{keys: [{key: "%{[a"}]}`:                   "keys[0]: key:",
		`{keys: [{key: a, mappings: {x: 1}}]}`:      "mappings.x: want a string",
	} {
		if _, err := selectorFrom(t, y, "key", "keys", "nt"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got %v, want %q", y, err, msg)
		}
	}
}

// FuzzLookup: on any input no panic; on valid JSON objects, a top-level
// string field found by lookup has the value encoding/json decodes.
func FuzzLookup(f *testing.F) {
	for _, d := range sampleDocs(f) {
		f.Add(d, "data_stream.type")
	}
	f.Add([]byte(`{"a.b":{"c":1},"a":{"b":{"c":2}}}`), "a.b.c")
	f.Add([]byte(`{"a":[{"b":"}"}],"c":"\\"}`), "c")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		raw, ok := lookup(doc, path)
		if ok {
			_, _ = scalarText(nil, raw)
		}
		fm, err := Parse(path)
		if err == nil {
			_, _ = fm.Run(doc)
		}
		if strings.Contains(path, ".") {
			return
		}
		var m map[string]any
		if json.Unmarshal(doc, &m) != nil || m == nil {
			return
		}
		want, isStr := m[path].(string)
		if !isStr {
			return
		}
		// Duplicate keys: encoding/json keeps the last, lookup the first.
		if bytes.Count(doc, []byte(`"`+path+`"`)) > 1 {
			return
		}
		got, ok2 := scalarText(nil, raw)
		if !ok || !ok2 || string(got) != want {
			t.Fatalf("lookup %q in %q: got %q %v, want %q", path, doc, got, ok, want)
		}
	})
}

// BenchmarkSelect: a two-field format string and a rule with a condition
// (which decodes the document) over the sample events.
func BenchmarkSelect(b *testing.B) {
	docs := sampleDocs(b)
	var list [][]byte
	for n, d := range docs {
		if !strings.HasSuffix(n, "-indented") {
			list = append(list, d)
		}
	}
	plain, _ := NewSelector(map[string]any{"key": "%{[data_stream.type]}-%{[data_stream.dataset]}"}, "key", "keys", "")
	rules, _ := NewSelector(map[string]any{"key": "%{[data_stream.type]}-%{[data_stream.dataset]}",
		"keys": []any{map[string]any{"key": "dns", "when": map[string]any{"equals": map[string]any{"network.protocol": "dns"}}}}}, "key", "keys", "")
	for name, s := range map[string]*Selector{"format": plain, "rule-with-condition": rules} {
		b.Run(name, func(b *testing.B) {
			for i := range b.N {
				if _, err := s.Select(list[i%len(list)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSparseConditionsAgree: conditions evaluated on only the fields they
// name give the same answer as on the whole decoded document.
func TestSparseConditionsAgree(t *testing.T) {
	conds := []string{
		`{equals: {network.protocol: dns}}`,
		`{equals: {destination.port: 27017}}`,
		`{range: {destination.port: {gte: 1000}}}`,
		`{contains: {event.dataset: http}}`,
		`{regexp: {url.full: "^http://"}}`,
		`{network: {source.ip: private}}`,
		`{has_fields: [http]}`,
		`{has_fields: [dns.question.name, client.ip]}`,
		`{not: {equals: {type: flow}}}`,
		`{or: [{equals: {type: flow}}, {and: [{has_fields: [server.ip]}, {range: {event.duration: {gt: 0}}}]}]}`,
	}
	docs := sampleDocs(t)
	matches := 0
	for _, c := range conds {
		s, err := selectorFrom(t, "{key: other, keys: [{key: hit, when: "+c+"}]}", "key", "keys", "")
		if err != nil {
			t.Fatal(c, err)
		}
		if s.full {
			t.Fatalf("%s: full decode", c)
		}
		for name, d := range docs {
			full, _ := decode(d)
			want := s.rules[0].when.Match(full)
			got, err := s.Select(d)
			if err != nil {
				t.Fatal(err)
			}
			if (got == "hit") != want {
				t.Errorf("%s on %s: sparse %v, full %v", c, name, got == "hit", want)
			}
			if want {
				matches++
			}
		}
	}
	if matches < 20 {
		t.Errorf("only %d matches: the conditions test little", matches)
	}
}

// FuzzSelectConditions: on any JSON object, rules whose conditions read
// only their fields pick what the same conditions pick on the whole
// decoded document.
func FuzzSelectConditions(f *testing.F) {
	for _, d := range sampleDocs(f) {
		f.Add(d)
	}
	f.Add([]byte(`{"a.b":{"c":1},"a":{"b":{"c":2}},"type":"flow","x":[1,"y"]}`))
	s, err := NewSelector(map[string]any{"key": "k-%{[type]:none}", "keys": []any{
		map[string]any{"key": "eq", "when": map[string]any{"equals": map[string]any{"a.b.c": 2}}},
		map[string]any{"key": "has", "when": map[string]any{"has_fields": []any{"x", "network.protocol"}}},
		map[string]any{"key": "rng", "when": map[string]any{"range": map[string]any{"destination.port": map[string]any{"gte": 1024}}}},
		map[string]any{"key": "net", "when": map[string]any{"network": map[string]any{"source.ip": []any{"private"}}}},
		map[string]any{"key": "or", "when": map[string]any{"or": []any{
			map[string]any{"contains": map[string]any{"type": "lo"}},
			map[string]any{"not": map[string]any{"regexp": map[string]any{"event.dataset": "^network"}}}}}},
	}}, "key", "keys", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decode(raw)
		if err != nil {
			return
		}
		doc, err := json.Marshal(m) // one key each, as ecsmap writes
		if err != nil {
			return
		}
		full, _ := decode(doc)
		want := ""
		for i, r := range s.rules {
			if r.when.Match(full) {
				want = []string{"eq", "has", "rng", "net", "or"}[i]
				break
			}
		}
		got, err := s.Select(doc)
		if want != "" && (err != nil || got != want) {
			t.Fatalf("%s: got %q %v, want %q", doc, got, err, want)
		}
		if want == "" && err == nil && (got == "eq" || got == "has" || got == "rng" || got == "net" || got == "or") {
			t.Fatalf("%s: rule %q picked, none matches the whole document", doc, got)
		}
	})
}
