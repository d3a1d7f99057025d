package logstash

import (
	"fmt"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// The Logstash output cut for 60s (NT_OUTAGE) in the middle of a capture
// replay through the production pipeline (capture, a script processor
// numbering each stream's documents, the publish queue, this output with
// Fleet's default settings) to go-lumber's server behind a proxy the test
// controls. The capture is held back while cut; once restored, every
// numbered document arrives. Lumberjack is at least once (a window whose
// acknowledgement the cut took is resent), so windows seen twice carry the
// same @metadata._id and the same number, as Logstash dedupes them; after
// that, every document exactly once. The output publishes again within
// seconds of the restore, though its backoff had grown to a minute.
func TestSeqReplayThroughOutage(t *testing.T) {
	srv := newServer(t, nil)
	px, err := outtest.NewProxy(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Cut()
	o := newOutput(t, map[string]any{"hosts": []any{px.Addr}})
	r := outtest.SeqReplay(t, outtest.SamplePcap(), 500, 512, o)
	length := outtest.OutageLength(t)
	oc := outtest.CutDuring(t, r, o, 500, length, px.Cut, func() {
		if err := px.Restore(); err != nil {
			t.Error(err)
		}
	})
	produced := r.Wait(t, 20*time.Second) // normally 1-2 s: a stall after the restore fails
	// The backoff grew towards 60s while cut; the probe resends within
	// about a second of the restore.
	total := oc.Check(t, produced, 5*time.Second)
	events, _, _ := srv.snapshot()
	byID := map[string]map[string]any{}
	var uniq []map[string]any
	dupes := 0
	for _, e := range events {
		id, _ := e["@metadata"].(map[string]any)["_id"].(string)
		if id == "" {
			t.Fatalf("event without @metadata._id: %v", e)
		}
		if prev, ok := byID[id]; ok {
			if fmt.Sprint(prev["test"]) != fmt.Sprint(e["test"]) {
				t.Fatalf("_id %s on two documents: %v and %v", id, prev["test"], e["test"])
			}
			dupes++
			continue
		}
		byID[id] = e
		uniq = append(uniq, e)
	}
	outtest.CheckSeq(t, produced, uniq)
	if st := o.Stats(); st.Published != uint64(total) || st.Failed != 0 {
		t.Errorf("stats %+v for %d documents", st, total)
	}
	t.Logf("cut %v after %d of %d documents sent by the capture (%d published); output publishing again %v after the restore; %d resent events seen twice (same _id); retries %d, last error while cut: %s",
		length, oc.SentAtCut, total, oc.AtCut.Published, oc.Resumed.Round(time.Millisecond), dupes, oc.BeforeRestore.Retries-oc.AtCut.Retries, oc.BeforeRestore.LastError)
}
