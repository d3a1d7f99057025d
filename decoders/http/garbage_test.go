package http

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// TestParseErrorsResync replays garbage.pcap (_dev/capture/resync/
// http-garbage.sh): garbage in the middle of real connections to python's
// http.server, every byte captured. A parse error resynchronises as a gap
// does: bounded, counted in the Resync counters, and no response is given
// to a request it may not answer.
//   - A response whose body overruns its Content-Length by 3000 bytes:
//     the three requests after it pair with their own responses.
//   - A request the parser rejects (its method is not a token), answered
//     by 501, then GET /c in the same segment: the 501 must not be taken
//     for GET /c's answer (the server closed without answering it).
//   - 1500 bytes of binary garbage then GET /d, answered with a bare HTML
//     body (HTTP/0.9 style): GET /d alone, the body skipped.
func TestParseErrorsResync(t *testing.T) {
	got, p := replaySummaries(t, "garbage.pcap")
	port := func(i int) string { return strings.Fields(got[i])[0] }
	want := []string{
		"get /a -> 200 req=41 resp=150 body=12 err=<nil>",
		"get /overrun -> 200 req=47 resp=142 body=5 err=<nil>",
		"get /a -> 200 req=41 resp=150 body=12 err=<nil>",
		"get /b -> 404 req=41 resp=508 body=330 err=<nil>",
		"get /c -> <nil> req=41 resp=<nil> body=<nil> err=Unmatched request",
		"<nil> <nil> -> 501 req=<nil> resp=554 body=358 err=Unmatched response",
		"get /d -> <nil> req=41 resp=<nil> body=<nil> err=Unmatched request",
	}
	if len(got) != len(want) {
		t.Fatalf("%d transactions, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if s := got[i][len(port(i))+1:]; s != want[i] {
			t.Errorf("transaction %d: %q, want %q", i, s, want[i])
		}
	}
	if ports := []string{port(0), port(3), port(4), port(5), port(6)}; ports[0] != ports[1] || ports[2] != ports[3] || ports[3] == ports[4] || ports[0] == ports[2] {
		t.Errorf("connections: %v", ports)
	}
	rs := &p.stats.Resync
	// Four parse errors: the overrun, the bad method, the binary garbage,
	// the bare body. Three searches found a start (the response after the
	// overrun, GET /c, GET /d); the bare body's ended with the connection.
	// Skipped: 3000-1 of the overrun (the byte that failed is consumed by
	// the error), 42-1 of the bad request, 1500-1 of the garbage and
	// 439-1 of the bare body.
	if n := p.stats.ParseErrors.Load(); n != 4 {
		t.Errorf("parse errors %d, want 4", n)
	}
	if r, s, b := rs.Resynced.Load(), rs.SkippedBytes.Load(), rs.BudgetExceed.Load(); r != 3 || s != 2999+41+1499+438 || b != 0 {
		t.Errorf("resynced %d, skipped %d, over budget %d", r, s, b)
	}
	if q, r := rs.UnpairedReqs.Load(), rs.UnpairedResps.Load(); q != 2 || r != 1 {
		t.Errorf("unpaired after a parse error: requests %d (want GET /c and /d), responses %d (the 501)", q, r)
	}
}

// After a parse error the search is bounded as after a gap: ResyncBudget
// bytes without a message start make the direction give up (counted),
// even if a request follows; the other direction is unaffected.
func TestParseErrorResyncBudget(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, okResp)
	junk := make([]byte, protocol.ResyncBudget+64<<10)
	rand.New(rand.NewSource(3)).Read(junk)
	for i := range junk {
		if junk[i] == 'H' || junk[i] >= 'A' && junk[i] <= 'Z' {
			junk[i] = 'x' // no method or status line by chance
		}
	}
	h.send(protocol.FromServer, "\x00") // a parse error at a message start
	for off := 0; off < len(junk); off += 32 << 10 {
		h.send(protocol.FromServer, string(junk[off:off+32<<10]))
	}
	h.send(protocol.FromClient, getReq)
	h.send(protocol.FromServer, okResp) // too late: the server side gave up
	h.c.Close(h.ts)
	rs := &h.p.stats.Resync
	if rs.BudgetExceed.Load() != 1 || rs.SkippedBytes.Load() != protocol.ResyncBudget || rs.Resynced.Load() != 0 {
		t.Errorf("over budget %d, skipped %d, resynced %d", rs.BudgetExceed.Load(), rs.SkippedBytes.Load(), rs.Resynced.Load())
	}
	var got []string
	for _, d := range h.docs() {
		got = append(got, fmt.Sprint(d["query"], " ", d["status"]))
	}
	if want := []string{"GET /a.html OK", "GET /a.html Error"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
