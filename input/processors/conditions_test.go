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
