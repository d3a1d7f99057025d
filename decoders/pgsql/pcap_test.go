package pgsql

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/pgsql"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Stats) {
	t.Helper()
	inst, col := protocoltest.New(t, "pgsql", opts)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol).Stats()
}

// expect compares fields by dotted path (JSON numbers as integers); nil
// means absent.
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, protocoltest.Get(doc, "query"))
}

func TestPsqlSession(t *testing.T) {
	docs, stats := replay(t, "psql.pcap", map[string]any{"send_request": true, "send_response": true})
	var queries []string
	for _, d := range docs {
		queries = append(queries, fmt.Sprint(d["query"]))
	}
	wantQueries := []string{
		"CREATE TABLE fruit (id int PRIMARY KEY, name text, colour text);",
		"INSERT INTO fruit VALUES (1, 'apple', 'red'), (2, 'banana', 'yellow'), (3, 'cherry', NULL);",
		"SELECT id, name, colour FROM fruit ORDER BY id;",
		"select g, 'row ' || g AS label from generate_series(1, 25) AS g;",
		"SELECT * FROM no_such_table;",
		"DROP TABLE IF EXISTS not_there;",
		// psql's "\;" sends both statements in one Query message, "... = 3 ;SELECT ...": verbatim
		"UPDATE fruit SET colour = 'dark red' WHERE id = 3 ;",
		"SELECT count(*) FROM fruit;",
		// "SELECT 3 AS three" follows the failing statement: never executed, not published
		"SELECT 1 AS one ;",
		"SELECT 1/0 ;",
		"COPY fruit (id, name, colour) FROM STDIN;",
		"COPY fruit TO STDOUT;",
		// the empty query ";" has no statement
		"DELETE FROM fruit WHERE id > 3;",
	}
	if strings.Join(queries, "\n") != strings.Join(wantQueries, "\n") {
		t.Fatalf("queries:\n%s\nwant:\n%s", strings.Join(queries, "\n"), strings.Join(wantQueries, "\n"))
	}
	// Sizes are the Query message and the backend messages up to
	// CommandComplete (ReadyForQuery excluded): tshark's tcp.len per frame
	// is 53 and 182 = 176 + 6 for the SELECT.
	expect(t, docs[2], map[string]any{
		"type": "pgsql", "method": "SELECT", "status": "OK",
		"pgsql.num_rows": 3, "pgsql.num_fields": 3,
		"source.bytes": 53, "destination.bytes": 176, "network.bytes": 229,
		"source.port": 58292, "destination.port": 5432, "network.protocol": "pgsql",
		"request":          "SELECT id, name, colour FROM fruit ORDER BY id;",
		"response":         "id,name,colour\n1,apple,red\n2,banana,yellow\n3,cherry,\n",
		"pgsql.error_code": nil, "error": nil,
		// frames 18 and 19 (tshark frame.time_epoch 1795656570.391235, .391478)
		"event.start": "2026-11-26T01:29:30.391235Z", "event.end": "2026-11-26T01:29:30.391478Z",
	})
	// 25 rows counted, max_rows (10) kept in the response text.
	expect(t, docs[3], map[string]any{"pgsql.num_rows": 25, "pgsql.num_fields": 2})
	if lines := strings.Count(fmt.Sprint(docs[3]["response"]), "\n"); lines != 11 {
		t.Errorf("response has %d lines, want header + 10 rows", lines)
	}
	expect(t, docs[4], map[string]any{
		"method": "SELECT", "status": "Error", "pgsql.error_code": "42P01",
		"pgsql.error_message": `relation "no_such_table" does not exist`, "pgsql.error_severity": "ERROR",
		"pgsql.num_rows": 0, "pgsql.num_fields": 0, "source.bytes": 34, "destination.bytes": 113,
		"response": nil,
	})
	// The NOTICE before CommandComplete is part of the response, not an error.
	expect(t, docs[5], map[string]any{"method": "DROP", "status": "OK", "pgsql.error_code": nil, "destination.bytes": 133})
	expect(t, docs[6], map[string]any{"method": "UPDATE", "source.bytes": 85, "destination.bytes": 14})
	expect(t, docs[7], map[string]any{"method": "SELECT", "source.bytes": 85, "destination.bytes": 57, "response": "count\n3\n"})
	expect(t, docs[8], map[string]any{"status": "OK", "response": "one\n1\n"})
	expect(t, docs[9], map[string]any{"status": "Error", "pgsql.error_code": "22012", "pgsql.error_message": "division by zero"})
	// COPY FROM STDIN: the CopyData/CopyDone the client sent count in the request.
	expect(t, docs[10], map[string]any{"method": "COPY", "status": "OK", "source.bytes": 88, "destination.bytes": 26})
	expect(t, docs[11], map[string]any{"method": "COPY", "status": "OK", "destination.bytes": 130, "pgsql.num_rows": 0})

	if got := stats.NotExecuted.Load(); got != 1 {
		t.Errorf("NotExecuted = %d, want 1 (SELECT 3 AS three)", got)
	}
	if got := stats.Notices.Load(); got != 1 {
		t.Errorf("Notices = %d, want 1", got)
	}
	if stats.ParseErrors.Load() != 0 || stats.UnmatchedRequests.Load() != 0 {
		t.Errorf("parse errors %d, unmatched requests %d", stats.ParseErrors.Load(), stats.UnmatchedRequests.Load())
	}
	// The EmptyQueryResponse to ";" has no statement.
	if got := stats.UnmatchedResponses.Load(); got != 1 {
		t.Errorf("UnmatchedResponses = %d, want 1", got)
	}
	crossCheck(t, "psql.pcap", docs)
}

func TestMaxRowsOptions(t *testing.T) {
	docs, _ := replay(t, "psql.pcap", map[string]any{"send_response": true, "max_rows": 2, "max_row_length": 7})
	// Row 1: "1" + "apple" = 6 bytes, "red" cut to 1; row 2: "2" + "banana"
	// reach 7, so the colour column is left out (Packetbeat's rule).
	expect(t, docs[2], map[string]any{"response": "id,name,colour\n1,apple,r\n2,banana\n", "pgsql.num_rows": 3})
	docs, _ = replay(t, "psql.pcap", nil)
	expect(t, docs[2], map[string]any{"response": nil, "request": nil, "pgsql.num_rows": 3, "pgsql.num_fields": 3})
}

func TestExtended(t *testing.T) {
	docs, stats := replay(t, "extended.pcap", nil)
	// pgbench -c 2 -t 5: two simple queries at start-up, then 5 x 7
	// statements per client as Parse/Bind/Describe/Execute/Sync.
	if len(docs) != 2+2*5*7 {
		t.Fatalf("%d events, want 72", len(docs))
	}
	methods := map[string]int{}
	for _, d := range docs {
		methods[fmt.Sprint(d["method"])]++
		if d["status"] != "OK" {
			t.Errorf("%v: status %v", d["query"], d["status"])
		}
	}
	want := map[string]int{"BEGIN": 10, "UPDATE": 30, "SELECT": 12, "INSERT": 10, "END": 10}
	if fmt.Sprint(methods) != fmt.Sprint(want) {
		t.Errorf("methods %v, want %v", methods, want)
	}
	// The first extended statement: frame 48 (tcp.len 156: Parse, Bind,
	// Describe, Execute, Sync) answered by frame 49 (tcp.len 32: ParseComplete,
	// BindComplete, NoData, CommandComplete, then 6 bytes of ReadyForQuery).
	expect(t, docs[2], map[string]any{
		"query": "BEGIN;", "method": "BEGIN", "source.bytes": 156, "destination.bytes": 26,
		"source.port": 58316, "pgsql.num_rows": 0, "pgsql.num_fields": 0,
	})
	for _, d := range docs {
		if d["query"] == "SELECT abalance FROM pgbench_accounts WHERE aid = $1;" {
			expect(t, d, map[string]any{"pgsql.num_rows": 1, "pgsql.num_fields": 1})
		}
	}
	if stats.ParseErrors.Load() != 0 || stats.NotExecuted.Load() != 0 || stats.UnmatchedResponses.Load() != 0 {
		t.Errorf("stats: %+v", stats)
	}
	crossCheck(t, "extended.pcap", docs)
}

func TestPrepared(t *testing.T) {
	docs, _ := replay(t, "prepared.pcap", map[string]any{"send_response": true})
	// Two start-up queries, then five executions of statement P_0, parsed
	// once (Parse+Sync alone, no statement) and bound by name.
	if len(docs) != 7 {
		t.Fatalf("%d events, want 7", len(docs))
	}
	for _, d := range docs[2:] {
		expect(t, d, map[string]any{
			"query": "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", "method": "SELECT",
			"pgsql.num_rows": 1, "pgsql.num_fields": 1, "status": "OK",
		})
		if r := fmt.Sprint(d["response"]); !strings.HasPrefix(r, "abalance\n") {
			t.Errorf("response %q", r)
		}
	}
	crossCheck(t, "prepared.pcap", docs)
}

// crossCheck compares our events with tshark's pgsql dissector, when tshark
// is installed: the CommandComplete tags "SELECT n" (in order) against our
// SELECT events' num_rows, the SQLSTATE codes of ErrorResponses against our
// error codes, the Execute count against our extended statements, and each
// of our queries against the Query/Parse texts tshark saw.
func crossCheck(t *testing.T, name string, docs []map[string]any) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return
	}
	const agg = "\x1f"
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-d", "tcp.port==5432,pgsql",
		"-T", "fields", "-E", "aggregator="+agg, "-E", "occurrence=a",
		"-e", "pgsql.type", "-e", "pgsql.query", "-e", "pgsql.tag", "-e", "pgsql.code", "-e", "pgsql.severity").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var tags, codes, texts []string
	executes := 0
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 5 {
			continue
		}
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, agg)
		}
		executes += strings.Count(f[0], "Execute")
		texts = append(texts, split(f[1])...)
		tags = append(tags, split(f[2])...)
		sev := split(f[4])
		for i, c := range split(f[3]) {
			if i < len(sev) && (sev[i] == "ERROR" || sev[i] == "FATAL" || sev[i] == "PANIC") {
				codes = append(codes, c)
			}
		}
	}
	var ourRows, theirRows, ourCodes []string
	for _, tag := range tags {
		if n, ok := strings.CutPrefix(tag, "SELECT "); ok {
			theirRows = append(theirRows, n)
		}
	}
	extended := 0
	for _, d := range docs {
		q := fmt.Sprint(d["query"])
		if d["method"] == "SELECT" && d["status"] == "OK" {
			ourRows = append(ourRows, strconv.Itoa(int(protocoltest.Get(d, "pgsql.num_rows").(float64))))
		}
		if c := protocoltest.Get(d, "pgsql.error_code"); c != nil {
			ourCodes = append(ourCodes, fmt.Sprint(c))
		}
		if strings.Contains(q, "$") || strings.HasSuffix(name, "extended.pcap") && !strings.HasPrefix(q, "select") {
			extended++
		}
		found := false
		// Verbatim: the whole text the client sent, or one statement of a
		// text that held several.
		for _, x := range texts {
			if x == q || strings.Contains(x, q) && len(splitStatements(x)) > 1 {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("query %q not among tshark's query texts", q)
		}
	}
	if fmt.Sprint(ourRows) != fmt.Sprint(theirRows) {
		t.Errorf("SELECT rows: ours %v, tshark tags %v", ourRows, theirRows)
	}
	if fmt.Sprint(ourCodes) != fmt.Sprint(codes) {
		t.Errorf("error codes: ours %v, tshark %v", ourCodes, codes)
	}
	if executes > 0 && extended != executes {
		t.Errorf("%d extended statements, tshark counts %d Execute messages", extended, executes)
	}
	t.Logf("%s: tshark agrees on %d SELECT row counts, %d error codes, %d Executes", name, len(theirRows), len(codes), executes)
}
