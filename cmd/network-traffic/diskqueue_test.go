package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lumberlog "github.com/elastic/go-lumber/log"
	lumberserver "github.com/elastic/go-lumber/server/v2"
)

// emptyPcap is a capture file with no packets: a run over it only
// delivers what a queue.disk holds from before.
func emptyPcap(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "empty.pcap")
	hdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if err := os.WriteFile(p, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDiskQueueSurvivesSIGKILL: a real lumberjack server stops
// acknowledging after 300 documents; the capture finishes into queue.disk
// and the process is killed with SIGKILL while the output waits for an
// acknowledgement. A second run over an empty capture, same queue path,
// delivers every document of the replay (compared as values with an NDJSON
// run); documents the server had received but not acknowledged arrive
// twice, with the same @metadata._id, and are counted.
func TestDiskQueueSurvivesSIGKILL(t *testing.T) {
	want := reference(t)
	n := 0
	for _, c := range want {
		n += c
	}
	lumberlog.Logger = quietLumber{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lumberserver.NewWithListener(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	got := map[string]int{}
	ids := map[string]int{}
	total, acked := 0, 0
	stall := true
	go func() {
		for b := range srv.ReceiveChan() {
			mu.Lock()
			for _, e := range b.Events {
				m := e.(map[string]any)
				id, _ := m["@metadata"].(map[string]any)["_id"].(string)
				ids[id]++
				got[canonical(t, m)]++
				total++
			}
			ack := !stall || total < 300
			if ack {
				acked = total
			}
			mu.Unlock()
			if ack {
				b.ACK()
			}
		}
	}()
	dir := filepath.Join(t.TempDir(), "queue")
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte(streamsYAML+fmt.Sprintf(`
output:
  type: logstash
  hosts: [%q]
  bulk_max_size: 100
  timeout: 30s
  backoff: {init: 50ms, max: 200ms}
queue:
  disk:
    path: %s
    max_size: 64MiB
    segment_size: 256KiB
`, ln.Addr().String(), dir)), 0o644)

	cmd, se := startMain(t, "-e", "-c", cfg, "-I", samplePcap, "-t", "-l", replayLoops)
	deadline := time.Now().Add(30 * time.Second)
	for !bytes.Contains(se.Bytes(), []byte("capture finished")) {
		if time.Now().After(deadline) {
			t.Fatalf("capture not finished; stderr:\n%s", se)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	mu.Lock()
	atKill, ackedAtKill := total, acked
	stall = false
	mu.Unlock()
	if atKill >= n {
		t.Fatalf("the server had all %d documents before the kill: the test proves nothing", atKill)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	t.Logf("killed with %d documents received, %d acknowledged, %d segment files", atKill, ackedAtKill, len(segs))

	var so, se2 bytes.Buffer
	code := run([]string{"-c", cfg, "-I", emptyPcap(t)}, &so, &se2)
	if code != 0 {
		t.Fatalf("restart exit %d: %s", code, se2.String())
	}
	mu.Lock()
	defer mu.Unlock()
	missing, dups := 0, 0
	for k, c := range want {
		if got[k] < c {
			missing += c - got[k]
		}
	}
	for k, c := range got {
		if c > want[k] {
			dups += c - want[k]
		}
	}
	if missing > 0 || len(ids) != n {
		t.Fatalf("%d documents lost of %d (%d distinct @metadata._id, %d received)", missing, n, len(ids), total)
	}
	if dups != total-n {
		t.Errorf("%d duplicates by value, %d by count", dups, total-n)
	}
	t.Logf("every one of %d documents arrived; %d duplicates (received but not acknowledged before the kill, same _id)", n, dups)
	m := regexp.MustCompile(`queue.disk: all (\d+) documents acknowledged`).FindStringSubmatch(se2.String())
	if m == nil || !strings.Contains(se2.String(), "recovered from a previous run") {
		t.Errorf("restart summary: %s", se2.String())
	}
	if m != nil && m[1] != fmt.Sprint(n-ackedAtKill) {
		t.Logf("restart resent %s documents (%d not acknowledged at the kill)", m[1], n-ackedAtKill)
	}
}

// A queue section is checked like every option: a misspelt setting is an
// error naming it; queue.mem settings run.
func TestQueueSection(t *testing.T) {
	bad := writeTemp(t, streamsYAML+"queue:\n  disk: {pathh: /tmp/x}\n")
	_, stderr, code := runCLI(t, "-c", bad, "-I", samplePcap, "-t")
	if code != 1 || !strings.Contains(stderr, "queue.disk.pathh: unknown setting") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	mem := writeTemp(t, streamsYAML+"queue:\n  mem: {events: 64, flush.min_events: 8, flush.timeout: 10ms}\n")
	docs, stderr, code := runCLI(t, "-c", mem, "-I", samplePcap, "-t", "-l", "20")
	if code != 0 || len(docs) < 200 {
		t.Errorf("exit %d, %d documents: %s", code, len(docs), stderr)
	}
}
