package redis

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/redis"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *protocol.Instance) {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "redis", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst
}

// expect compares fields by dotted path; numbers are compared as their
// JSON form, nil means absent.
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, protocoltest.Get(doc, "query"))
}

func find(t *testing.T, docs []map[string]any, query string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if protocoltest.Get(d, "query") == query {
			return d
		}
	}
	t.Fatalf("no event with query %q", query)
	return nil
}

func TestCLICapture(t *testing.T) {
	docs, inst := replay(t, "cli.pcap", nil)
	if len(docs) != 23 {
		t.Fatalf("%d events, want 23", len(docs))
	}
	// Packetbeat's own sample (set key3 me: 31 bytes out, "+OK\r\n" back).
	expect(t, find(t, docs, "set key3 me"), map[string]any{
		"type": "redis", "method": "SET", "resource": "key3", "status": "OK",
		"redis.return_value": "OK", "redis.error": nil, "source.bytes": 31, "destination.bytes": 5,
		"client.bytes": 31, "server.port": 6379, "event.action": "redis.set", "network.protocol": "redis",
		"network.transport": "tcp", "event.category": "[network]", "event.type": "[connection protocol]",
	})
	expect(t, find(t, docs, "get nosuchkey"), map[string]any{"redis.return_value": "nil", "status": "OK", "destination.bytes": 5})
	expect(t, find(t, docs, "incr counter"), map[string]any{"redis.return_value": "1", "method": "INCR"})
	expect(t, find(t, docs, "lrange mylist 0 -1"), map[string]any{"redis.return_value": "[c, b, a]", "resource": "mylist"})
	expect(t, find(t, docs, "incr mylist"), map[string]any{
		"status": "Error", "redis.return_value": nil,
		"redis.error": "WRONGTYPE Operation against a key holding the wrong kind of value",
	})
	expect(t, find(t, docs, "nosuchcommand x"), map[string]any{"status": "Error", "method": "NOSUCHCOMMAND", "resource": "x"})
	expect(t, find(t, docs, "hgetall user:1"), map[string]any{"redis.return_value": "[name, alice, age, 30]"})
	expect(t, find(t, docs, "config get maxmemory"), map[string]any{
		"method": "CONFIG GET", "resource": "maxmemory", "redis.return_value": "[maxmemory, 0]", "event.action": "redis.config get"})
	// MULTI/EXEC: every queued command is answered QUEUED, EXEC with the results.
	expect(t, find(t, docs, "multi"), map[string]any{"redis.return_value": "OK"})
	expect(t, find(t, docs, "set tx1 v1"), map[string]any{"redis.return_value": "QUEUED"})
	expect(t, find(t, docs, "exec"), map[string]any{"redis.return_value": "[OK, 1]"})
	expect(t, find(t, docs, "del tx1 tx2"), map[string]any{"redis.return_value": "2", "resource": "tx1"})

	// The 200 000-byte value: counted whole, rendered up to the bound.
	var set, getBig map[string]any
	for _, d := range docs {
		switch protocoltest.Get(d, "resource") {
		case "big":
			if protocoltest.Get(d, "method") == "SET" {
				set = d
			} else if protocoltest.Get(d, "method") == "GET" {
				getBig = d
			}
		}
	}
	// *3 $3 set $3 big $200000 <value>: 4+9+9+10+200000+2 bytes.
	expect(t, set, map[string]any{"source.bytes": 200034 - 1, "redis.return_value": "OK"})
	// query and return_value are keywords: clipped to what is indexed.
	if q := protocoltest.Get(set, "query").(string); len(q) != maxFieldBytes || !strings.HasPrefix(q, "set big vvv") {
		t.Errorf("big SET query: %d bytes %.20q", len(q), q)
	}
	expect(t, getBig, map[string]any{"destination.bytes": 200000 + 11})
	if v := protocoltest.Get(getBig, "redis.return_value").(string); len(v) != maxFieldBytes || strings.Trim(v, "v") != "" {
		t.Errorf("big GET value: %d bytes", len(v))
	}
	// request/response (text fields) carry up to maxTextBytes.
	raw, _ := replay(t, "cli.pcap", map[string]any{"send_request": true, "send_response": true})
	for _, d := range raw {
		if protocoltest.Get(d, "resource") == "big" && protocoltest.Get(d, "method") == "SET" {
			if r := protocoltest.Get(d, "request").(string); len(r) != maxTextBytes || !strings.HasPrefix(r, protocoltest.Get(d, "query").(string)) {
				t.Errorf("big SET request: %d bytes", len(r))
			}
		}
		if protocoltest.Get(d, "resource") == "big" && protocoltest.Get(d, "method") == "GET" {
			if r := protocoltest.Get(d, "response").(string); len(r) != maxTextBytes {
				t.Errorf("big GET response: %d bytes", len(r))
			}
		}
		if protocoltest.Get(d, "query") == "set key3 me" && (protocoltest.Get(d, "request") != "set key3 me" || protocoltest.Get(d, "response") != "OK") {
			t.Errorf("send_request/send_response: %v / %v", protocoltest.Get(d, "request"), protocoltest.Get(d, "response"))
		}
	}
	s := inst.TCP.(*Protocol).Stats()
	if s.Truncated.Load() != 4 || s.ParseErrors.Load() != 0 || s.UnmatchedResponses.Load() != 0 {
		t.Errorf("stats: truncated %d (want 4: big SET, GET, two COMMAND DOCS) parse errors %d unmatched responses %d", s.Truncated.Load(), s.ParseErrors.Load(), s.UnmatchedResponses.Load())
	}
	crossCheck(t, "cli.pcap", docs)
}

func TestPipelineCapture(t *testing.T) {
	docs, _ := replay(t, "pipeline.pcap", nil)
	var got []string
	for _, d := range docs[:7] {
		got = append(got, fmt.Sprintf("%v=%v%v", protocoltest.Get(d, "query"), protocoltest.Get(d, "redis.return_value"), protocoltest.Get(d, "redis.error")))
	}
	want := "SET p1 one=OK<nil> GET p1=one<nil> INCR p1=<nil>ERR value is not an integer or out of range " +
		"RPUSH pl x y=2<nil> LRANGE pl 0 -1=[x, y]<nil> PING=PONG<nil> GET p1=one<nil>"
	if strings.Join(got, " ") != want {
		t.Errorf("pipelined batch:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// Inline commands: the bytes are the line's ("PING\r\n", "GET p1\r\n").
	expect(t, docs[5], map[string]any{"source.bytes": 6, "method": "PING"})
	expect(t, docs[6], map[string]any{"source.bytes": 8, "resource": "p1"})
	// redis-cli --pipe: 20 SETs and its ECHO marker, one connection.
	if len(docs) != 7+21 {
		t.Fatalf("%d events, want 28", len(docs))
	}
	for i, d := range docs[7:27] {
		expect(t, d, map[string]any{"method": "SET", "resource": fmt.Sprintf("k%03d", i+1), "redis.return_value": "OK"})
	}
	expect(t, docs[27], map[string]any{"method": "ECHO"})
	if protocoltest.Get(docs[27], "resource") != protocoltest.Get(docs[27], "redis.return_value") {
		t.Errorf("ECHO marker not echoed")
	}
	crossCheck(t, "pipeline.pcap", docs)
}

func TestRESP3Capture(t *testing.T) {
	docs, _ := replay(t, "resp3.pcap", map[string]any{"send_response": true})
	if len(docs) != 11 {
		t.Fatalf("%d events, want 11", len(docs))
	}
	expect(t, docs[0], map[string]any{"method": "HELLO", "resource": "3",
		"redis.return_value": "{server: redis, version: 7.0.15, proto: 3, id: 15, mode: standalone, role: master, modules: []}"})
	// COMMAND DOCS: a ~170 KB map nested 7 deep over many segments.
	expect(t, docs[1], map[string]any{"method": "COMMAND DOCS", "status": "OK"})
	if v := protocoltest.Get(docs[1], "response").(string); len(v) != maxTextBytes || !strings.HasPrefix(v, protocoltest.Get(docs[1], "redis.return_value").(string)) {
		t.Errorf("COMMAND DOCS: %d bytes %.30q", len(v), v)
	}
	expect(t, find(t, docs, "hgetall h3"), map[string]any{"redis.return_value": "{f1: v1, f2: v2}"})
	expect(t, find(t, docs, "smembers s3"), map[string]any{"redis.return_value": "[m1]"})
	expect(t, find(t, docs, "get nosuch3"), map[string]any{"redis.return_value": "nil", "destination.bytes": 3}) // "_\r\n"
	expect(t, find(t, docs, "zscore z3 a"), map[string]any{"redis.return_value": "1.5", "destination.bytes": 6})
	expect(t, find(t, docs, "incr h3"), map[string]any{"status": "Error", "redis.error": "WRONGTYPE Operation against a key holding the wrong kind of value"})
	crossCheck(t, "resp3.pcap", docs)
}

func TestPubSubCapture(t *testing.T) {
	docs, inst := replay(t, "pubsub.pcap", nil)
	var sub []string
	for _, d := range docs {
		if protocoltest.Get(d, "method") != "PUBLISH" {
			sub = append(sub, fmt.Sprintf("%v=%v", protocoltest.Get(d, "query"), protocoltest.Get(d, "redis.return_value")))
		}
	}
	// RESP2 then RESP3: per command exactly its own reply, whatever the
	// pushes (3 messages, the extra "sport" and "news" confirmations)
	// interleaved.
	want := []string{
		"SUBSCRIBE news sport=[subscribe, news, 1]", "PSUBSCRIBE log.*=[psubscribe, log.*, 3]",
		"PING=[pong, ]", "UNSUBSCRIBE=[unsubscribe, sport, 2]", "PUNSUBSCRIBE=[punsubscribe, log.*, 0]", "GET news=nil",
	}
	want3 := append([]string{"HELLO 3=" + fmt.Sprint(protocoltest.Get(docs[9], "redis.return_value"))}, want...)
	want3[3] = "PING=PONG" // RESP3 allows plain replies in subscribed mode
	want = append(want, want3...)
	if strings.Join(sub, "\n") != strings.Join(want, "\n") {
		t.Errorf("subscriber transactions:\n%s\nwant\n%s", strings.Join(sub, "\n"), strings.Join(want, "\n"))
	}
	if n := len(docs) - len(sub); n != 6 {
		t.Errorf("%d PUBLISH events, want 6", n)
	}
	s := inst.TCP.(*Protocol).Stats()
	// Per protocol: 3 messages + 1 extra subscribe + 1 extra unsubscribe.
	if s.Pushes.Load() != 10 || s.UnmatchedResponses.Load() != 0 || s.UnmatchedRequests.Load() != 0 {
		t.Errorf("pushes %d unmatched responses %d requests %d", s.Pushes.Load(), s.UnmatchedResponses.Load(), s.UnmatchedRequests.Load())
	}
	crossCheck(t, "pubsub.pcap", docs)
}

func TestBenchmarkCapture(t *testing.T) {
	docs, inst := replay(t, "benchmark.pcap", nil)
	count := map[string]int{}
	for _, d := range docs {
		count[fmt.Sprint(protocoltest.Get(d, "method"))]++
		if protocoltest.Get(d, "status") != "OK" {
			t.Errorf("%v: %v", protocoltest.Get(d, "query"), protocoltest.Get(d, "redis.error"))
		}
	}
	// -n 100 each (LPUSH twice: its own test and LRANGE's fill), plus
	// -P 8 -n 200 SET and GET; each run asks CONFIG GET save/appendonly.
	want := map[string]int{"SET": 300, "GET": 300, "INCR": 100, "LPUSH": 200, "LRANGE": 100, "CONFIG GET": 4}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("methods %v, want %v", count, want)
	}
	expect(t, find(t, docs, "LRANGE mylist 0 99"), map[string]any{"status": "OK"})
	s := inst.TCP.(*Protocol).Stats()
	if s.Requests.Load() != 1004 || s.Responses.Load() != 1004 {
		t.Errorf("requests %d responses %d", s.Requests.Load(), s.Responses.Load())
	}
	crossCheck(t, "benchmark.pcap", docs)
}

// crossCheck compares with tshark's RESP dissector (RESP2 only in tshark
// 4.0): per TCP stream, the commands of every client frame it dissects
// whole, in order, must be our queries; its error replies must be ours.
func crossCheck(t *testing.T, name string, docs []map[string]any) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-Y", "resp",
		"-T", "fields", "-E", "separator=|", "-E", "aggregator=\x1f", "-e", "tcp.srcport", "-e", "tcp.dstport",
		"-e", "resp.error", "-e", "_ws.col.Info").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	theirs := map[string][]string{} // client port -> request texts
	dirty := map[string]bool{}      // streams with partially dissected requests
	var errs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "|", 4)
		if len(f) < 4 {
			continue
		}
		if f[1] == "6379" {
			info := strings.TrimPrefix(f[3], "[TCP Window Full] ")
			if !strings.HasPrefix(info, "Request: ") || strings.Contains(info, "[") {
				dirty[f[0]] = true
				continue
			}
			theirs[f[0]] = append(theirs[f[0]], strings.TrimPrefix(info, "Request: "))
		} else if f[2] != "" {
			errs = append(errs, strings.Split(f[2], "\x1f")...)
		}
	}
	ours := map[string][]string{}
	var ourErrs []string
	for _, d := range docs {
		port := fmt.Sprint(protocoltest.Get(d, "source.port"))
		ours[port] = append(ours[port], printable(protocoltest.Get(d, "query").(string)))
		if e := protocoltest.Get(d, "redis.error"); e != nil {
			ourErrs = append(ourErrs, strings.TrimSpace(e.(string)))
		}
	}
	checked := 0
	for port, reqs := range theirs {
		if dirty[port] {
			continue
		}
		// tshark joins a frame's pipelined commands with spaces.
		if a, b := strings.Join(reqs, " "), strings.Join(ours[port], " "); a != b {
			t.Errorf("port %s: tshark %.200q\n ours %.200q", port, a, b)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no stream cross-checked")
	}
	if !strings.HasSuffix(name, "resp3.pcap") && !strings.HasSuffix(name, "pubsub.pcap") {
		for i := range errs {
			errs[i] = strings.TrimSpace(errs[i])
		}
		sort.Strings(errs)
		sort.Strings(ourErrs)
		if strings.Join(errs, "\n") != strings.Join(ourErrs, "\n") {
			t.Errorf("errors: tshark %q, ours %q", errs, ourErrs)
		}
	}
	t.Logf("%s: %d streams' commands and %d errors agree with tshark", name, checked, len(errs))
}

// printable drops arguments tshark does not show (binary ones, such as
// redis-cli --pipe's random ECHO marker).
func printable(q string) string {
	words := strings.Split(q, " ")
	kept := words[:0]
	for _, w := range words {
		ok := utf8.ValidString(w)
		for _, r := range w {
			ok = ok && unicode.IsPrint(r) && r != utf8.RuneError
		}
		if ok {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}
