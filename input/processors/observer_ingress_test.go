package processors

import (
	"encoding/json"
	"testing"
)

// The Fleet templates of forwarded captures run add_observer_metadata with
// replace_fields: false, so the interface the capture names stays beside the
// observer's host facts.
func TestObserverMetadataKeepsIngressInterface(t *testing.T) {
	c, err := New([]map[string]any{{"add_observer_metadata": map[string]any{"replace_fields": false}}})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Run([]byte(`{"type":"http","observer":{"ingress":{"interface":{"name":"eth1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Observer struct {
			Hostname string `json:"hostname"`
			Ingress  struct {
				Interface struct{ Name string } `json:"interface"`
			} `json:"ingress"`
		} `json:"observer"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Observer.Ingress.Interface.Name != "eth1" || doc.Observer.Hostname == "" {
		t.Errorf("observer %+v from %s", doc.Observer, out)
	}
}
