package pgsql

import (
	"slices"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	inst, col := protocoltest.New(t, "pgsql", map[string]any{})
	protocoltest.Replay(t, pcapDir+"/"+name, inst)
	return protocoltest.Summaries(col.Docs, "%v -> rows=%v fields=%v err=%v status=%v", "query", "pgsql.num_rows",
		"pgsql.num_fields", "error.message", "status"), inst.TCP.(*Protocol)
}

// TestGapsResync: psql.pcap (real PostgreSQL 15, psql) and psql-gaps.pcap,
// the same without the segment of one Query (client-side gap) and without
// the ErrorResponse of another (server-side gap), made by
// _dev/capture/resync/pgsql.sh. Every other statement keeps its own result;
// the lost Query leaves no trace but an unpaired result, and the one whose
// error was lost is published alone at the next ReadyForQuery, found by
// scanning.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "psql.pcap")
	gapped, p := gapSummaries(t, "psql-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	if len(lost) != 2 || len(changed) != 1 {
		t.Fatalf("lost %q\nchanged %q", lost, changed)
	}
	var errored string
	for _, s := range lost {
		if strings.Contains(s, "status=Error") {
			errored = s
		}
	}
	q := errored[:strings.Index(errored, " -> ")]
	if want := q + " -> rows=<nil> fields=<nil> err=[Packet loss while capturing the response Unmatched request] status=Error"; changed[0] != want {
		t.Errorf("statement whose error was lost: %q, want %q", changed[0], want)
	}
	if rs := &p.stats.Resync; rs.Resynced.Load() != 2 || rs.BudgetExceed.Load() != 0 {
		t.Errorf("resynced %d, over budget %d", rs.Resynced.Load(), rs.BudgetExceed.Load())
	}
	// Both gaps ended at message boundaries: nothing had to be skipped.
	if slices.ContainsFunc(p.Drops(), func(d protocol.Drop) bool { return d.Reason == "resync_skipped_bytes" }) {
		t.Errorf("drops %v", p.Drops())
	}
}
