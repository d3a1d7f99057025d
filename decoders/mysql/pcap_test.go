package mysql

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/mysql"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "mysql", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

// expect compares fields by dotted path; numbers are compared as strings of
// their JSON form, nil means "absent".
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, fmt.Sprintf("%q", protocoltest.Get(doc, "query")))
}

// tsharkTransactions renders each command/response exchange as tshark's
// mysql dissector sees it, in our events' terms: query, request and
// response bytes (TCP payload between one command and the next), affected
// rows, insert id, error code, number of fields and rows. Commands we do
// not publish (ping, quit, statement close, the login) are left out. It
// returns nil when tshark is not installed.
func tsharkTransactions(t *testing.T, name string) []string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return nil
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-Y", "tcp.len > 0", "-T", "json",
		"-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.len", "-e", "mysql.command", "-e", "mysql.query",
		"-e", "mysql.schema", "-e", "mysql.affected_rows", "-e", "mysql.insert_id", "-e", "mysql.error_code",
		"-e", "mysql.num_fields", "-e", "mysql.row.text", "-e", "mysql.num_params", "-e", "mysql.exec.field.long",
		"-e", "mysql.exec.field.string", "-e", "mysql.exec.field.longlong", "-e", "mysql.server_status").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var frames []struct {
		Source struct {
			Layers map[string][]string `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &frames); err != nil {
		t.Fatal(err)
	}
	type txn struct {
		query                            string
		reqBytes, respBytes              int
		affected, insertID, code, fields string
		values                           int
		params                           []string
		publish                          bool
		// more: the first result ended with "more results exist"; the
		// rest are not compared (each result set is its own segment in
		// the captures).
		more bool
	}
	var res []string
	cur := map[string]*txn{}
	flush := func(stream string) {
		x := cur[stream]
		if x == nil || !x.publish {
			return
		}
		rows := 0
		if n, _ := strconv.Atoi(x.fields); n > 0 {
			rows = x.values / n
			// With DEPRECATE_EOF the terminating OK packet carries
			// affected rows too; our events take them from OK responses.
			x.affected = ""
		}
		if x.insertID == "0" {
			x.insertID = "" // tshark omits a zero insert id
		}
		if x.fields == "0" {
			x.fields = ""
		}
		res = append(res, fmt.Sprintf("%q req=%d resp=%d affected=%s insert=%s err=%s fields=%s rows=%d params=%v",
			x.query, x.reqBytes, x.respBytes, x.affected, x.insertID, x.code, x.fields, rows, x.params))
		delete(cur, stream)
	}
	first := func(l map[string][]string, k string) string {
		if v := l[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for _, f := range frames {
		l := f.Source.Layers
		stream := first(l, "tcp.stream")
		n, _ := strconv.Atoi(first(l, "tcp.len"))
		if first(l, "tcp.srcport") != "3306" {
			if cmd := first(l, "mysql.command"); cmd != "" {
				flush(stream)
				x := &txn{reqBytes: n}
				switch cmd {
				case "3":
					x.publish, x.query = true, strings.Trim(first(l, "mysql.query"), "\x00")
				case "22":
					// A prepare response is an OK-like packet: our
					// events (and Packetbeat's) report 0 affected rows.
					x.publish, x.query, x.affected = true, first(l, "mysql.query"), "0"
				case "2":
					x.publish, x.query = true, "use "+first(l, "mysql.schema")
				case "23":
					x.publish = true
					x.params = append(append(append(x.params, l["mysql.exec.field.long"]...),
						l["mysql.exec.field.string"]...), l["mysql.exec.field.longlong"]...)
				}
				cur[stream] = x
			} else if x := cur[stream]; x != nil {
				x.reqBytes += n
			}
			continue
		}
		x := cur[stream]
		if x == nil {
			continue
		}
		x.respBytes += n
		if x.affected == "" {
			x.affected = first(l, "mysql.affected_rows")
			x.insertID = first(l, "mysql.insert_id")
		}
		if x.code == "" {
			x.code = first(l, "mysql.error_code")
		}
		if x.fields == "" {
			x.fields = first(l, "mysql.num_fields")
		}
		if !x.more {
			x.values += len(l["mysql.row.text"])
		}
		for _, st := range l["mysql.server_status"] {
			if v, err := strconv.ParseUint(st, 0, 16); err == nil && v&0x0008 != 0 {
				x.more = true
			}
		}
	}
	for s := range cur {
		flush(s)
	}
	sort.Strings(res)
	return res
}

// ours renders our events like tsharkTransactions. tshark does not decode
// binary rows (prepared statement results): they count as 0.
func ours(docs []map[string]any) []string {
	var res []string
	for _, d := range docs {
		num := func(k string) string {
			v, ok := protocoltest.Get(d, k).(float64)
			if !ok {
				return ""
			}
			return strconv.FormatInt(int64(v), 10)
		}
		q := fmt.Sprint(protocoltest.Get(d, "query"))
		affected, insert, fields, rows := num("mysql.affected_rows"), num("mysql.insert_id"), num("mysql.num_fields"), num("mysql.num_rows")
		code := num("mysql.error_code")
		var params []string
		if ps, ok := protocoltest.Get(d, "params").([]any); ok {
			for _, p := range ps {
				params = append(params, fmt.Sprint(p))
			}
			q = "" // tshark does not know which statement an execute runs
		}
		if code != "" || fields != "0" {
			affected, insert = "", ""
		}
		if insert == "0" {
			insert = ""
		}
		if fields == "0" || code != "" {
			fields = ""
		}
		if params != nil {
			rows = "0" // binary rows: tshark has no mysql.row.text
		}
		if rows == "" {
			rows = "0"
		}
		res = append(res, fmt.Sprintf("%q req=%v resp=%v affected=%s insert=%s err=%s fields=%s rows=%s params=%v",
			q, protocoltest.Get(d, "source.bytes"), protocoltest.Get(d, "destination.bytes"), affected, insert, code, fields, rows, params))
	}
	sort.Strings(res)
	return res
}

func crossCheck(t *testing.T, name string, docs []map[string]any) {
	t.Helper()
	want := tsharkTransactions(t, name)
	if want == nil {
		return
	}
	got := ours(docs)
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s: transaction %d differs:\nours:   %s\ntshark: %s", name, i, g, w)
		}
	}
}

// cli.pcap: the mariadb command-line client (no DEPRECATE_EOF: result sets
// end with EOF packets).
func TestCLI(t *testing.T) {
	docs, p := replay(t, "cli.pcap", nil)
	if len(docs) != 17 {
		t.Fatalf("%d events, want 17", len(docs))
	}
	byQuery := map[string]map[string]any{}
	for _, d := range docs {
		byQuery[fmt.Sprint(d["query"])] = d
		expect(t, d, map[string]any{"type": "mysql", "network.protocol": "mysql", "network.transport": "tcp",
			"destination.port": 3306, "source.ip": "127.0.0.1", "event.dataset": "mysql"})
	}
	expect(t, byQuery["SELECT * FROM items"], map[string]any{
		"method": "SELECT", "status": "OK", "path": "shop.items", "mysql.num_fields": 3, "mysql.num_rows": 4,
		"mysql.affected_rows": 0, "mysql.insert_id": 0, "source.bytes": 24, "destination.bytes": 220,
		"mysql.error_code": nil, "error": nil,
	})
	expect(t, byQuery["INSERT INTO items (name, price) VALUES ('fig', NULL)"], map[string]any{
		"method": "INSERT", "status": "OK", "mysql.affected_rows": 1, "mysql.insert_id": 4, "path": nil,
	})
	expect(t, byQuery["SELECT i.name, s.qty FROM items i JOIN stock s ON s.item_id = i.id"], map[string]any{
		"path": "shop.items, shop.stock", "mysql.num_fields": 2, "mysql.num_rows": 2,
	})
	expect(t, byQuery["SELECT name FROM items WHERE price > 100"], map[string]any{
		"path": "shop.items", "mysql.num_fields": 1, "mysql.num_rows": 0,
	})
	expect(t, byQuery["SELECT COUNT(*) AS n FROM items"], map[string]any{"path": nil, "mysql.num_rows": 1})
	expect(t, byQuery["UPDATE items SET price = price * 2 WHERE price IS NOT NULL"], map[string]any{
		"method": "UPDATE", "mysql.affected_rows": 3,
	})
	expect(t, byQuery["SELECT * FROM missing_table"], map[string]any{
		"status": "Error", "mysql.error_code": 1146, "mysql.num_rows": 0,
		"mysql.error_message": "42S02: Table 'shop.missing_table' doesn't exist",
	})
	expect(t, byQuery["use nosuchdb"], map[string]any{
		"method": "USE", "status": "Error", "mysql.error_code": 1049,
		"mysql.error_message": "42000: Unknown database 'nosuchdb'",
	})
	if p.Stats().DeprecateEOFConns.Load() != 0 {
		t.Error("cli.pcap negotiated DEPRECATE_EOF")
	}
	s := p.Stats()
	if s.Logins.Load() != 1 || s.ParseErrors.Load() != 0 || s.UnmatchedResponses.Load() != 0 || s.UnmatchedRequests.Load() != 0 {
		t.Errorf("stats: logins %d, parse errors %d, unmatched %d/%d", s.Logins.Load(), s.ParseErrors.Load(),
			s.UnmatchedRequests.Load(), s.UnmatchedResponses.Load())
	}
	// 18 commands: 17 published and COM_QUIT.
	if n := s.Requests.Load(); n != 18 {
		t.Errorf("%d requests, want 18", n)
	}
	crossCheck(t, "cli.pcap", docs)
}

// ps.pcap: prepared statements and DEPRECATE_EOF, from a raw client.
func TestPreparedStatements(t *testing.T) {
	docs, p := replay(t, "ps.pcap", map[string]any{"send_request": true})
	if p.Stats().DeprecateEOFConns.Load() != 1 {
		t.Error("ps.pcap: DEPRECATE_EOF not negotiated")
	}
	var got []string
	for _, d := range docs {
		got = append(got, fmt.Sprintf("%v %v %v", d["method"], d["status"], d["query"]))
	}
	want := []string{
		"SELECT OK SELECT id, name, price FROM items ORDER BY id",
		"SELECT OK SELECT name, price FROM items WHERE id = ?",
		"SELECT OK SELECT name, price FROM items WHERE id = ?",
		"INSERT OK INSERT INTO items (name, price) VALUES (?, ?)",
		"INSERT OK INSERT INTO items (name, price) VALUES (?, ?)",
		"USE Error use nosuchdb",
		"SELECT Error SELECT * FROM nosuchtable",
		"UPDATE OK UPDATE items SET price = price + 1 WHERE price < 10",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Result set ended by an OK packet (DEPRECATE_EOF): 4 rows, 3 columns.
	expect(t, docs[0], map[string]any{"mysql.num_rows": 4, "mysql.num_fields": 3, "path": "shop.items",
		"request": "SELECT id, name, price FROM items ORDER BY id"})
	// Prepare: 2 columns; execute with a bound LONG: one binary row.
	expect(t, docs[1], map[string]any{"mysql.num_fields": 2, "mysql.num_rows": 0, "params": nil})
	expect(t, docs[2], map[string]any{"mysql.num_fields": 2, "mysql.num_rows": 1, "params": "[2]", "path": "shop.items"})
	expect(t, docs[4], map[string]any{"params": "[walnut 42]", "mysql.affected_rows": 1, "mysql.insert_id": 5})
	if n := p.Stats().Requests.Load(); n != 12 {
		t.Errorf("%d requests, want 12 (8 published, 2 closes, ping, quit)", n)
	}
	crossCheck(t, "ps.pcap", docs)
}

// compressed.pcap: `mariadb --compress`; the compressed protocol is
// detected from the handshake and the connection skipped.
func TestCompressedSkipped(t *testing.T) {
	docs, p := replay(t, "compressed.pcap", nil)
	if len(docs) != 0 {
		t.Errorf("%d events from a compressed connection", len(docs))
	}
	s := p.Stats()
	if s.CompressedConns.Load() != 1 || s.Logins.Load() != 1 || s.ParseErrors.Load() != 0 || s.SkippedBytes.Load() == 0 {
		t.Errorf("compressed %d, logins %d, parse errors %d, skipped bytes %d", s.CompressedConns.Load(),
			s.Logins.Load(), s.ParseErrors.Load(), s.SkippedBytes.Load())
	}
}

// slap.pcap: mysqlslap, 3 connections, result sets over many segments.
func TestSlap(t *testing.T) {
	docs, p := replay(t, "slap.pcap", nil)
	if len(docs) != 144 {
		t.Errorf("%d events, want 144", len(docs))
	}
	selects := 0
	for _, d := range docs {
		if d["method"] == "SELECT" && d["path"] == "mysqlslap.t1" {
			selects++
			if n := protocoltest.Get(d, "mysql.num_rows").(float64); n < 100 {
				t.Errorf("SELECT with %v rows", n)
			}
		}
		if d["status"] != "OK" {
			t.Errorf("%v: status %v", d["query"], d["status"])
		}
	}
	if selects != 18 { // tshark: 18 frames with mysql.query containing SELECT
		t.Errorf("%d SELECTs from t1, want 18", selects)
	}
	if n := p.Stats().ParseErrors.Load(); n != 0 {
		t.Errorf("%d parse errors", n)
	}
	crossCheck(t, "slap.pcap", docs)
}

// verbatim.pcap: the mariadb client with DELIMITER //, so the text goes out
// as typed. The query is published as sent, trimmed of surrounding white
// space only (Packetbeat's rule): its semicolon and inner line breaks stay.
func TestVerbatim(t *testing.T) {
	docs, _ := replay(t, "verbatim.pcap", nil)
	byQuery := map[string]map[string]any{}
	for _, d := range docs {
		byQuery[fmt.Sprint(d["query"])] = d

	}
	expect(t, byQuery["SELECT 1 AS one;"], map[string]any{
		"method": "SELECT", "status": "OK", "mysql.num_rows": 1, "mysql.num_fields": 1,
	})
	expect(t, byQuery["SELECT name\nFROM items\nWHERE id = 1;"], map[string]any{
		"method": "SELECT", "status": "OK", "mysql.num_rows": 1, "path": "shop.items",
		"mysql.result_sets": nil, "mysql.more_results": nil,
	})
	// Several results in one response (SERVER_MORE_RESULTS_EXISTS): the
	// mysql fields describe the first, as Packetbeat and tshark show it
	// (frames 14 and 15: one column and row "1", then two columns, "2,3").
	expect(t, byQuery["SELECT 1 AS a; SELECT 2 AS b, 3 AS c"], map[string]any{
		"method": "SELECT", "status": "OK", "mysql.num_fields": 1, "mysql.num_rows": 1,
		"mysql.result_sets": 2, "mysql.more_results.num_rows": 1, "mysql.more_results.affected_rows": 0,
		"mysql.more_results.error_code": nil,
	})
	// A procedure: its two result sets (frames 18, 19) and the CALL's OK
	// (frame 20).
	expect(t, byQuery["CALL two_sets()"], map[string]any{
		"method": "CALL", "status": "OK", "mysql.num_fields": 1, "mysql.num_rows": 1,
		"mysql.result_sets": 3, "mysql.more_results.num_rows": 1, "path": "shop.items",
	})
	if len(docs) != 4 {
		t.Errorf("%d events, want 4", len(docs))
	}
	crossCheck(t, "verbatim.pcap", docs)
}
