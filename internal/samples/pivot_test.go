package samples

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
)

// Every transaction event of every protocol carries the flow.id of its
// connection, the id the flow data stream reports for it: each capture is
// decoded with its protocol and a flow stream, as one input would, and
// every transaction's flow.id must be among the flow records' ids.
func TestTransactionsPivotToFlows(t *testing.T) {
	root := repoRoot()
	for _, src := range Sources {
		if src.DataStream == "flow" {
			continue
		}
		t.Run(src.DataStream+"/"+filepath.Base(src.Pcap), func(t *testing.T) {
			stream := map[string]any{"id": src.DataStream}
			for k, v := range src.Stream {
				stream[k] = v
			}
			iface := map[string]any{"file": filepath.Join(root, src.Pcap), "top_speed": true}
			stream["interface"] = iface
			flow := map[string]any{"id": "flow", "type": "flow", "period": "-1s", "interface": iface}
			in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{stream, flow}})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range in.Streams {
				if st.Err != nil {
					t.Fatal(st.Err)
				}
			}
			col := &collector{}
			w, err := capture.New(in, col, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			type doc struct {
				Type string `json:"type"`
				Flow struct {
					ID string `json:"id"`
				} `json:"flow"`
			}
			flows := map[string]bool{}
			var txs []doc
			for _, raw := range col.docs {
				var d doc
				if err := json.Unmarshal(raw, &d); err != nil {
					t.Fatal(err)
				}
				if d.Type == "flow" {
					flows[d.Flow.ID] = true
				} else {
					txs = append(txs, d)
				}
			}
			if len(txs) == 0 || len(flows) == 0 {
				t.Fatalf("%d transactions, %d flows", len(txs), len(flows))
			}
			t.Logf("%d transactions, %d flows", len(txs), len(flows))
			for i, d := range txs {
				if !flows[d.Flow.ID] {
					t.Errorf("transaction %d (%s): flow.id %q is no flow's id (%d flows)", i, d.Type, d.Flow.ID, len(flows))
				}
			}
		})
	}
}
