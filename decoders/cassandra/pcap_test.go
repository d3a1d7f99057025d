package cassandra

import (
	"fmt"

	"github.com/network-traffic/network-traffic/ecsmap"
	"path/filepath"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/cassandra"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "cassandra", opts)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, fmt.Sprintf("%v/%v", protocoltest.Get(doc, "cassandra.request.headers.stream"), protocoltest.Get(doc, "cassandra.request.query")))
}

func find(t *testing.T, docs []map[string]any, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, d := range docs {
		if pred(d) {
			return d
		}
	}
	t.Fatal("no matching event")
	return nil
}

func byQuery(q string) func(map[string]any) bool {
	return func(d map[string]any) bool { return protocoltest.Get(d, "cassandra.request.query") == q }
}

func byOp(op string) func(map[string]any) bool {
	return func(d map[string]any) bool { return protocoltest.Get(d, "cassandra.request.headers.op") == op }
}

var both = map[string]any{"send_request": true, "send_response": true}

// TestV4Capture: the python driver against the stand-in, protocol v4 after
// refusing DSE v2/v1 and v5 (values cross-checked with tshark's cql
// dissector: opcode, stream, message_length per frame).
func TestV4Capture(t *testing.T) {
	docs, p := replay(t, "v4.pcap", both)
	if len(docs) != 26 {
		t.Fatalf("%d events, want 26", len(docs))
	}
	// The three refused handshakes: request frames of versions 0x42, 0x41, 5
	// skipped, their v4 ERROR answers unmatched.
	if p.stats.OtherVersion.Load() != 3 || p.stats.UnmatchedResponses.Load() != 3 || p.stats.ParseErrors.Load() != 0 {
		t.Errorf("other=%d unmatched=%d parse=%d", p.stats.OtherVersion.Load(), p.stats.UnmatchedResponses.Load(), p.stats.ParseErrors.Load())
	}
	expect(t, find(t, docs, byQuery("CREATE TABLE users (\n  user_id int PRIMARY KEY,\n  fname text,\n  lname text\n);")), map[string]any{
		"type": "cassandra", "status": "OK", "source.bytes": 105, "destination.bytes": 48, "destination.port": 9042,
		"cassandra.request.headers.op": "QUERY", "cassandra.request.headers.version": "4", "cassandra.request.headers.flags": "Default",
		"cassandra.request.headers.stream": 5, "cassandra.request.headers.length": 96,
		"cassandra.response.headers.op": "RESULT", "cassandra.response.headers.length": 39, "cassandra.response.headers.stream": 5,
		"cassandra.response.result.type": "schemaChanged", "cassandra.response.result.schema_change.change": "CREATED",
		"cassandra.response.result.schema_change.keyspace": "mykeyspace", "cassandra.response.result.schema_change.object": "users",
		"cassandra.response.result.schema_change.target": "TABLE",
	})
	expect(t, find(t, docs, byOp("OPTIONS")), map[string]any{
		"cassandra.response.headers.op": "SUPPORTED", "cassandra.response.supported.COMPRESSION": "[snappy]",
		"cassandra.response.supported.PROTOCOL_VERSIONS": "[3/v3 4/v4 5/v5-beta]", "cassandra.request.query": nil,
	})
	expect(t, find(t, docs, byQuery("SELECT * FROM system.peers")), map[string]any{
		"cassandra.response.result.type": "rows", "cassandra.response.result.rows.num_rows": 0,
		"cassandra.response.result.rows.meta.keyspace": "system", "cassandra.response.result.rows.meta.table": "peers",
		"cassandra.response.result.rows.meta.col_count": 8, "cassandra.response.result.rows.meta.flags": "GlobalTableSpec",
	})
	expect(t, find(t, docs, byQuery("SELECT * FROM users WHERE fname = 'john' ALLOW FILTERING")), map[string]any{
		"cassandra.response.result.rows.num_rows": 2, "cassandra.response.result.rows.meta.flags": "FLAG_3",
		"cassandra.response.result.rows.meta.paging_state": "706167653A32", // "page:2"
	})
	expect(t, find(t, docs, byQuery("USE mykeyspace")), map[string]any{
		"cassandra.response.result.type": "set_keyspace", "cassandra.response.result.keyspace": "mykeyspace",
	})
	expect(t, find(t, docs, byQuery("SELECT * FROM users WHERE user_id = ?")), map[string]any{
		"cassandra.request.headers.op": "PREPARE", "cassandra.response.result.type": "prepared",
		"cassandra.response.result.prepared.prepared_id":           "908f7e6d5c4b3a291807f6e5d4c3b2a1",
		"cassandra.response.result.prepared.req_meta.pkey_columns": "[0]", "cassandra.response.result.prepared.req_meta.col_count": 1,
		"cassandra.response.result.prepared.resp_meta.col_count": 3, "cassandra.response.result.prepared.resp_meta.table": "users",
	})
	expect(t, find(t, docs, byOp("BATCH")), map[string]any{
		"cassandra.response.headers.flags": "Warning", "cassandra.response.result.type": "void",
		"cassandra.response.warnings": "[Batch for [mykeyspace.users] is of size 6.104KiB, exceeding specified threshold of 5.000KiB by 1.104KiB.]",
	})
	expect(t, find(t, docs, byQuery("SELEC * FROM users")), map[string]any{
		"status": "Error", "cassandra.response.headers.op": "ERROR", "cassandra.response.error.code": 8192,
		"cassandra.response.error.type": "errSyntax", "cassandra.response.error.msg": "line 1:0 no viable alternative at input 'SELEC'",
	})
	expect(t, find(t, docs, byQuery("SELECT * FROM users WHERE consistency_all = 1")), map[string]any{
		"status": "Error", "cassandra.response.error.type": "errUnavailable", "cassandra.response.error.details.read_consistency": "ALL",
		"cassandra.response.error.details.required": 3, "cassandra.response.error.details.alive": 1,
	})
	pushed := 0
	for _, d := range docs {
		if protocoltest.Get(d, "cassandra.no_request") == true {
			pushed++
			expect(t, d, map[string]any{"cassandra.response.headers.op": "EVENT", "cassandra.response.headers.stream": -1,
				"cassandra.response.event.type": "SCHEMA_CHANGE", "cassandra.response.event.schema_change.keyspace": "mykeyspace",
				"cassandra.request": nil, "source.bytes": nil})
		}
	}
	if pushed != 2 {
		t.Errorf("%d pushed events, want 2", pushed)
	}
}

// TestSnappy: protocol v3 with snappy-compressed frames, decoded with
// compressor: snappy; without it the bodies are counted and left out.
func TestSnappy(t *testing.T) {
	opts := map[string]any{"send_request": true, "send_response": true, "compressor": "snappy"}
	docs, p := replay(t, "v3_snappy.pcap", opts)
	if len(docs) != 26 || p.stats.ParseErrors.Load() != 0 || p.stats.Compressed.Load() != 0 {
		t.Fatalf("%d events, parse=%d", len(docs), p.stats.ParseErrors.Load())
	}
	expect(t, find(t, docs, byQuery("SELECT * FROM users")), map[string]any{
		"cassandra.request.headers.version": "3", "cassandra.request.headers.flags": "Compress",
		"cassandra.response.result.rows.num_rows": 3, "cassandra.response.result.rows.meta.table": "users",
	})
	// v3 prepared metadata has no partition key indexes.
	expect(t, find(t, docs, byQuery("SELECT * FROM users WHERE user_id = ?")), map[string]any{
		"cassandra.response.result.prepared.req_meta.pkey_columns": nil, "cassandra.response.result.prepared.resp_meta.col_count": 3,
	})
	docs, p = replay(t, "v3_snappy.pcap", both)
	if len(docs) != 26 || p.stats.Compressed.Load() == 0 {
		t.Fatalf("%d events, compressed=%d", len(docs), p.stats.Compressed.Load())
	}
	if protocoltest.Get(docs[5], "cassandra.request.query") != nil || protocoltest.Get(docs[5], "error.message") == nil {
		t.Errorf("undecoded compressed body: %v", docs[5])
	}
}

// TestOptions: ignored_ops, the header switches, send_request off.
func TestOptions(t *testing.T) {
	docs, p := replay(t, "v4.pcap", map[string]any{"send_request": true, "send_response": true,
		"ignored_ops": []any{"OPTIONS", "startup", "REGISTER", "EVENT"}, "send_request_header": false, "send_response_header": false})
	if len(docs) != 26-2-2-1-2 || p.stats.Ignored.Load() != 7 {
		t.Fatalf("%d events, ignored %d", len(docs), p.stats.Ignored.Load())
	}
	d := find(t, docs, byQuery("SELECT * FROM users"))
	expect(t, d, map[string]any{"cassandra.request.headers": nil, "cassandra.response.headers": nil, "cassandra.response.result.rows.num_rows": 3})
	docs, _ = replay(t, "v4.pcap", map[string]any{"send_request": false, "send_response": false})
	if len(docs) != 26 || protocoltest.Get(docs[0], "cassandra.request") != nil || protocoltest.Get(docs[0], "cassandra.response") != nil {
		t.Errorf("send_request/response off: %v", docs[0]["cassandra"])
	}
	// Unset, both default to true as in Packetbeat.
	docs, _ = replay(t, "v4.pcap", nil)
	if len(docs) != 26 || protocoltest.Get(docs[0], "cassandra.request.headers.op") != "OPTIONS" || protocoltest.Get(docs[0], "cassandra.response.headers.op") != "SUPPORTED" {
		t.Errorf("send_request/response default: %v", docs[0]["cassandra"])
	}
	for _, bad := range []map[string]any{{"compressor": "lz4"}, {"ignored_ops": []any{"NOPE"}}, {"send_request_headers": true}} {
		spec, _ := protocol.Lookup("cassandra")
		c, o, _ := protocol.SplitCommon(spec, bad)
		if _, err := spec.New(c, o, protocol.PublisherFunc(func(ecsmap.Event) {})); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
