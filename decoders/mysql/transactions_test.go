package mysql

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

var t0 = time.Unix(1700000000, 0)

// harness drives one connection like the TCP stream does: unconsumed bytes
// are kept and handed back with the next ones.
type harness struct {
	t       testing.TB
	p       *Protocol
	c       protocol.TCPParser
	col     *protocoltest.Collector
	pending [2][]byte
	ts      time.Time
}

func newHarness(t testing.TB, opts map[string]any) *harness {
	inst, col := protocoltest.New(t, "mysql", opts)
	p := inst.TCP.(*Protocol)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:3306"), IPProtocol: 6}
	return &harness{t: t, p: p, c: p.NewConn(&conn), col: col, ts: t0}
}

func (h *harness) send(dir protocol.Dir, data []byte) {
	h.ts = h.ts.Add(time.Millisecond)
	buf := append(h.pending[dir], data...)
	n := h.c.Parse(dir, buf, h.ts)
	if n < 0 || n > len(buf) {
		h.t.Fatalf("consumed %d of %d", n, len(buf))
	}
	h.pending[dir] = append([]byte(nil), buf[n:]...)
}

func (h *harness) gap(dir protocol.Dir, n int) {
	h.pending[dir] = nil
	h.c.Gap(dir, n, h.ts)
}

// Wire builders.

func pkt(seq byte, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	return append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)
}

func lenc(n int) []byte {
	switch {
	case n < 251:
		return []byte{byte(n)}
	case n < 1<<16:
		return []byte{0xfc, byte(n), byte(n >> 8)}
	default:
		return []byte{0xfd, byte(n), byte(n >> 8), byte(n >> 16)}
	}
}

func lstr(s string) []byte { return append(lenc(len(s)), s...) }

func u16(v int) []byte { return []byte{byte(v), byte(v >> 8)} }

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func greeting(caps uint32) []byte {
	return pkt(0, []byte{0x0a}, []byte("10.11.19-MariaDB\x00"), u32(7), []byte("abcdefgh\x00"),
		u16(int(caps&0xffff)), []byte{45}, u16(2), u16(int(caps>>16)), []byte{21}, make([]byte, 10),
		[]byte("ijklmnopqrst\x00mysql_native_password\x00"))
}

func login(caps uint32) []byte {
	return pkt(1, u32(caps), u32(1<<24), []byte{45}, make([]byte, 23), []byte("root\x00\x00"))
}

func okp(seq byte, affected, insert, status int) []byte {
	return pkt(seq, []byte{0}, lenc(affected), lenc(insert), u16(status), u16(0))
}

func okEOF(seq byte, status int) []byte { return pkt(seq, []byte{0xfe, 0, 0}, u16(status), u16(0)) }

func eof(seq byte, status int) []byte { return pkt(seq, []byte{0xfe, 0, 0}, u16(status)) }

func errp(seq byte, code int, state, msg string) []byte {
	return pkt(seq, []byte{0xff}, u16(code), []byte("#"+state+msg))
}

func colDef(seq byte, schema, table, name string) []byte {
	return pkt(seq, lstr("def"), lstr(schema), lstr(table), lstr(table), lstr(name), lstr(name),
		[]byte{0x0c}, u16(45), u32(128), []byte{0xfd}, u16(0), []byte{0, 0, 0})
}

func row(seq byte, vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		if v == "NULL" {
			b = append(b, 0xfb)
		} else {
			b = append(b, lstr(v)...)
		}
	}
	return pkt(seq, b)
}

func query(q string) []byte { return pkt(0, []byte{comQuery}, []byte(q)) }

const (
	capsEOF = capProtocol41 | 0x8000 | 0x80000 // no DEPRECATE_EOF
	capsDep = capsEOF | capDeprecateEOF
)

// resultSet is a two-column result in EOF mode (dep=false) or with
// DEPRECATE_EOF.
func resultSet(dep bool, rows ...[]string) []byte {
	var b []byte
	b = append(b, pkt(1, lenc(2))...)
	b = append(b, colDef(2, "shop", "items", "name")...)
	b = append(b, colDef(3, "shop", "items", "price")...)
	seq := byte(4)
	if !dep {
		b = append(b, eof(seq, 2)...)
		seq++
	}
	for _, r := range rows {
		b = append(b, row(seq, r...)...)
		seq++
	}
	if dep {
		return append(b, okEOF(seq, 2)...)
	}
	return append(b, eof(seq, 2)...)
}

func summary(docs []map[string]any) string {
	var lines []string
	for _, d := range docs {
		lines = append(lines, fmt.Sprintf("%v|%v|%v|%v|%v|%v|%v|%v", d["method"], d["status"], d["query"], d["path"],
			protocoltest.Get(d, "mysql"), protocoltest.Get(d, "source.bytes"), protocoltest.Get(d, "destination.bytes"), protocoltest.Get(d, "error.message")))
	}
	return strings.Join(lines, "\n")
}

// conversation is a whole connection in both directions, in order.
type step struct {
	dir  protocol.Dir
	data []byte
}

func conversation(dep bool) []step {
	caps := uint32(capsEOF)
	if dep {
		caps = capsDep
	}
	rows := [][]string{{"apple", "3"}, {"fig", "NULL"}}
	return []step{
		{protocol.FromServer, greeting(caps | capDeprecateEOF)},
		{protocol.FromClient, login(caps)},
		{protocol.FromServer, okp(2, 0, 0, 2)},
		{protocol.FromClient, query("SELECT name, price FROM items")},
		{protocol.FromServer, resultSet(dep, rows...)},
		{protocol.FromClient, query("SELECT name, price FROM items WHERE 0")},
		{protocol.FromServer, resultSet(dep)},
		{protocol.FromClient, pkt(0, []byte{comPing})},
		{protocol.FromServer, okp(1, 0, 0, 2)},
		{protocol.FromClient, query("insert into items values ('kiwi', 4)")},
		{protocol.FromServer, okp(1, 1, 9, 2)},
		{protocol.FromClient, query("DROP TABLE nope")},
		{protocol.FromServer, errp(1, 1051, "42S02", "Unknown table 'shop.nope'")},
	}
}

func run(t *testing.T, steps []step, chunk int, opts map[string]any) (*harness, string) {
	h := newHarness(t, opts)
	for _, s := range steps {
		for i := 0; i < len(s.data); i += chunk {
			h.send(s.dir, s.data[i:min(i+chunk, len(s.data))])
		}
	}
	h.c.Close(h.ts)
	return h, summary(h.col.Docs)
}

func TestConversationAnySplit(t *testing.T) {
	for _, dep := range []bool{false, true} {
		_, want := run(t, conversation(dep), 1<<20, nil)
		exp := "SELECT|OK|SELECT name, price FROM items|shop.items|map[affected_rows:0 insert_id:0 num_fields:2 num_rows:2]"
		if !strings.HasPrefix(want, exp) {
			t.Fatalf("dep=%v: got\n%s", dep, want)
		}
		if n := strings.Count(want, "\n") + 1; n != 4 {
			t.Fatalf("dep=%v: %d events (ping is not published):\n%s", dep, n, want)
		}
		for _, frag := range []string{
			"SELECT|OK|SELECT name, price FROM items WHERE 0|shop.items|map[affected_rows:0 insert_id:0 num_fields:2 num_rows:0]",
			"INSERT|OK|insert into items values ('kiwi', 4)|<nil>|map[affected_rows:1 insert_id:9 num_fields:0 num_rows:0]|41|11",
			"DROP|Error|DROP TABLE nope|<nil>|map[affected_rows:0 error_code:1051 error_message:42S02: Unknown table 'shop.nope' insert_id:0 num_fields:0 num_rows:0]",
		} {
			if !strings.Contains(want, frag) {
				t.Errorf("dep=%v: missing %q in\n%s", dep, frag, want)
			}
		}
		for _, chunk := range []int{1, 2, 3, 5, 7, 13, 64} {
			if _, got := run(t, conversation(dep), chunk, nil); got != want {
				t.Errorf("dep=%v chunk %d:\n%s\nwant\n%s", dep, chunk, got, want)
			}
		}
	}
}

// A capture that starts mid-connection: no greeting, so whether result sets
// end with EOF or OK packets is guessed from the packets themselves.
func TestMidStreamJoin(t *testing.T) {
	for _, dep := range []bool{false, true} {
		steps := conversation(dep)[3:]
		h, got := run(t, steps, 1<<20, nil)
		_, want := run(t, conversation(dep), 1<<20, nil)
		if got != want {
			t.Errorf("dep=%v:\n%s\nwant\n%s", dep, got, want)
		}
		if h.p.stats.ParseErrors.Load() != 0 {
			t.Errorf("dep=%v: parse errors", dep)
		}
	}
	// Joining during a response: it is skipped, the next exchange pairs.
	h := newHarness(t, nil)
	h.send(protocol.FromServer, resultSet(false, []string{"a", "1"}))
	h.send(protocol.FromClient, query("SELECT 1"))
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	if len(h.col.Docs) != 1 || h.p.stats.UnmatchedResponses.Load() == 0 {
		t.Errorf("events %s, unmatched responses %d", summary(h.col.Docs), h.p.stats.UnmatchedResponses.Load())
	}
}

func TestGaps(t *testing.T) {
	// A gap inside a long row payload keeps framing: rows are counted and
	// the event notes the loss.
	h := newHarness(t, nil)
	h.send(protocol.FromClient, query("SELECT name, price FROM items"))
	rs := resultSet(false, []string{strings.Repeat("x", 3000), "1"}, []string{"b", "2"})
	rowStart := len(pkt(1, lenc(2))) + 2*len(colDef(2, "shop", "items", "name")) + len(eof(4, 2))
	h.send(protocol.FromServer, rs[:rowStart+100])
	h.gap(protocol.FromServer, 1000)
	h.send(protocol.FromServer, rs[rowStart+1100:])
	if len(h.col.Docs) != 1 {
		t.Fatalf("%d events", len(h.col.Docs))
	}
	expect(t, h.col.Docs[0], map[string]any{"mysql.num_rows": 2, "status": "OK",
		"error.message": "Packet loss while capturing the response", "destination.bytes": len(rs)})

	// A gap across packet boundaries loses framing: the response is
	// published with a note and the next exchange decodes.
	h = newHarness(t, nil)
	h.send(protocol.FromClient, query("SELECT name, price FROM items"))
	h.send(protocol.FromServer, rs[:10])
	h.gap(protocol.FromServer, 5000)
	h.send(protocol.FromServer, []byte("garbage that is not a packet"))
	h.send(protocol.FromClient, query("SELECT 1"))
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	if got := summary(h.col.Docs); !strings.Contains(got, "SELECT|OK|SELECT name, price FROM items|<nil>|map[affected_rows:0 insert_id:0 num_fields:2 num_rows:0]|34|5|Packet loss while capturing the response") ||
		!strings.Contains(got, "SELECT|OK|SELECT 1|") {
		t.Errorf("after server gap:\n%s", got)
	}

	// Client side: after a lost framing, bytes are skipped until one
	// looks like a command (commandProbe). The server answers the cut
	// command first: that response pairs with nothing, and the next
	// command, sent after it, pairs with its own.
	h = newHarness(t, nil)
	q := query("SELECT " + strings.Repeat("1,", 100) + "1")
	h.send(protocol.FromClient, q[:20])
	h.gap(protocol.FromClient, 50)
	h.send(protocol.FromClient, q[70:])
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	h.send(protocol.FromClient, query("SELECT 2"))
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	if got := summary(h.col.Docs); !strings.HasPrefix(got, "SELECT|OK|SELECT 2|") || h.p.stats.GapDrops.Load() != 1 {
		t.Errorf("after client gap: %q, gap drops %d", got, h.p.stats.GapDrops.Load())
	}
}

func TestLargeMessages(t *testing.T) {
	h := newHarness(t, map[string]any{"send_request": true})
	big := "SELECT '" + strings.Repeat("q", 100<<10) + "'"
	msg := query(big)
	for i := 0; i < len(msg); i += 1448 {
		h.send(protocol.FromClient, msg[i:min(i+1448, len(msg))])
	}
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	if len(h.col.Docs) != 1 {
		t.Fatalf("%d events", len(h.col.Docs))
	}
	d := h.col.Docs[0]
	if q := d["query"].(string); len(q) != maxInspect-1 || !strings.HasPrefix(big, q) {
		t.Errorf("query of %d bytes", len(q))
	}
	expect(t, d, map[string]any{"error.message": "Query truncated at 65536 bytes", "source.bytes": len(msg)})

	// A payload of exactly 0xffffff bytes continues in the next packet.
	h = newHarness(t, nil)
	huge := make([]byte, maxPayload+10)
	huge[0] = comQuery
	copy(huge[1:], "INSERT INTO blobs VALUES ('")
	first := append([]byte{0xff, 0xff, 0xff, 0}, huge[:maxPayload]...)
	second := append([]byte{10, 0, 0, 1}, huge[maxPayload:]...)
	stream := append(first, second...)
	for i := 0; i < len(stream); i += 65536 {
		h.send(protocol.FromClient, stream[i:min(i+65536, len(stream))])
	}
	h.send(protocol.FromServer, okp(2, 1, 0, 2))
	if len(h.col.Docs) != 1 {
		t.Fatalf("%d events", len(h.col.Docs))
	}
	expect(t, h.col.Docs[0], map[string]any{"method": "INSERT", "mysql.affected_rows": 1, "source.bytes": len(stream)})
	if len(h.pending[protocol.FromClient]) > 0 || h.p.stats.ParseErrors.Load() != 0 {
		t.Errorf("pending %d, parse errors %d", len(h.pending[0]), h.p.stats.ParseErrors.Load())
	}
}

func TestSendResponse(t *testing.T) {
	h := newHarness(t, map[string]any{"send_response": true, "max_rows": 2, "max_row_length": 6})
	h.send(protocol.FromClient, query("SELECT name, price FROM items"))
	h.send(protocol.FromServer, resultSet(true, []string{"apple", "3"}, []string{"pear, ripe", "5"}, []string{"plum", "7"}))
	h.c.Close(h.ts)
	expect(t, h.col.Docs[0], map[string]any{"response": "name,price\napple,3\n\"pear, \"\n", "mysql.num_rows": 3})
}

func TestMultiResultsAndInfile(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, query("CALL p()"))
	rs := resultSet(false, []string{"a", "1"})
	rs = append(rs[:len(rs)-len(eof(5, 2))], eof(5, 2|statusMoreResults)...)
	h.send(protocol.FromServer, append(rs, okp(6, 0, 0, 2)...))
	// LOAD DATA LOCAL INFILE: 0xfb asks for the file, the client streams
	// it (sequence 2..), the server's OK answers the query.
	h.send(protocol.FromClient, query("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"))
	h.send(protocol.FromServer, pkt(1, []byte{0xfb}, []byte("x")))
	h.send(protocol.FromClient, append(pkt(2, []byte("1\n2\n3\n")), pkt(3)...))
	h.send(protocol.FromServer, okp(4, 3, 0, 2))
	h.c.Close(h.ts)
	got := summary(h.col.Docs)
	want := "CALL|OK|CALL p()|shop.items|map[affected_rows:0 insert_id:0 more_results:map[affected_rows:0 num_rows:0] num_fields:2 num_rows:1 result_sets:2]|13|" + fmt.Sprint(len(rs)+11) + "|<nil>\n" +
		"LOAD|OK|LOAD DATA LOCAL INFILE 'x' INTO TABLE t|<nil>|map[affected_rows:3 insert_id:0 num_fields:0 num_rows:0]|58|17|<nil>"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTimeouts(t *testing.T) {
	h := newHarness(t, map[string]any{"transaction_timeout": "2s", "statement_timeout": "1m"})
	h.send(protocol.FromServer, greeting(capsDep))
	h.send(protocol.FromClient, login(capsDep))
	h.send(protocol.FromServer, okp(2, 0, 0, 2))
	h.send(protocol.FromClient, pkt(0, []byte{comStmtPrepare}, []byte("SELECT ? + 1")))
	h.send(protocol.FromServer, append(pkt(1, []byte{0}, u32(7), u16(1), u16(1), []byte{0}, u16(0)),
		append(colDef(2, "", "", "?"), colDef(3, "", "", "? + 1")...)...))
	exec := pkt(0, []byte{comStmtExecute}, u32(7), []byte{0}, u32(1), []byte{0, 1, typeLongLong, 0}, binary.LittleEndian.AppendUint64(nil, 41))
	h.send(protocol.FromClient, exec)
	h.send(protocol.FromServer, append(append(pkt(1, lenc(1)), colDef(2, "", "", "? + 1")...),
		append(pkt(3, []byte{0, 0}, binary.LittleEndian.AppendUint64(nil, 42)), okEOF(4, 2)...)...))
	// The statement is forgotten after statement_timeout.
	h.c.Expire(h.ts.Add(2 * time.Minute))
	h.ts = h.ts.Add(2 * time.Minute)
	h.send(protocol.FromClient, exec)
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	// A request without a response is published after transaction_timeout.
	h.send(protocol.FromClient, query("SELECT SLEEP(100)"))
	h.c.Expire(h.ts.Add(time.Second))
	if len(h.col.Docs) != 3 {
		t.Fatalf("%d events before the timeout", len(h.col.Docs))
	}
	h.c.Expire(h.ts.Add(3 * time.Second))
	docs := h.col.Docs
	if len(docs) != 4 {
		t.Fatalf("%d events:\n%s", len(docs), summary(docs))
	}
	expect(t, docs[0], map[string]any{"method": "SELECT", "query": "SELECT ? + 1", "mysql.num_fields": 1})
	expect(t, docs[1], map[string]any{"query": "SELECT ? + 1", "params": "[41]", "mysql.num_rows": 1})
	expect(t, docs[2], map[string]any{"method": "EXECUTE", "query": nil,
		"error.message": "Statement 7 was prepared before the capture started: its query is unknown"})
	expect(t, docs[3], map[string]any{"query": "SELECT SLEEP(100)", "status": "Error", "mysql": nil,
		"error.message": "Unmatched request: no response seen", "event.end": nil})
	if h.p.stats.UnmatchedRequests.Load() != 1 {
		t.Errorf("unmatched %d", h.p.stats.UnmatchedRequests.Load())
	}
}

func TestKeepNullParams(t *testing.T) {
	h := newHarness(t, map[string]any{"keep_null": true})
	h.send(protocol.FromClient, pkt(0, []byte{comStmtPrepare}, []byte("SELECT ?, ?")))
	h.send(protocol.FromServer, append(pkt(1, []byte{0}, u32(1), u16(0), u16(2), []byte{0}, u16(0)),
		append(colDef(2, "", "", "?"), colDef(3, "", "", "?")...)...))
	h.send(protocol.FromClient, pkt(0, []byte{comStmtExecute}, u32(1), []byte{0}, u32(1), []byte{2, 1, typeVarString, 0, typeNull, 0}, lstr("a\"b")))
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	expect(t, h.col.Docs[1], map[string]any{"params": "a\"b, NULL", "path": nil})
	if !bytes.Contains(h.col.Raw[1], []byte(`"path":null`)) {
		t.Errorf("keep_null: %s", h.col.Raw[1])
	}
}

func TestSkippedConnections(t *testing.T) {
	// SSL request: the TLS handshake follows and is not parsed.
	h := newHarness(t, nil)
	h.send(protocol.FromServer, greeting(capsEOF|capSSL))
	h.send(protocol.FromClient, pkt(1, u32(capsEOF|capSSL), u32(1<<24), []byte{45}, make([]byte, 23)))
	h.send(protocol.FromClient, []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 random client hello"))
	h.send(protocol.FromServer, []byte("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03 server hello"))
	if len(h.col.Docs) != 0 || h.p.stats.TLSConns.Load() != 1 || h.p.stats.ParseErrors.Load() != 0 {
		t.Errorf("TLS: %d events, tls %d, errors %d", len(h.col.Docs), h.p.stats.TLSConns.Load(), h.p.stats.ParseErrors.Load())
	}
	// A failed login ends the connection's decoding.
	h = newHarness(t, nil)
	h.send(protocol.FromServer, greeting(capsEOF))
	h.send(protocol.FromClient, login(capsEOF))
	h.send(protocol.FromServer, errp(2, 1045, "28000", "Access denied"))
	if h.p.stats.LoginFailures.Load() != 1 || len(h.col.Docs) != 0 {
		t.Errorf("login failures %d", h.p.stats.LoginFailures.Load())
	}
}

func TestMalformed(t *testing.T) {
	h := newHarness(t, nil)
	h.send(protocol.FromClient, pkt(0, []byte{0x7f, 1, 2}))
	h.send(protocol.FromServer, errp(1, 1047, "08S01", "Unknown command"))
	h.send(protocol.FromClient, query("SELECT 1"))
	h.send(protocol.FromServer, pkt(1, []byte{0xfc})) // truncated column count
	h.send(protocol.FromServer, []byte("junk junk junk"))
	h.send(protocol.FromClient, query("SELECT 2"))
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	got := summary(h.col.Docs)
	if !strings.Contains(got, "SELECT|OK|SELECT 1|<nil>|map[affected_rows:0 insert_id:0 num_fields:0 num_rows:0]|13|5|MySQL parse error: invalid length-encoded integer") ||
		!strings.Contains(got, "SELECT|OK|SELECT 2|") {
		t.Errorf("got\n%s", got)
	}
	if n := h.p.stats.ParseErrors.Load(); n != 2 {
		t.Errorf("%d parse errors, want 2", n)
	}
}

func TestConfig(t *testing.T) {
	spec, _ := protocol.Lookup("mysql")
	for _, bad := range []map[string]any{{"max_rows": -1}, {"max_row_lenght": 3}, {"statement_timeout": "soon"}, {"statement_timeout": "0s"}} {
		c, o, err := protocol.SplitCommon(spec, bad)
		if err == nil {
			_, err = spec.New(c, o, protocol.PublisherFunc(nil))
		}
		if err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	c, o, _ := protocol.SplitCommon(spec, map[string]any{"max_rows": 3, "statement_timeout": "30m"})
	inst, err := spec.New(c, o, protocol.PublisherFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := inst.TCP.(*Protocol).cfg
	if s.maxRows != 3 || s.maxRowLength != 1024 || s.statementTimeout != 30*time.Minute || fmt.Sprint(inst.Common.Ports) != "[3306 3307]" {
		t.Errorf("settings %+v ports %v", s, inst.Common.Ports)
	}
}

// Requests that never get a response are bounded per connection: the
// oldest waiting one is published alone when the queue is full.
func TestQueueBound(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < maxQueue+6; i++ {
		h.send(protocol.FromClient, query(fmt.Sprintf("SELECT %d", i)))
	}
	c := h.c.(*connection)
	if len(c.queue) != maxQueue || len(h.col.Docs) != 6 || h.col.Docs[0]["query"] != "SELECT 0" {
		t.Fatalf("queue %d, %d events", len(c.queue), len(h.col.Docs))
	}
	// The response pairs with the oldest request still waiting.
	h.send(protocol.FromServer, okp(1, 0, 0, 2))
	expect(t, h.col.Docs[6], map[string]any{"query": "SELECT 6", "status": "OK"})
}
