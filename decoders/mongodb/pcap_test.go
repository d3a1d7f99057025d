package mongodb

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// The captures are real pymongo 3.11 client traffic against a stand-in
// server (see _dev/capture/mongodb.sh: Debian ships no MongoDB server).

const pcapDir = "../../_dev/pcaps/mongodb"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "mongodb", opts)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, protocoltest.Get(doc, "query"))
}

func byMethod(docs []map[string]any, method string) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if d["method"] == method {
			out = append(out, d)
		}
	}
	return out
}

func TestOpMsg(t *testing.T) {
	docs, p := replay(t, "opmsg.pcap", map[string]any{"send_request": true, "send_response": true, "max_docs": 1})
	if len(docs) != 11 {
		t.Fatalf("%d events, want 11", len(docs))
	}
	if n := p.stats.ParseErrors.Load(); n != 0 {
		t.Errorf("%d parse errors", n)
	}
	hs := byMethod(docs, "ismaster")
	if len(hs) != 2 {
		t.Fatalf("%d handshakes", len(hs))
	}
	// Legacy handshake: OP_QUERY admin.$cmd, numberToReturn -1 read
	// unsigned as Packetbeat does, OP_REPLY fields.
	expect(t, hs[0], map[string]any{
		"resource": "admin.$cmd", "status": "OK", "mongodb.fullCollectionName": "admin.$cmd",
		"mongodb.numberToSkip": 0, "mongodb.numberToReturn": 4294967295, "mongodb.numberReturned": 1,
		"mongodb.cursorId": 0, "mongodb.startingFrom": 0, "source.bytes": 290, "destination.bytes": 215,
	})
	ins := byMethod(docs, "insert")[0]
	expect(t, ins, map[string]any{
		"resource": "shop.items", "query": `shop.items.insert({"ordered":true})`,
		"source.bytes": 498, "destination.bytes": 45, "response": `{"n":5,"ok":1}`,
		"mongodb.fullCollectionName": nil,
	})
	// The kind 1 "documents" sequence is part of the request text.
	if r, _ := ins["request"].(string); !strings.Contains(r, `"documents":[{"_id":0,"name":"item0","qty":0,"tags":["a","b"],"price":0},`) ||
		!strings.Contains(r, `{"_id":4,"name":"item4","qty":40,"tags":["a","b"],"price":6}]`) {
		t.Errorf("insert request = %q", r)
	}
	finds := byMethod(docs, "find")
	expect(t, finds[0], map[string]any{
		"mongodb.cursorId": 1001, "mongodb.numberReturned": 2,
		"query":    `shop.items.find({"filter":{},"batchSize":2,"$readPreference":{"mode":"primaryPreferred"}})`,
		"response": "{\"_id\":0,\"name\":\"item0\",\"qty\":0,\"tags\":[\"a\",\"b\"],\"price\":0}\n[...]",
	})
	expect(t, finds[1], map[string]any{"mongodb.cursorId": 0, "mongodb.numberReturned": 1,
		"response": `{"_id":1,"name":"item1","qty":99,"tags":["a","b"],"price":1.5}`}) // the stand-in ignores projections
	gm := byMethod(docs, "getMore")
	if len(gm) != 2 {
		t.Fatalf("%d getMore", len(gm))
	}
	expect(t, gm[0], map[string]any{"resource": "shop.items", "mongodb.cursorId": 1001, "mongodb.numberReturned": 2})
	expect(t, gm[1], map[string]any{"mongodb.cursorId": 0, "mongodb.numberReturned": 1})
	expect(t, byMethod(docs, "update")[0], map[string]any{"status": "OK", "response": `{"n":1,"nModified":1,"ok":1}`})
	expect(t, byMethod(docs, "delete")[0], map[string]any{"status": "OK", "response": `{"n":1,"ok":1}`})
	expect(t, byMethod(docs, "noSuchCommand")[0], map[string]any{
		"status": "Error", "resource": "shop.$cmd",
		"mongodb.error": "no such command: 'noSuchCommand' (code 59)",
	})
}

func TestLegacy(t *testing.T) {
	docs, _ := replay(t, "legacy.pcap", map[string]any{"send_request": true})
	if len(docs) != 14 {
		t.Fatalf("%d events, want 14", len(docs))
	}
	ins := byMethod(docs, "insert")
	if len(ins) != 5 {
		t.Fatalf("%d OP_INSERT", len(ins))
	}
	expect(t, ins[1], map[string]any{"mongodb.fullCollectionName": "shop.items", "destination.bytes": nil,
		"request": `shop.items.insert({"documents":[{"_id":1,"name":"item1","qty":10}]})`})
	expect(t, byMethod(docs, "update")[0], map[string]any{
		"mongodb.selector": `{"_id":1}`, "mongodb.update": `{"$set":{"qty":99}}`})
	expect(t, byMethod(docs, "delete")[0], map[string]any{"mongodb.selector": `{"_id":4}`, "mongodb.update": nil})
	f := byMethod(docs, "find")
	expect(t, f[0], map[string]any{"query": "shop.items.find().limit(2)", "mongodb.cursorId": 1001,
		"mongodb.numberReturned": 2, "mongodb.numberToReturn": 2})
	expect(t, f[1], map[string]any{"query": `shop.items.find({"qty":99}).limit(3)`,
		"mongodb.returnFieldsSelector": `{"name":1}`, "mongodb.numberReturned": 1})
	expect(t, byMethod(docs, "getMore")[0], map[string]any{"mongodb.numberToReturn": 2, "mongodb.numberReturned": 2})
	expect(t, byMethod(docs, "noSuchCommand")[0], map[string]any{"status": "Error"})
}

func TestCompressedSkipped(t *testing.T) {
	docs, p := replay(t, "compressed.pcap", nil)
	// Only the uncompressed handshakes decode; the other 18 messages (tshark:
	// mongo.opcode==2012) are OP_COMPRESSED.
	if len(docs) != 2 || p.stats.Compressed.Load() != 18 {
		t.Fatalf("%d events, %d compressed", len(docs), p.stats.Compressed.Load())
	}
	if p.stats.UnmatchedResponses.Load() != 0 || p.stats.ParseErrors.Load() != 0 {
		t.Errorf("stats %+v", p.stats.ParseErrors.Load())
	}
}

// TestTshark cross-checks pairing and sizes against Wireshark's mongo
// dissector: every request tshark pairs with a reply (request_id =
// response_to) must be one of our events with the same byte counts
// (request ids are unique per capture: the driver numbers them per process).
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	for _, name := range []string{"opmsg.pcap", "legacy.pcap", "compressed.pcap"} {
		out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-d", "tcp.port==27017,mongo",
			"-Y", "mongo", "-T", "fields", "-e", "tcp.srcport", "-e", "mongo.opcode", "-e", "mongo.request_id",
			"-e", "mongo.response_to", "-e", "mongo.message_length").Output()
		if err != nil {
			t.Fatal(err)
		}
		type req struct{ port, op, length string }
		reqs := map[string]req{}
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 5 {
				continue
			}
			if f[0] != "27017" {
				reqs[f[2]] = req{f[0], f[1], f[4]}
				if f[1] == "2002" || f[1] == "2001" || f[1] == "2006" {
					want = append(want, f[4]+"/-")
				}
				continue
			}
			if r, ok := reqs[f[3]]; ok && r.op != "2012" {
				want = append(want, r.length+"/"+f[4])
			}
		}
		docs, _ := replay(t, name, nil)
		var got []string
		for _, d := range docs {
			src := strconv.Itoa(int(protocoltest.Get(d, "source.bytes").(float64)))
			dst := "-"
			if v, ok := protocoltest.Get(d, "destination.bytes").(float64); ok {
				dst = strconv.Itoa(int(v))
			}
			got = append(got, src+"/"+dst)
		}
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: ours %v\ntshark %v", name, got, want)
		}
	}
}
