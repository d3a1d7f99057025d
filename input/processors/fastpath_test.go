package processors

import (
	"reflect"
	"strings"
	"testing"
)

const staticChainYAML = `
processors:
  - add_host_metadata: ~
  - add_fields: {target: project, fields: {name: myproject, id: "574734885120952459"}}
  - add_fields: {target: "", fields: {site: {rack: 7}}}
  - add_tags: {tags: [web, web, lab]}
  - add_labels: {labels: {env: lab, nested: {a.b: c}}}
`

// The fast path gives the same document as the general path, with and
// without the keys it adds already present.
func TestFastPathMatchesGeneral(t *testing.T) {
	c := chainFromYAML(t, staticChainYAML)
	if !c.static {
		t.Fatal("chain of additions not on the fast path")
	}
	slow := chainFromYAML(t, staticChainYAML)
	slow.static = false
	for _, doc := range []string{echoDoc, flowDoc, `{}`, ` { "x" : [1, {"y":"\u00e9"}] } `,
		strings.Replace(echoDoc, `"type":"icmp",`, `"type":"icmp","tags":["forwarded"],"host":{"name":"other"},`, 1)} {
		fastOut, _, err1 := c.Run([]byte(doc))
		fastCopy := append([]byte(nil), fastOut...)
		slowOut, _, err2 := slow.Run([]byte(doc))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		a, errA := stdDecode(fastCopy)
		b, errB := stdDecode(slowOut)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("doc %.60s:\nfast %s\nslow %s", doc, fastCopy, slowOut)
		}
	}
	m, _ := process(t, c, echoDoc)
	wantFields(t, m, map[string]any{"project.name": "myproject", "site.rack": 7, "tags": []any{"web", "lab"},
		"labels": map[string]any{"env": "lab", "nested.a.b": "c"}, "icmp.request.type": 8})
	if field(m, "host.hostname") == nil {
		t.Error("no host.hostname")
	}
	// A processor that rewrites the event leaves the fast path.
	for _, y := range []string{
		"processors: [{add_tags: {tags: [x]}}, {drop_fields: {fields: [path], ignore_missing: true}}]",
	} {
		if chainFromYAML(t, y).static {
			t.Errorf("on the fast path: %s", y)
		}
	}
}

// With only additions, the processor stage costs no allocation per event.
func TestFastPathAllocations(t *testing.T) {
	c := chainFromYAML(t, staticChainYAML)
	doc := []byte(echoDoc)
	c.Run(doc)
	if n := testing.AllocsPerRun(200, func() { c.Run(doc) }); n != 0 {
		t.Errorf("%v allocations per event on the fast path", n)
	}
}

func FuzzFastPathMatchesGeneral(f *testing.F) {
	for _, s := range []string{echoDoc, flowDoc, `{}`, `{"tags":1}`, `{"a":"\xff"}`, `{"a":1,"a":2}`, `{"\u0068ost":1}`, `[1]`} {
		f.Add([]byte(s))
	}
	fast, err := chainYAML(staticChainYAML)
	if err != nil {
		f.Fatal(err)
	}
	slow, _ := chainYAML(staticChainYAML)
	slow.static = false
	f.Fuzz(func(t *testing.T, doc []byte) {
		a, _, errA := fast.Run(doc)
		a = append([]byte(nil), a...)
		b, _, errB := slow.Run(doc)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%q: fast error %v, general %v", doc, errA, errB)
		}
		if errA != nil {
			return
		}
		ma, e1 := stdDecode(a)
		mb, e2 := stdDecode(b)
		if e1 != nil || e2 != nil || !reflect.DeepEqual(ma, mb) {
			t.Fatalf("%q:\nfast    %s\ngeneral %s", doc, a, b)
		}
	})
}

const filterChainYAML = `
processors:
  - add_host_metadata: ~
  - drop_event:
      when:
        or:
          - network: {source.ip: loopback}
          - equals: {status: Error}
          - range: {source.bytes.gte: 1000}
  - add_tags: {tags: [kept]}
  - drop_event:
      when.has_fields: [dns.question.name]
  - add_fields:
      target: lab
      fields: {icmp: true}
      when: {equals: {type: icmp}}
`

// Filters (drop_event with a condition) with additions: same outcome as
// the general path, without decoding the whole document.
func TestFastFilterMatchesGeneral(t *testing.T) {
	c := chainFromYAML(t, filterChainYAML)
	if !c.static || len(c.filterKeys) == 0 {
		t.Fatalf("filter chain not on the fast path (static %v, keys %v)", c.static, c.filterKeys)
	}
	slow := chainFromYAML(t, filterChainYAML)
	slow.static = false
	for doc, wantDrop := range map[string]bool{
		echoDoc:        false,
		unreachableDoc: true, // status Error
		flowDoc:        true, // loopback
		`{"source":{"ip":"10.0.0.1","bytes":5000}}`:             true,
		`{"source":{"ip":"10.0.0.1","bytes":5}}`:                false,
		`{"dns":{"question":{"name":"x"}}}`:                     true,
		`{"source.ip":"127.0.0.1"}`:                             true, // a literal dotted key
		`{"status":"OK","other":[1,{"deep":"\u00e9"}],"n":1e3}`: false,
		`{"type":"dns","source":{"ip":"10.0.0.1"}}`:             false, // no lab.icmp
	} {
		a, dropA, errA := c.Run([]byte(doc))
		a = append([]byte(nil), a...)
		b, dropB, errB := slow.Run([]byte(doc))
		if errA != nil || errB != nil || dropA != wantDrop || dropB != wantDrop {
			t.Errorf("%.50s: drop fast %v general %v want %v (%v %v)", doc, dropA, dropB, wantDrop, errA, errB)
			continue
		}
		if !wantDrop {
			ma, _ := stdDecode(a)
			mb, _ := stdDecode(b)
			if !reflect.DeepEqual(ma, mb) {
				t.Errorf("%.50s:\nfast    %s\ngeneral %s", doc, a, b)
			}
		}
	}
	// A filter reading what an addition writes stays on the general path.
	if chainFromYAML(t, "processors: [{add_tags: {tags: [x]}}, {drop_event: {when: {contains: {tags: x}}}}]").static {
		t.Error("filter on an added key took the fast path")
	}
}

func FuzzFastFilterMatchesGeneral(f *testing.F) {
	for _, s := range []string{echoDoc, unreachableDoc, flowDoc, `{"source":{"bytes":"1000"}}`, `{"status":["Error"]}`, `{"source.ip":"::1"}`} {
		f.Add([]byte(s))
	}
	fast, err := chainYAML(filterChainYAML)
	if err != nil {
		f.Fatal(err)
	}
	slow, _ := chainYAML(filterChainYAML)
	slow.static = false
	f.Fuzz(func(t *testing.T, doc []byte) {
		a, dropA, errA := fast.Run(doc)
		a = append([]byte(nil), a...)
		b, dropB, errB := slow.Run(doc)
		if (errA == nil) != (errB == nil) || dropA != dropB {
			t.Fatalf("%q: fast (%v, %v), general (%v, %v)", doc, dropA, errA, dropB, errB)
		}
		if errA != nil || dropA {
			return
		}
		ma, e1 := stdDecode(a)
		mb, e2 := stdDecode(b)
		if e1 != nil || e2 != nil || !reflect.DeepEqual(ma, mb) {
			t.Fatalf("%q:\nfast    %s\ngeneral %s", doc, a, b)
		}
	})
}
