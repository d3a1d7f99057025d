package memcache

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/memcache"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "memcache", opts)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = str(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// expect compares fields by dotted path, as strings; "<nil>" means absent.
func expect(t *testing.T, doc map[string]any, want map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got := str(protocoltest.GetKeyOrPath(doc, k)); got != want[k] {
			t.Errorf("%s/%s: %s = %s, want %s", str(protocoltest.GetKeyOrPath(doc, "memcache.request.command")),
				str(protocoltest.GetKeyOrPath(doc, "memcache.response.command")), k, got, want[k])
		}
	}
}

// summary is "reqcommand reqkeys -> respcommand status" per event.
func summary(docs []map[string]any) []string {
	var out []string
	for _, d := range docs {
		out = append(out, fmt.Sprintf("%s %s -> %s %s", str(protocoltest.GetKeyOrPath(d, "memcache.request.command")),
			str(protocoltest.GetKeyOrPath(d, "memcache.request.keys")), str(protocoltest.GetKeyOrPath(d, "memcache.response.command")), str(d["status"])))
	}
	return out
}

func TestTextCapture(t *testing.T) {
	docs, p := replay(t, "text.pcap", nil)
	want := []string{
		"set key -> STORED OK",
		"get key -> VALUE OK",
		"get missing -> END OK",
		"set user:42 -> STORED OK",
		"set counter -> STORED OK",
		"get key,user:42,missing,counter -> VALUE OK",
		"gets key -> VALUE OK",
		"add key -> NOT_STORED Error",
		"add fresh -> STORED OK",
		"replace key -> STORED OK",
		"replace nokey -> NOT_STORED Error",
		"append key -> STORED OK",
		"prepend key -> STORED OK",
		"cas key -> EXISTS OK",
		"cas nokey -> NOT_FOUND Error",
		"incr counter -> <counter_op_res> OK",
		"decr counter -> <counter_op_res> OK",
		"incr key -> CLIENT_ERROR Client Error",
		"incr nokey -> NOT_FOUND Error",
		"touch key -> TOUCHED OK",
		"touch nokey -> NOT_FOUND Error",
		"set quiet -> <nil> OK",    // noreply: published at once
		"delete quiet -> <nil> OK", // noreply
		"delete fresh -> DELETED OK",
		"delete fresh -> NOT_FOUND Error",
		"version <nil> -> VERSION OK",
		"verbosity <nil> -> OK OK",
		// "bogus command": memcached answers ERROR; without parseunknown the
		// line is not kept, but the command and its answer are one
		// transaction, not a response alone.
		"UNKNOWN <nil> -> ERROR Error",
		"stats <nil> -> STAT OK",
		"stats <nil> -> STAT OK",
		"flush_all <nil> -> OK OK",
		"quit <nil> -> <nil> OK",
	}
	got := summary(docs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := p.Stats(); s.ParseErrors.Load() != 0 || s.UnmatchedResponses.Load() != 0 {
		t.Errorf("parse errors = %d, responses without request = %d, want 0", s.ParseErrors.Load(), s.UnmatchedResponses.Load())
	}
	expect(t, docs[27], map[string]string{
		"memcache.request.command": "UNKNOWN", "memcache.request.type": "UNKNOWN", "memcache.request.line": "<nil>",
		"memcache.response.command": "ERROR", "status": "Error", "event.action": "memcache.unknown",
		"event.outcome": "failure", "source.bytes": "15", "destination.bytes": "7",
	})
	// The first event is Packetbeat's sample: set key 0 0 3 / STORED.
	expect(t, docs[0], map[string]string{
		"type": "memcache", "status": "OK", "event.action": "memcache.store", "event.outcome": "success",
		"network.protocol": "memcache", "network.transport": "tcp", "destination.port": "11211",
		"source.bytes": "20", "destination.bytes": "8", "network.bytes": "28",
		"memcache.protocol_type": "text", "memcache.request.type": "Store", "memcache.request.keys": "key",
		"memcache.request.flags": "0", "memcache.request.exptime": "0", "memcache.request.bytes": "3",
		"memcache.request.count_values": "1", "memcache.request.noreply": "false",
		"memcache.request.values": "<nil>", // maxvalues defaults to 0
		"memcache.response.type":  "Success",
	})
	// Multi-get: three hits merged into one response, flags of the first.
	expect(t, docs[5], map[string]string{
		"memcache.response.keys": "key,user:42,counter", "memcache.response.count_values": "3",
		"memcache.response.bytes": "16", "memcache.response.flags": "0",
		"destination.bytes": "81", "event.action": "memcache.load",
	})
	expect(t, docs[3], map[string]string{"memcache.request.flags": "7", "memcache.request.exptime": "300", "memcache.request.bytes": "11"})
	expect(t, docs[6], map[string]string{"memcache.response.cas_unique": "1"})
	expect(t, docs[13], map[string]string{"memcache.request.cas_unique": "1", "event.outcome": "success"})
	expect(t, docs[15], map[string]string{"memcache.request.delta": "5", "memcache.response.value": "15", "event.action": "memcache.counter"})
	expect(t, docs[16], map[string]string{"memcache.request.delta": "3", "memcache.response.value": "12"})
	expect(t, docs[17], map[string]string{
		"memcache.response.error_msg": "cannot increment or decrement non-numeric value", "event.outcome": "failure",
	})
	expect(t, docs[19], map[string]string{"memcache.request.exptime": "60", "memcache.request.type": "Store"})
	expect(t, docs[21], map[string]string{"memcache.request.noreply": "true", "destination.bytes": "<nil>", "event.outcome": "<nil>", "error.message": "<nil>"})
	expect(t, docs[25], map[string]string{"memcache.response.version": "1.6.18", "event.action": "memcache.info"})
	expect(t, docs[26], map[string]string{"memcache.request.verbosity": "1"})
	expect(t, docs[27], map[string]string{"error.message": "<nil>"})
	expect(t, docs[29], map[string]string{"memcache.request.raw_args": "slabs", "event.action": "memcache.stats"})
	expect(t, docs[30], map[string]string{"memcache.request.type": "Delete", "memcache.request.exptime": "0"})
	stats := protocoltest.GetKeyOrPath(docs[28], "memcache.response.stats").([]any)
	first := stats[0].(map[string]any)
	if len(stats) < 50 || first["name"] != "pid" {
		t.Errorf("stats: %d entries, first %v", len(stats), first)
	}
	found := false
	for _, s := range stats {
		if m := s.(map[string]any); m["name"] == "version" && m["value"] == "1.6.18" {
			found = true
		}
	}
	if !found {
		t.Error("stats lack version 1.6.18")
	}
	crossCheckText(t, "text.pcap", docs, false, "delete fresh  ") // frame 50 carries two deletes
}

func TestTextParseUnknown(t *testing.T) {
	docs, p := replay(t, "text.pcap", map[string]any{"parseunknown": true, "maxvalues": -1, "send_request": true})
	d := docs[27]
	expect(t, d, map[string]string{
		"memcache.request.command": "UNKNOWN", "memcache.request.type": "UNKNOWN",
		"memcache.request.line": "bogus command", "memcache.response.command": "ERROR",
		"status": "Error", "event.action": "memcache.unknown", "request": "bogus command",
	})
	if n := p.Stats().ParseErrors.Load(); n != 0 {
		t.Errorf("parse errors = %d", n)
	}
	// maxvalues -1 publishes every value, base64 encoded.
	expect(t, docs[5], map[string]string{"memcache.response.values": "Zm9v,aGVsbG8gd29ybGQ=,MTA="})
	expect(t, docs[0], map[string]string{"memcache.request.values": "Zm9v", "request": "set key 0 0 3"})
}

func TestMaxValues(t *testing.T) {
	docs, _ := replay(t, "text.pcap", map[string]any{"maxvalues": 2, "maxbytespervalue": 2})
	// Two of the three values, each cut to two bytes ("fo", "he").
	expect(t, docs[5], map[string]string{"memcache.response.values": "Zm8=,aGU=", "memcache.response.count_values": "3"})
}

func TestBinaryCapture(t *testing.T) {
	docs, p := replay(t, "binary.pcap", map[string]any{"maxvalues": -1})
	want := []string{
		"set bkey -> set OK", "get bkey -> get OK", "get nokey -> get Error", "get bkey -> get OK",
		"add bkey -> add Error", "replace nokey -> replace Error", "append bkey -> append OK",
		"prepend bkey -> prepend OK", "incr bcount -> incr OK", "incr bcount -> incr OK",
		"decr bcount -> decr OK", "incr bkey -> incr Error", "touch bkey -> touch OK",
		"get bkey -> get OK",    // GetQ hit: answered
		"get nokey -> <nil> OK", // GetKQ miss: quiet, no answer due
		"set qkey -> <nil> OK",  // SetQ: quiet
		"noop <nil> -> noop OK",
		"delete qkey -> delete OK", "delete qkey -> delete Error", "version <nil> -> version OK",
		"stats settings -> stats OK", "flush_all <nil> -> flush_all OK", "quit <nil> -> quit OK",
	}
	got := summary(docs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := p.Stats().ParseErrors.Load() + p.Stats().UnmatchedRequests.Load() + p.Stats().UnmatchedResponses.Load(); n != 0 {
		t.Errorf("errors/unmatched: %d", n)
	}
	expect(t, docs[0], map[string]string{
		"memcache.protocol_type": "binary", "memcache.request.opcode": "Set", "memcache.request.opcode_value": "1",
		"memcache.request.opaque": "1", "memcache.request.flags": "3735928559", "memcache.request.exptime": "0",
		"memcache.request.bytes": "12", "memcache.request.count_values": "1", "memcache.request.values": "YmluYXJ5LXZhbHVl",
		"memcache.request.quiet": "false", "memcache.request.vbucket": "0",
		"memcache.response.status": "Success", "memcache.response.status_code": "0", "memcache.response.cas_unique": "1",
		"source.bytes": "48", "destination.bytes": "24", "event.action": "memcache.store", "event.outcome": "success",
	})
	expect(t, docs[1], map[string]string{"memcache.response.flags": "3735928559", "memcache.response.values": "YmluYXJ5LXZhbHVl"})
	expect(t, docs[2], map[string]string{
		"memcache.response.status": "Key not found", "memcache.response.status_code": "1",
		"memcache.response.error_msg": "Not found", "memcache.response.count_values": "<nil>", "event.outcome": "failure",
	})
	expect(t, docs[3], map[string]string{"memcache.request.opcode": "GetK", "memcache.response.keys": "bkey"})
	expect(t, docs[4], map[string]string{"memcache.response.status": "Key exists", "status": "Error"})
	expect(t, docs[8], map[string]string{"memcache.request.delta": "1", "memcache.request.initial": "100", "memcache.response.value": "100"})
	expect(t, docs[9], map[string]string{"memcache.response.value": "105"})
	expect(t, docs[10], map[string]string{"memcache.response.value": "102", "memcache.request.opcode": "Decrement"})
	expect(t, docs[11], map[string]string{"memcache.response.status_code": "6", "memcache.response.value": "<nil>"})
	expect(t, docs[12], map[string]string{"memcache.request.exptime": "60"})
	expect(t, docs[13], map[string]string{"memcache.request.opcode": "GetQ", "memcache.request.quiet": "true", "memcache.response.values": "cHJlK2JpbmFyeS12YWx1ZSthcHA="})
	expect(t, docs[14], map[string]string{"memcache.request.opcode": "GetKQ", "error.message": "<nil>"})
	expect(t, docs[19], map[string]string{"memcache.response.version": "1.6.18"})
	stats := protocoltest.GetKeyOrPath(docs[20], "memcache.response.stats").([]any)
	if len(stats) != 76 || stats[0].(map[string]any)["name"] != "maxbytes" || stats[0].(map[string]any)["value"] != "67108864" {
		t.Errorf("stats: %d, first %v", len(stats), stats[0])
	}
	crossCheckBinary(t, "binary.pcap", docs)
}

func TestUDPCapture(t *testing.T) {
	docs, p := replay(t, "udp.pcap", map[string]any{"maxvalues": 1, "maxbytespervalue": 4})
	want := []string{
		"set ukey -> STORED OK", "get ukey -> VALUE OK",
		"get ukey,nokey -> VALUE OK", // VALUE and END arrive as two datagrams, both "1 of 1"
		"set big -> STORED OK",
		"get big -> VALUE OK", // three datagrams
		"incr ukey -> CLIENT_ERROR Client Error", "delete ukey -> DELETED OK", "version <nil> -> VERSION OK",
		"set ubin -> set OK", "get ubin -> get OK",
		"set quiet -> <nil> OK",
	}
	got := summary(docs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transactions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := p.Stats().ParseErrors.Load() + p.Stats().UDPDrops.Load(); n != 0 {
		t.Errorf("errors/drops: %d", n)
	}
	for _, d := range docs {
		if d["network"].(map[string]any)["transport"] != "udp" {
			t.Fatal("not udp")
		}
	}
	expect(t, docs[0], map[string]string{"memcache.request.flags": "3", "memcache.request.values": "aGVsbA=="}) // "hell"
	expect(t, docs[4], map[string]string{
		"memcache.response.bytes": "3000", "memcache.response.count_values": "1",
		"memcache.response.values": "QkJCQg==", // first 4 bytes
		"destination.bytes":        "3025", "source.bytes": "9",
	})
	expect(t, docs[9], map[string]string{"memcache.protocol_type": "binary", "memcache.request.opaque": "8", "memcache.response.values": "djE="})
	crossCheckUDP(t, "udp.pcap", docs)
}

func TestMemcslapCapture(t *testing.T) {
	docs, p := replay(t, "memcslap.pcap", nil)
	s := p.Stats()
	if s.ParseErrors.Load()+s.UnmatchedRequests.Load()+s.UnmatchedResponses.Load()+s.GapDrops.Load() != 0 {
		t.Errorf("stats %+v", s)
	}
	counts := map[string]int{}
	for _, d := range docs {
		counts[str(protocoltest.GetKeyOrPath(d, "memcache.protocol_type"))+" "+str(protocoltest.GetKeyOrPath(d, "memcache.request.command"))+" "+str(d["status"])]++
	}
	// memcslap --execute-number=20 with 2 clients: 40 sets per run, then quit.
	want := map[string]int{"text set OK": 40, "text quit OK": 2, "binary set OK": 40, "binary quit OK": 2}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	crossCheckText(t, "memcslap.pcap", docs, true)
	crossCheckBinary(t, "memcslap.pcap", docs)
}

func tshark(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: no cross-check")
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return out
}

// crossCheckText compares, in order, the text requests tshark dissects
// (command and first key) and the store arguments with ours.
//
// tshark dissects only the first command of a segment: the commands it
// misses are listed in hidden (ours minus theirs, in order).
func crossCheckText(t *testing.T, name string, docs []map[string]any, unordered bool, hidden ...string) {
	out := tshark(t, "-r", filepath.Join(pcapDir, name), "-Y", "memcache.command", "-T", "fields",
		"-E", "separator=|", "-e", "memcache.command", "-e", "memcache.key", "-e", "memcache.flags", "-e", "memcache.expiration")
	var theirs, ours []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if f[0] == "" || f[0][0] < 'a' || f[0][0] > 'z' {
			continue // responses (STAT) that tshark labels as commands
		}
		key, _, _ := strings.Cut(f[1], ",")
		theirs = append(theirs, f[0]+" "+key+" "+f[2]+" "+f[3])
	}
	for _, d := range docs {
		if protocoltest.GetKeyOrPath(d, "memcache.protocol_type") != "text" || protocoltest.GetKeyOrPath(d, "memcache.request") == nil {
			continue
		}
		cmd := str(protocoltest.GetKeyOrPath(d, "memcache.request.command"))
		if cmd == "UNKNOWN" || cmd == "touch" || cmd == "verbosity" {
			continue // tshark does not label these
		}
		keys, _ := protocoltest.GetKeyOrPath(d, "memcache.request.keys").([]any)
		key := ""
		if len(keys) > 0 {
			key = keys[0].(string)
		}
		flags, exp := "", ""
		if protocoltest.GetKeyOrPath(d, "memcache.request.type") == "Store" {
			flags, exp = str(protocoltest.GetKeyOrPath(d, "memcache.request.flags")), str(protocoltest.GetKeyOrPath(d, "memcache.request.exptime"))
		}
		ours = append(ours, cmd+" "+key+" "+flags+" "+exp)
	}
	if unordered { // concurrent connections: events come in response order
		sort.Strings(ours)
		sort.Strings(theirs)
	}
	var missed []string
	i := 0
	for _, o := range ours {
		if i < len(theirs) && theirs[i] == o {
			i++
		} else {
			missed = append(missed, o)
		}
	}
	if i != len(theirs) || strings.Join(missed, "|") != strings.Join(hidden, "|") {
		t.Errorf("missed by tshark: %q, want %q", missed, hidden)
		t.Errorf("text requests differ from tshark:\nours:\n%s\ntshark:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
}

// crossCheckBinary compares every binary message tshark dissects (magic,
// opcode, opaque, status, key, cas) with ours; Stat response parts are
// compared as the merged count.
func crossCheckBinary(t *testing.T, name string, docs []map[string]any) {
	out := tshark(t, "-r", filepath.Join(pcapDir, name), "-Y", "memcache.magic", "-T", "json", "--no-duplicate-keys", "-j", "memcache")
	var frames []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &frames); err != nil {
		t.Fatal(err)
	}
	var theirs, ours []string
	statParts := 0
	for _, f := range frames {
		raw := f.Source.Layers["memcache"]
		var layers []map[string]any
		if len(raw) > 0 && raw[0] == '[' {
			_ = json.Unmarshal(raw, &layers)
		} else {
			var one map[string]any
			_ = json.Unmarshal(raw, &one)
			layers = append(layers, one)
		}
		for _, l := range layers {
			magic, op := str(l["memcache.magic"]), str(l["memcache.opcode"])
			if magic == "129" && op == "16" {
				if l["memcache.key"] != nil {
					statParts++
				}
				if l["memcache.key"] != nil {
					continue
				}
			}
			key := ""
			if k, ok := l["memcache.key"]; ok {
				key = str(k)
			}
			status := "-"
			if magic == "129" {
				status = str(l["memcache.status"])
			}
			theirs = append(theirs, fmt.Sprintf("%s %s %s %s %s %s", magic, op, str(l["memcache.opaque"]), status, key, str(l["memcache.cas"])))
		}
	}
	oursStats := 0
	for _, d := range docs {
		if protocoltest.GetKeyOrPath(d, "memcache.protocol_type") != "binary" {
			continue
		}
		for _, side := range []string{"request", "response"} {
			m, ok := protocoltest.GetKeyOrPath(d, "memcache."+side).(map[string]any)
			if !ok {
				continue
			}
			magic, status := "128", "-"
			if side == "response" {
				magic, status = "129", str(m["status_code"])
			}
			key := ""
			if keys, ok := m["keys"].([]any); ok && len(keys) > 0 {
				key = keys[0].(string)
			}
			cas := "0"
			if m["cas_unique"] != nil {
				cas = str(m["cas_unique"])
			}
			if st, ok := m["stats"].([]any); ok {
				oursStats += len(st)
			}
			ours = append(ours, fmt.Sprintf("%s %s %s %s %s %s", magic, str(m["opcode_value"]), str(m["opaque"]), status, key, cas))
		}
	}
	sort.Strings(ours)
	sort.Strings(theirs)
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("binary messages differ from tshark:\nours:\n%s\ntshark:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	if oursStats != statParts {
		t.Errorf("stat parts: ours %d, tshark %d", oursStats, statParts)
	}
}

// crossCheckUDP checks the frame header pairing against the raw datagrams:
// every request id tshark sees from the client has one event.
func crossCheckUDP(t *testing.T, name string, docs []map[string]any) {
	out := tshark(t, "-r", filepath.Join(pcapDir, name), "-Y", "udp.dstport==11211", "-T", "fields", "-e", "udp.payload")
	ids := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		ids[l[:4]] = true
	}
	if len(ids) != len(docs) {
		t.Errorf("%d request ids on the wire, %d events", len(ids), len(docs))
	}
}
