package mysql

import (
	"slices"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func gapSummaries(t *testing.T, name string) ([]string, *Protocol) {
	docs, p := replay(t, name, nil)
	return protocoltest.Summaries(docs, "%v -> %v rows=%v affected=%v err=%v", "query", "status",
		"mysql.num_rows", "mysql.affected_rows", "error.message"), p
}

// TestGapsResync: cli.pcap (real MariaDB, mariadb client) and cli-gaps.pcap,
// the same without the segment of one COM_QUERY (client side) and without
// the result set of another (server side), by _dev/capture/resync/mysql.sh.
// Every other command keeps its own response; the lost command's response
// pairs with nothing (not with the next command), and the command whose
// result set was lost is published alone with a loss note.
func TestGapsResync(t *testing.T) {
	full, _ := gapSummaries(t, "cli.pcap")
	gapped, p := gapSummaries(t, "cli-gaps.pcap")
	lost, changed := protocoltest.GapDiff(full, gapped)
	// Client side: CREATE TABLE stock is gone; its OK pairs with nothing
	// and the INSERT after it keeps its own. Server side: the JOIN's
	// result set is gone; the SELECT COUNT(*) sent with the ACK that
	// revealed it is published alone too (its response came while the
	// server side was still unsynchronised), and the UPDATE after it pairs
	// with its own response.
	wantLost := []string{
		"CREATE TABLE stock (item_id INT, qty INT) -> OK rows=0 affected=0 err=<nil>",
		"SELECT COUNT(*) AS n FROM items -> OK rows=1 affected=0 err=<nil>",
		"SELECT i.name, s.qty FROM items i JOIN stock s ON s.item_id = i.id -> OK rows=2 affected=0 err=<nil>",
	}
	wantChanged := []string{
		"SELECT COUNT(*) AS n FROM items -> Error rows=<nil> affected=<nil> err=Unmatched request: no response seen",
		"SELECT i.name, s.qty FROM items i JOIN stock s ON s.item_id = i.id -> Error rows=<nil> affected=<nil> err=[Packet loss while capturing the response Unmatched request: no response seen]",
	}
	if !slices.Equal(lost, wantLost) || !slices.Equal(changed, wantChanged) {
		t.Errorf("lost %q\nwant %q\nchanged %q\nwant %q", lost, wantLost, changed, wantChanged)
	}
	if n := p.stats.UnmatchedResponses.Load(); n == 0 {
		t.Error("the lost command's response was not counted unmatched")
	}
	if n := p.stats.Resync.Resynced.Load(); n != 1 {
		t.Errorf("resynced %d", n)
	}
}
