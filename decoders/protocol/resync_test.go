package protocol

import (
	"bytes"
	"testing"
	"time"
)

// msgProbe says yes at "MSG:" and need-more on a prefix of it.
func msgProbe(_ Dir, b []byte) ProbeResult {
	const p = "MSG:"
	n := min(len(b), len(p))
	if string(b[:n]) != p[:n] {
		return ProbeNo
	}
	if n < len(p) {
		return ProbeNeedMore
	}
	return ProbeYes
}

// feed plays chunks through Scan as the TCP stream would (unconsumed
// bytes handed back with the next chunk) and returns the offset found in
// the concatenation, or -1.
func feed(r *Resync, st *ResyncStats, probe Probe, chunks ...[]byte) int {
	var buf []byte
	off := 0
	for _, c := range chunks {
		buf = append(buf, c...)
		for len(buf) > 0 {
			skip, found := r.Scan(FromClient, buf, probe, st)
			if skip < 0 || skip > len(buf) {
				panic("skip out of range")
			}
			off += skip
			buf = buf[skip:]
			if found {
				return off
			}
			if skip == 0 {
				break
			}
		}
	}
	return -1
}

func TestResyncScan(t *testing.T) {
	var r Resync
	var st ResyncStats
	if r.Active() {
		t.Fatal("zero Resync active")
	}
	r.Lost()
	// "MS" at the end of a segment is kept until the next one completes it.
	if got := feed(&r, &st, msgProbe, []byte("garbage MS"), []byte("G:rest")); got != 8 {
		t.Fatalf("found at %d, want 8", got)
	}
	if r.Active() || st.Resynced.Load() != 1 || st.SkippedBytes.Load() != 8 {
		t.Fatalf("active %v resynced %d skipped %d", r.Active(), st.Resynced.Load(), st.SkippedBytes.Load())
	}
	// Over the budget: given up, counted once, and everything after is skipped.
	r.Lost()
	junk := bytes.Repeat([]byte("x"), ResyncBudget/4)
	if got := feed(&r, &st, msgProbe, junk, junk, junk, junk, []byte("MSG:")); got != -1 {
		t.Fatalf("found at %d after the budget", got)
	}
	if !r.Active() || st.BudgetExceed.Load() != 1 {
		t.Fatalf("active %v over budget %d", r.Active(), st.BudgetExceed.Load())
	}
	// A new gap gives a new budget.
	r.Lost()
	if got := feed(&r, &st, msgProbe, []byte("MSG:")); got != 0 {
		t.Fatalf("found at %d", got)
	}
	// A probe still needing more at MaxProbeBytes is taken as a no.
	always := func(Dir, []byte) ProbeResult { return ProbeNeedMore }
	r.Lost()
	big := make([]byte, MaxProbeBytes+10)
	if skip, found := r.Scan(FromClient, big, always, &st); found || skip != 11 {
		t.Fatalf("skip %d found %v, want 11 (the offsets with a full window)", skip, found)
	}
}

func TestPairGuard(t *testing.T) {
	t0 := time.Unix(100, 0)
	var g PairGuard
	if !g.Request(true) || g.Unanswered(t0) {
		t.Fatal("a guard without a gap holds pairing")
	}
	// Non-pipelined: the lost request's answer, then a clean turn.
	g.RequestGap(t0.Add(time.Second))
	if !g.Suspect() {
		t.Fatal("not suspect after a request gap")
	}
	if !g.Unanswered(t0.Add(2 * time.Second)) {
		t.Fatal("response after the gap not counted")
	}
	if !g.Request(true) || g.Suspect() {
		t.Fatal("clean turn did not resume pairing")
	}
	// Pipelined: requests sent before any response are not paired, nor is
	// one sent while those are outstanding.
	g.RequestGap(t0.Add(3 * time.Second))
	if g.Request(true) || g.Request(true) {
		t.Fatal("request before any response since the gap paired")
	}
	g.Unanswered(t0.Add(4 * time.Second))
	if g.Request(true) {
		t.Fatal("paired while a request since the gap is outstanding")
	}
	g.Unanswered(t0.Add(5 * time.Second))
	g.Unanswered(t0.Add(5 * time.Second))
	if g.Request(false) {
		t.Fatal("paired while the server is busy")
	}
	// The response that revealed the gap (same packet) counts as after it.
	var h PairGuard
	h.Unanswered(t0)
	h.RequestGap(t0)
	if !h.Request(true) {
		t.Fatal("response in the revealing packet not counted")
	}
}

func TestResyncScanLines(t *testing.T) {
	var r Resync
	var st ResyncStats
	r.Lost()
	feedLines := func(chunks ...string) int {
		var buf []byte
		off := 0
		for _, c := range chunks {
			buf = append(buf, c...)
			for len(buf) > 0 {
				skip, found := r.ScanLines(FromClient, buf, msgProbe, &st)
				off += skip
				buf = buf[skip:]
				if found {
					return off
				}
				if skip == 0 {
					break
				}
			}
		}
		return -1
	}
	// Inside a line MSG: is not a start; after a newline (even one that
	// ended the previous segment) it is.
	if got := feedLines("xx MSG: yy\n", "MSG:"); got != 11 {
		t.Fatalf("found at %d, want 11", got)
	}
	r.Lost()
	if got := feedLines("MSG:"); got != 0 {
		t.Fatalf("right after the gap: %d", got)
	}
	r.Lost()
	if got := feedLines("a MS", "G: b\nMSG:"); got != 9 {
		t.Fatalf("found at %d, want 9", got)
	}
}

// FuzzResyncScan: wherever the bytes are split into segments, the scan
// finds the same offset as over the whole, never skips past a start the
// probe accepts, and stays within its bounds.
func FuzzResyncScan(f *testing.F) {
	f.Add([]byte("xxMSG:yy"), uint16(3))
	f.Add([]byte("MSMSG:"), uint16(2))
	f.Add([]byte("M"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		var r1, r2 Resync
		var st ResyncStats
		r1.Lost()
		r2.Lost()
		whole := feed(&r1, &st, msgProbe, data)
		parts := feed(&r2, &st, msgProbe, data[:cut], data[cut:])
		if whole != parts {
			t.Fatalf("whole %d, split at %d: %d", whole, cut, parts)
		}
		want := bytes.Index(data, []byte("MSG:"))
		if whole != want {
			t.Fatalf("found %d, first start at %d", whole, want)
		}
	})
}
