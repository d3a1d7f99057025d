package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lumberlog "github.com/elastic/go-lumber/log"
	lumberserver "github.com/elastic/go-lumber/server/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

type quietLumber struct{}

func (quietLumber) Printf(string, ...any) {}
func (quietLumber) Println(...any)        {}
func (quietLumber) Print(...any)          {}

// replayLoops makes the sample capture long enough (about 5,700
// documents) for an outage in the middle of the replay.
const replayLoops = "500"

const streamsYAML = `
id: standalone
type: packet
streams:
  - {id: dns, type: dns}
  - {id: http, type: http}
  - {id: icmp, type: icmp}
  - {id: flow, type: flow}
`

// canonical re-encodes a document so that documents compare as values.
func canonical(t *testing.T, m map[string]any) string {
	delete(m, "@metadata")
	// One per process run: a replayed document resent by a second run
	// (the disk queue after a restart) is the same document.
	if a, ok := m["agent"].(map[string]any); ok {
		delete(a, "ephemeral_id")
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reference runs the replay to NDJSON: the documents every output must
// deliver, each exactly as often.
func reference(t *testing.T) map[string]int {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "ref.yml")
	os.WriteFile(cfg, []byte(streamsYAML), 0o644)
	docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t", "-l", replayLoops)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[canonical(t, d)]++
	}
	if len(docs) < 3000 {
		t.Fatalf("only %d reference documents", len(docs))
	}
	return out
}

func sameDocs(t *testing.T, got, want map[string]int) {
	t.Helper()
	var diffs []string
	for k, n := range want {
		if got[k] != n {
			diffs = append(diffs, fmt.Sprintf("%d times instead of %d: %.120s", got[k], n, k))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected (%d): %.120s", n, k))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d documents differ from the NDJSON run, e.g.:\n%s", len(diffs), strings.Join(diffs[:min(5, len(diffs))], "\n"))
	}
}

// standalone runs the binary on the replay with an `output:` section, cuts
// the proxy in front of the server for 2s once received() passes 500, and
// returns stderr.
func standalone(t *testing.T, outputYAML string, px *outtest.Proxy, received func() int) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte(streamsYAML+outputYAML), 0o644)
	var so, se bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", cfg, "-I", samplePcap, "-t", "-l", replayLoops}, &so, &se) }()
	deadline := time.Now().Add(30 * time.Second)
	for received() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("server received %d documents", received())
		}
		time.Sleep(time.Millisecond)
	}
	px.Cut()
	atCut := received()
	time.Sleep(2 * time.Second)
	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, se.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not finish after the output came back")
	}
	px.Cut()
	if so.Len() > 0 {
		t.Errorf("documents on stdout with an output section: %.200s", so.String())
	}
	t.Logf("cut after %d documents; %s", atCut, strings.TrimSpace(se.String()[strings.Index(se.String(), "  output"):]))
	return se.String()
}

func TestConfigOutputLogstashThroughCut(t *testing.T) {
	want := reference(t)
	lumberlog.Logger = quietLumber{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := lumberserver.NewWithListener(ln)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	ids := map[string]int{}
	total := 0
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
			mu.Unlock()
			b.ACK()
		}
	}()
	defer srv.Close()
	px, err := outtest.NewProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	stderr := standalone(t, fmt.Sprintf(`
output:
  type: logstash
  hosts: [%q]
  bulk_max_size: 100
  timeout: 1s
  backoff: {init: 50ms, max: 200ms}
`, px.Addr), px, func() int { mu.Lock(); defer mu.Unlock(); return total })
	mu.Lock()
	defer mu.Unlock()
	// A window on the wire at the cut may arrive twice (lumberjack is at
	// least once; @metadata._id lets Logstash dedupe). Count those apart.
	var n int
	for _, c := range want {
		n += c
	}
	extra := total - n
	if extra < 0 || extra > 300 || len(ids) != n {
		t.Fatalf("%d documents received for %d, %d distinct @metadata._id", total, n, len(ids))
	}
	if extra > 0 {
		t.Logf("%d documents resent after the cut (same @metadata._id)", extra)
		for k := range got {
			if got[k] > want[k] {
				got[k] = want[k]
			}
		}
	}
	sameDocs(t, got, want)
	if !strings.Contains(stderr, fmt.Sprintf("output logstash: %d documents acknowledged, 0 failed", n)) {
		t.Errorf("summary: %s", stderr)
	}
}

func TestConfigOutputRedisThroughCut(t *testing.T) {
	want := reference(t)
	addr := outtest.StartRedis(t, 0)
	px, err := outtest.NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	ctx := context.Background()
	keys := []string{"nt-dns", "nt-http", "nt-icmp", "nt-flow"}
	received := func() int {
		n := 0
		for _, k := range keys {
			c, _ := rc.LLen(ctx, k).Result()
			n += int(c)
		}
		return n
	}
	stderr := standalone(t, fmt.Sprintf(`
output:
  type: redis
  hosts: [%q]
  key: "nt-%%{[network.protocol]}"
  keys:
    - key: nt-flow
      when: {equals: {type: flow}}
  bulk_max_size: 100
  timeout: 1s
  backoff: {init: 50ms, max: 200ms}
`, px.Addr), px, received)
	got := map[string]int{}
	n := 0
	for _, k := range keys {
		list, err := rc.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil {
				t.Fatal(err)
			}
			if typ := m["type"]; k != "nt-flow" && k != "nt-"+fmt.Sprint(get(m, "network.protocol")) || k == "nt-flow" && typ != "flow" {
				t.Fatalf("document of type %v in %s", typ, k)
			}
			got[canonical(t, m)]++
			n++
		}
	}
	sameDocs(t, got, want) // exactly once: no resent chunk written twice
	if !strings.Contains(stderr, fmt.Sprintf("output redis: %d documents acknowledged, 0 failed", n)) {
		t.Errorf("summary: %s", stderr)
	}
}

func TestConfigOutputErrors(t *testing.T) {
	dir := t.TempDir()
	for want, section := range map[string]string{
		"config: output: unknown logstash output setting pipelining_mode": "output: {type: logstash, hosts: [a], pipelining_mode: x}",
		"config: output: unknown output type \"carrier-pigeon\"":          "output: {type: carrier-pigeon}",
		"config: output must be a map":                                    "output: logstash",
	} {
		cfg := filepath.Join(dir, "c.yml")
		os.WriteFile(cfg, []byte(streamsYAML+section+"\n"), 0o644)
		var so, se bytes.Buffer
		if code := run([]string{"-c", cfg, "-I", samplePcap, "-t"}, &so, &se); code == 0 || !strings.Contains(se.String(), want) {
			t.Errorf("%s: exit %d, stderr %q", section, code, se.String())
		}
	}
	// -o still wins over the section: the shortcut.
	cfg := filepath.Join(dir, "c.yml")
	os.WriteFile(cfg, []byte(streamsYAML+"output: {type: redis, hosts: [\"127.0.0.1:1\"]}\n"), 0o644)
	docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t")
	plain := filepath.Join(dir, "plain.yml")
	os.WriteFile(plain, []byte(streamsYAML), 0o644)
	ref, _, _ := runCLI(t, "-c", plain, "-I", samplePcap, "-t")
	if code != 0 || len(docs) != len(ref) || len(ref) == 0 {
		t.Errorf("with -o: exit %d, %d documents (%d without the section): %s", code, len(docs), len(ref), stderr)
	}
}

// TestSignalAbandonsUnacknowledged: with the output down, a run over a
// file waits for it after the capture ends; a signal then gives up, and
// the summary says nothing was acknowledged.
func TestSignalAbandonsUnacknowledged(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yml")
	down := fmt.Sprintf("127.0.0.1:%d", outtest.FreePort(t))
	os.WriteFile(cfg, []byte(streamsYAML+fmt.Sprintf("output: {type: redis, hosts: [%q], backoff: {init: 50ms, max: 100ms}}\n", down)), 0o644)
	var so, se bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"-c", cfg, "-I", samplePcap, "-t"}, &so, &se) }()
	select {
	case code := <-done:
		t.Fatalf("returned %d with the output down: %s", code, se.String())
	case <-time.After(1500 * time.Millisecond):
	}
	// Until it returns: on a loaded machine the first signal may still
	// find the capture running (it then stops the capture, as Ctrl-C does).
	deadline := time.After(10 * time.Second)
wait:
	for {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		select {
		case <-done:
			break wait
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("still waiting after the signals")
		}
	}
	if !strings.Contains(se.String(), "output redis: 0 documents acknowledged") || !strings.Contains(se.String(), "rpush on "+down) {
		t.Errorf("summary: %s", se.String())
	}
}
