package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/internal/pcapcraft"
)

var craftT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func craft(t *testing.T, name string, fill func(w *pcapcraft.Writer) error) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	w, err := pcapcraft.Create(p, craftT0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// statsRun runs the binary's main path on a pcap and returns its documents,
// the -stats-json counters and stderr.
func statsRun(t *testing.T, args ...string) ([]map[string]any, capture.Stats, string) {
	t.Helper()
	sj := filepath.Join(t.TempDir(), "stats.json")
	docs, stderr, code := runCLI(t, append(args, "-t", "-stats-json", sj)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(sj)
	if err != nil {
		t.Fatal(err)
	}
	var st capture.Stats
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return docs, st, stderr
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// Two packets: a SYN and a segment exactly 2^31 past the expected sequence
// number used to panic the reassembler and kill the process.
func TestSegmentHalfSequenceSpaceAwayDoesNotCrash(t *testing.T) {
	cli, srv := ap("10.1.0.1:40000"), ap("10.1.0.2:80")
	p := craft(t, "seq.pcap", func(w *pcapcraft.Writer) error {
		if err := w.TCP(cli, srv, 1000, 0, pcapcraft.SYN, nil); err != nil {
			return err
		}
		first := []byte("GET / HTTP/1.1\r\n\r\n")
		if err := w.TCP(cli, srv, 1001, 0, pcapcraft.ACK, first); err != nil {
			return err
		}
		next := 1001 + uint32(len(first))
		return w.TCP(cli, srv, next+1<<31, 0, pcapcraft.ACK, []byte("GET /evil HTTP/1.1\r\n\r\n"))
	})
	docs, _, _ := statsRun(t, "-I", p)
	if len(byType(docs)["http"]) != 1 {
		t.Errorf("want the one real request as an http event, got %d", len(byType(docs)["http"]))
	}
}

// 30,000 pipelined redis commands that are never answered: the default
// queue_max_messages (20,000) drops the oldest, and every command is either
// an event or a counted drop in the table, in the summary too.
func TestRedisQueueDropsAreCounted(t *testing.T) {
	const n = 30000
	p := craft(t, "redis.pcap", func(w *pcapcraft.Writer) error {
		c, err := w.Open(ap("10.1.0.1:40001"), ap("10.1.0.2:6379"), 100, 9000)
		if err != nil {
			return err
		}
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "*2\r\n$3\r\nGET\r\n$6\r\nk%05d\r\n", i)
		}
		if err := c.Send(true, []byte(b.String())); err != nil {
			return err
		}
		return c.Close()
	})
	docs, st, stderr := statsRun(t, "-I", p)
	events := len(byType(docs)["redis"])
	dropped := capture.DropsOf(st.Dropped, "redis", "queue_limit")
	if dropped == 0 || events+int(dropped) != n {
		t.Errorf("%d events + %d dropped by queue_limit, want %d in all; table %+v", events, dropped, n, st.Dropped)
	}
	if !strings.Contains(stderr, "queue_limit") {
		t.Errorf("summary does not show the drops:\n%s", stderr)
	}
}

// A header block that never ends: no event can be made, and the table says
// why instead of showing nothing at all.
func TestEndlessHTTPHeaderIsCounted(t *testing.T) {
	p := craft(t, "hdr.pcap", func(w *pcapcraft.Writer) error {
		c, err := w.Open(ap("10.1.0.1:40002"), ap("10.1.0.2:80"), 100, 9000)
		if err != nil {
			return err
		}
		hdr := "GET / HTTP/1.1\r\nHost: example\r\n" + strings.Repeat("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 4000)
		if err := c.Send(true, []byte(hdr)); err != nil {
			return err
		}
		return c.Close()
	})
	docs, st, _ := statsRun(t, "-I", p)
	var lost uint64
	for _, r := range st.Dropped {
		if r.Layer == "http" || (r.Layer == "tcp" && r.Reason == "message_over_max_size") {
			lost += r.Count
		}
	}
	if len(byType(docs)["http"]) != 0 || lost == 0 {
		t.Errorf("%d http events, drop table %+v: the endless header must be counted", len(byType(docs)["http"]), st.Dropped)
	}
}

// DNS queries beyond the pending table are published early (one-sided) and
// the table says how many.
func TestDNSEvictionIsCounted(t *testing.T) {
	const n = 66000 // the pending table holds 65,536
	p := craft(t, "dns.pcap", func(w *pcapcraft.Writer) error {
		q := []byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
		for i := range n {
			q[0], q[1] = byte(i>>8), byte(i)
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 16), byte(i >> 8)}), uint16(1024+i%60000))
			if err := w.UDP(src, ap("10.9.9.9:53"), q); err != nil {
				return err
			}
		}
		return nil
	})
	// Counted from the NDJSON text: decoding 130,000 documents into maps
	// would take most of the test's time.
	//
	// The pending table's 65,536 are per capture: with N shards each holds
	// 1/N. With one shard exactly the queries past the table's size are
	// published early; with more, at least as many (a shard that got more
	// than its share of the queries evicts before the capture as a whole is
	// full), and every query is still published once.
	for _, workers := range []string{"1", "2", "4", ""} {
		args := []string{"-I", p, "-t"}
		if workers != "" {
			args = append(args, "-workers", workers)
		}
		out := filepath.Join(t.TempDir(), "out.ndjson")
		sj := filepath.Join(t.TempDir(), "stats.json")
		var so, se strings.Builder
		if code := run(append(args, "-o", out, "-stats-json", sj), &so, &se); code != 0 {
			t.Fatalf("exit %d: %s", code, se.String())
		}
		raw, _ := os.ReadFile(out)
		var st capture.Stats
		sraw, _ := os.ReadFile(sj)
		if err := json.Unmarshal(sraw, &st); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(raw), `"type":"dns"`); got != n {
			t.Errorf("workers %q: %d dns events for %d unanswered queries", workers, got, n)
		}
		t.Logf("workers %q (%d shards): drop table: %+v", workers, st.Shards, st.Dropped)
		early := capture.DropsOf(st.Dropped, "dns", "published_early_table_full")
		switch {
		case st.Shards == 1 && early != n-65536:
			t.Errorf("one shard: %d published early, want the %d past the table", early, n-65536)
		case early < n-65536:
			t.Errorf("%d shards: %d published early, fewer than the %d past the capture's table", st.Shards, early, n-65536)
		}
		if workers == "" && st.Shards != min(runtime.GOMAXPROCS(0), 4) {
			t.Errorf("default: %d shards, want the usable CPUs (%d) capped at 4", st.Shards, runtime.GOMAXPROCS(0))
		}
	}
}

// HTTP/2 negotiated inside TLS (ALPN h2) cannot be decoded: the drop table
// says how many connections went unseen.
func TestHTTP2InTLSCounted(t *testing.T) {
	_, st, stderr := statsRun(t, "-I", "../../_dev/pcaps/tls/tls12.pcap")
	if n := capture.DropsOf(st.Dropped, "tls", "http2_in_tls_not_decoded"); n != 2 {
		t.Errorf("%d HTTP/2-in-TLS connections counted, tls12.pcap has 2; table %+v", n, st.Dropped)
	}
	if !strings.Contains(stderr, "http2_in_tls_not_decoded") {
		t.Errorf("summary does not show them:\n%s", stderr)
	}
}

// The capture-loss estimate of a real capture with acknowledged segments
// deleted (_dev/capture/gapped.sh: 737 of its 3747 payload bytes) is in
// -stats-json and in the exit summary.
func TestCaptureLossInSummaryAndStats(t *testing.T) {
	_, st, stderr := statsRun(t, "-I", "../../_dev/pcaps/tcp/amqp-gapped.pcap")
	l := st.CaptureLoss
	if l.UnseenBytes != 737 || l.AckedBytes != 3747 || l.GapEvents != 11 {
		t.Errorf("capture_loss %+v", l)
	}
	if want := "capture loss: 19.669% (737 of 3747 acknowledged bytes never seen; 11 of 69 ACKs covered unseen data)"; !strings.Contains(stderr, want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr)
	}
}

// With 2 workers, each shard's queue is in -stats-json and the summary.
func TestShardQueuesInSummaryAndStats(t *testing.T) {
	_, st, stderr := statsRun(t, "-I", "../../_dev/pcaps/tcp/amqp-gapped.pcap", "-workers", "2")
	if len(st.ShardQueues) != 2 || st.Shards != 2 {
		t.Fatalf("shards %d, queues %+v", st.Shards, st.ShardQueues)
	}
	for i, q := range st.ShardQueues {
		if q.Shard != i || q.Frames != 0 || q.Batches != 0 || q.Capacity != 4 || q.Capture != "file:../../_dev/pcaps/tcp/amqp-gapped.pcap" {
			t.Errorf("queue %d: %+v", i, q)
		}
	}
	// One address pair: every frame on one shard, which saw at least one batch.
	if st.ShardQueues[0].MaxBatches+st.ShardQueues[1].MaxBatches == 0 {
		t.Errorf("no batch ever queued: %+v", st.ShardQueues)
	}
	if !strings.Contains(stderr, "shards: 2, 0 frames dropped for stopped shards") {
		t.Errorf("summary:\n%s", stderr)
	}
}
