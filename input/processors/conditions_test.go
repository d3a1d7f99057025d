package processors

import "testing"

// Beats' if/then/else list item.
func TestIfThenElse(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - if:
      equals:
        status: OK
    then:
      - add_tags: {tags: [ok]}
      - add_fields: {target: "", fields: {branch: then}}
    else:
      - add_fields: {target: "", fields: {branch: else}}
      - drop_event:
          when: {equals: {type: flow}}
`)
	m, _ := process(t, c, echoDoc)
	wantFields(t, m, map[string]any{"tags": []any{"ok"}, "branch": "then"})
	m, _ = process(t, c, unreachableDoc)
	wantFields(t, m, map[string]any{"tags": nil, "branch": "else"})
	if m, _ := process(t, c, flowDoc); m != nil {
		t.Error("drop_event in else did not drop the flow")
	}
	noElse := chainFromYAML(t, `
processors:
  - if: {has_fields: [icmp.response]}
    then: {rename: {fields: [{from: nope, to: x}]}}
`)
	m, err := process(t, noElse, echoDoc)
	if err == nil || field(m, "error.message") != `processors[0] (if): then[0] (rename): field "nope" not found` {
		t.Errorf("error %v / %v", err, field(m, "error.message"))
	}
	m, err = process(t, noElse, unreachableDoc)
	if err != nil || m == nil {
		t.Errorf("no else: %v", err)
	}
	wantConfigError(t, "processors: [{if: {equals: {a: 1}}}]", "processors[0] (if): then: required")
	wantConfigError(t, "processors: [{if: {equals: {a: 1}}, then: [{add_feilds: {}}]}]", "processors[0] (if): then[0]: unknown processor")
	wantConfigError(t, "processors: [{if: {equals: {a: 1}}, then: [], otherwise: []}]", `unknown key "otherwise"`)
}

// The condition examples of Beats' documentation.
func TestConditionDocExamples(t *testing.T) {
	doc := `{"http":{"response":{"code":404}},"status":"Specific error here","system":{"process":{"name":"foobar"},"cpu":{"user":{"pct":0.6}}},"source":{"ip":"192.168.1.5"},"destination":{"ip":"8.8.8.8"}}`
	for _, c := range []struct {
		when string
		want bool
	}{
		{`{equals: {http.response.code: 200}}`, false},
		{`{equals: {http.response.code: 404}}`, true},
		{`{contains: {status: "Specific error"}}`, true},
		{`{regexp: {system.process.name: "^foo.*"}}`, true},
		{`{range: {http.response.code: {gte: 400}}}`, true},
		{`{range: {system.cpu.user.pct.gte: 0.5, system.cpu.user.pct.lt: 0.8}}`, true},
		{`{range: {system.cpu.user.pct.lt: 0.5}}`, false},
		{`{network: {source.ip: private}}`, true},
		{`{network: {destination.ip: ['192.168.1.0/24', '10.0.0.0/8', loopback]}}`, false},
		{`{has_fields: ['http.response.code']}`, true},
		{`{or: [{equals: {http.response.code: 304}}, {equals: {http.response.code: 404}}]}`, true},
		{`{and: [{equals: {http.response.code: 200}}, {equals: {status: OK}}]}`, false},
		{`{not: {equals: {status: OK}}}`, true},
	} {
		c2 := chainFromYAML(t, "processors: [{add_tags: {tags: [hit], when: "+c.when+"}}]")
		m, _ := process(t, c2, doc)
		if got := m["tags"] != nil; got != c.want {
			t.Errorf("%s: %v, want %v", c.when, got, c.want)
		}
	}
}
