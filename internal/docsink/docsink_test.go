package docsink

import (
	"sync"
	"testing"

	"github.com/network-traffic/network-traffic/input/output"
)

func TestSinkKeepsEveryDocumentWithItsIndex(t *testing.T) {
	var s Sink
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				s.Send(output.Doc{Index: "logs-x-default", Body: []byte(`{"a":{"b":1}}`)})
			}
		}()
	}
	wg.Wait()
	docs := s.All()
	if len(docs) != 400 {
		t.Fatalf("%d documents, want 400", len(docs))
	}
	if d := docs[0]; d["_index"] != "logs-x-default" || d["a"].(map[string]any)["b"] != 1.0 {
		t.Errorf("document %v", d)
	}
	docs[0] = nil
	if s.All()[0] == nil {
		t.Error("All returned the sink's own slice")
	}
}
