package redis

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// The Redis output cut for 60s (NT_OUTAGE) in the middle of a capture
// replay through the production pipeline (capture, a script processor
// numbering each stream's documents, the publish queue, this output with
// Fleet's default settings) to redis-server (port 16379) behind a proxy
// the test controls. The capture is held back while cut; once restored,
// every numbered document is in the list exactly once (a chunk whose reply
// the cut took is recognised by its marker and not written twice), and
// the output publishes again within seconds though its backoff had grown
// to a minute.
func TestSeqReplayThroughOutage(t *testing.T) {
	addr := startRedis(t, 16379)
	px, err := outtest.NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Cut()
	const key = "nt-seq-outage"
	rc := reader(t, addr, 0, "")
	o := newOutput(t, map[string]any{"hosts": []any{px.Addr}, "key": key})
	r := outtest.SeqReplay(t, outtest.SamplePcap(), 500, 512, o)
	length := outtest.OutageLength(t)
	oc := outtest.CutDuring(t, r, o, 500, length, px.Cut, func() {
		if err := px.Restore(); err != nil {
			t.Error(err)
		}
	})
	produced := r.Wait(t, 20*time.Second) // normally 1-2 s: a stall after the restore fails
	total := oc.Check(t, produced, 5*time.Second)
	list, err := rc.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]map[string]any, 0, len(list))
	for _, s := range list {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("%v: %.200s", err, s)
		}
		docs = append(docs, m)
	}
	outtest.CheckSeq(t, produced, docs)
	if st := o.Stats(); st.Published != uint64(total) || st.Failed != 0 {
		t.Errorf("stats %+v for %d documents", st, total)
	}
	t.Logf("cut %v after %d of %d documents sent by the capture (%d published); publishing again %v after the restore; all %d exactly once; retries %d, last error while cut: %s",
		length, oc.SentAtCut, total, oc.AtCut.Published, oc.Resumed.Round(time.Millisecond), total, oc.BeforeRestore.Retries-oc.AtCut.Retries, oc.BeforeRestore.LastError)
}
