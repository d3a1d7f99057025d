package capture

import (
	"context"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
)

type procSink struct{ docs []string }

func (c *procSink) Send(d output.Doc) { c.docs = append(c.docs, string(d.Body)) }

// A processor with a bad option fails its stream only, with an error that
// names the processor and the option; the other streams run, and a
// processor failing at run time keeps the event with error.message.
func TestProcessorConfigErrorFailsOnlyItsStream(t *testing.T) {
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "dns-1", "type": "dns", "interface": map[string]any{"file": "../../_dev/pcaps/sample.pcap", "top_speed": true},
			"processors": []any{map[string]any{"dissect": map[string]any{"tokenizer": "%{a|int}"}}}},
		map[string]any{"id": "http-1", "type": "http", "interface": map[string]any{"file": "../../_dev/pcaps/sample.pcap", "top_speed": true},
			"processors": []any{map[string]any{"dissect": map[string]any{"field": "url.path", "tokenizer": "/%{name}.%{ext}"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &procSink{}
	w, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := w.StreamStates()
	if st["dns-1"].Status != "FAILED" || !strings.Contains(st["dns-1"].Error, `processors[0] (dissect): tokenizer: %{a|int}: unknown data type "int"`) {
		t.Errorf("dns-1: %+v", st["dns-1"])
	}
	if st["http-1"].Status != "HEALTHY" {
		t.Errorf("http-1: %+v", st["http-1"])
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var withErr, ok int
	for _, d := range sink.docs {
		switch {
		case strings.Contains(d, `"type":"dns"`):
			t.Errorf("event of the failed dns stream: %s", d)
		case strings.Contains(d, `processors[0] (dissect): could not find delimiter`):
			withErr++
		case strings.Contains(d, `"dissect":{"ext":"txt","name":"big"}`):
			ok++
		}
	}
	if withErr != 3 || ok != 1 || w.Stats().ProcessorErrors != 3 {
		t.Errorf("%d events with error.message, %d dissected, %d counted; docs %v", withErr, ok, w.Stats().ProcessorErrors, sink.docs)
	}
}
