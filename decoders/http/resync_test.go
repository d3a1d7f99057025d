package http

import (
	"fmt"
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// replaySummaries summarises what a gap must not change about a
// transaction that does not straddle it: its connection, request,
// response, sizes and notes.
func replaySummaries(t *testing.T, name string) ([]string, *Protocol) {
	inst, col := protocoltest.New(t, "http", map[string]any{"ports": []any{8080}})
	protocoltest.Replay(t, pcapDir+"/"+name, inst)
	return protocoltest.Summaries(col.Docs, "%v %v %v -> %v req=%v resp=%v body=%v err=%v", "source.port", "http.request.method",
		"url.path", "http.response.status_code", "http.request.bytes", "http.response.bytes",
		"http.response.body.bytes", "error.message"), inst.TCP.(*Protocol)
}

// TestGapsResync replays keepalive.pcap (nginx, curl: three connections
// of six requests) and keepalive-gaps.pcap, the same capture with one data
// segment removed per connection (_dev/capture/resync/http.sh): a whole
// request, a segment inside a chunked body, and a response's first
// segment. Transactions away from the gaps must be decoded exactly as
// without them; the ones straddling a gap are published as what is left
// of them, and no response is given to the wrong request.
func TestGapsResync(t *testing.T) {
	full, _ := replaySummaries(t, "keepalive.pcap")
	gapped, p := replaySummaries(t, "keepalive-gaps.pcap")
	if len(full) != 18 {
		t.Fatalf("keepalive.pcap: %d transactions, want 18: %v", len(full), full)
	}
	lost, changed := protocoltest.GapDiff(full, gapped)
	port := func(i int) any { return protocoltest.Get(mustDoc(t, "keepalive.pcap", i), "source.port") }
	p0, p1, p2 := port(0), port(6), port(12)
	// Connection 0 lost its GET /missing: the 404 is published alone and
	// the HEAD that follows keeps its own 200 (not the 404).
	// Connection 1 lost a segment inside one chunk of the chunked rand.txt
	// body: the chunk framing survives, so that response keeps its size
	// and gains a note, and the 404, HEAD and GET after it are decoded as
	// without the gap.
	// Connection 2 lost the first segment of the 2k.txt response: its
	// request is published alone, the rest of that body is skipped, and
	// rand.txt and everything after pair as without the gap.
	wantLost := []string{
		fmt.Sprintf("%v get /missing -> 404 req=85 resp=308 body=153 err=<nil>", p0),
		findSummary(t, full, p1, "/rand.txt"),
		fmt.Sprintf("%v get /2k.txt -> 200 req=84 resp=2288 body=2048 err=<nil>", p2),
	}
	slices.Sort(wantLost)
	if !slices.Equal(lost, wantLost) {
		t.Errorf("transactions changed by the gaps:\n got %q\nwant %q", lost, wantLost)
	}
	wantChanged := []string{
		fmt.Sprintf("%v <nil> <nil> -> 404 req=<nil> resp=308 body=153 err=Unmatched response", p0),
		fmt.Sprintf("%v get /2k.txt -> <nil> req=84 resp=<nil> body=<nil> err=Unmatched request", p2),
		fmt.Sprintf("%v get /rand.txt -> 200 req=109 resp=6462 body=6198 err=Packet loss while capturing the response", p1),
	}
	slices.Sort(wantChanged)
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("what they became:\n got %q\nwant %q", changed, wantChanged)
	}
	rs := &p.stats.Resync
	// Two searches (connections 0 and 2). The 404 of connection 0 came in
	// the packet whose ACK revealed the gap, so it was parsed before the
	// gap was known: an ordinary unmatched response.
	if rs.Resynced.Load() != 2 || rs.UnpairedReqs.Load() != 1 || rs.UnpairedResps.Load() != 0 || rs.BudgetExceed.Load() != 0 {
		t.Errorf("resynced %d, unpaired requests %d, responses %d, over budget %d", rs.Resynced.Load(),
			rs.UnpairedReqs.Load(), rs.UnpairedResps.Load(), rs.BudgetExceed.Load())
	}
	drops := map[string]uint64{}
	for _, d := range p.Drops() {
		drops[d.Reason] = d.Count
	}
	// The 840 bytes of the 2k.txt body that followed the lost segment.
	if drops["request_unpaired_after_gap"] != 1 || drops["resync_skipped_bytes"] != 840 {
		t.Errorf("drops %v", drops)
	}
}

// TestGapPipelinedResponseLost: pipeline.pcap (three pipelined requests to
// nginx) without the segment of the second response. The third response
// (to HEAD /2k.txt) must not be given to GET /missing: both requests
// waiting since before the gap are published alone.
func TestGapPipelinedResponseLost(t *testing.T) {
	gapped, p := replaySummaries(t, "pipeline-gap.pcap")
	full, _ := replaySummaries(t, "pipeline.pcap")
	if len(full) != 3 || len(gapped) != 4 {
		t.Fatalf("full %q\ngapped %q", full, gapped)
	}
	if gapped[0] != full[0] {
		t.Errorf("first transaction changed: %q, was %q", gapped[0], full[0])
	}
	for _, s := range gapped[1:] {
		if slices.Contains(full, s) {
			t.Errorf("paired across the gap: %q", s)
		}
	}
	if p.stats.Resync.UnpairedReqs.Load() != 2 {
		t.Errorf("unpaired requests %d", p.stats.Resync.UnpairedReqs.Load())
	}
}

func mustDoc(t *testing.T, name string, i int) map[string]any {
	inst, col := protocoltest.New(t, "http", map[string]any{"ports": []any{8080}})
	protocoltest.Replay(t, pcapDir+"/"+name, inst)
	return col.Docs[i]
}

func findSummary(t *testing.T, list []string, port any, path string) string {
	for _, s := range list {
		if s[:len(fmt.Sprint(port))] == fmt.Sprint(port) && slices.Contains([]string{path}, pathOf(s)) {
			return s
		}
	}
	t.Fatalf("no %v %s in %q", port, path, list)
	return ""
}

func pathOf(s string) string {
	var port, method, path string
	fmt.Sscan(s, &port, &method, &path)
	return path
}
