package mysql

import (
	"bytes"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one MySQL transaction: a command and its response (or the
// command alone when the response never came). It is allocated once per
// transaction and filled as the response's packets go by.
type Event struct {
	Base ecsmap.Base

	HasResponse            bool
	AffectedRows, InsertID uint64
	NumFields, NumRows     int64
	NumParams              int // COM_STMT_PREPARE: placeholders (not published)
	IsError                bool
	ErrorCode              uint16
	ErrorMessage           string
	// Params are a prepared statement's bound values (Packetbeat's params,
	// an array of strings).
	Params []string
	// More sums up the results after the first of a response that carries
	// several (a multi-statement query, a procedure's result sets and its
	// final OK); the fields above describe the first.
	More struct {
		NumRows      int64
		AffectedRows uint64
		ErrorCode    uint16 // the failed statement that ended the response
		ErrorMessage string
	}
	results int // results before the current one

	tables  []byte   // "db.table, db.table2": the root path
	columns []string // send_response: column names
	rows    [][]string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func (e *Event) note(s string) {
	for _, n := range e.Base.Notes {
		if n == s {
			return
		}
	}
	e.Base.Notes = append(e.Base.Notes, s)
}

// newRequestEvent starts the event of a command carrying SQL text: the
// query as sent, trimmed of surrounding white space only (Packetbeat's
// rule: a trailing semicolon and the line breaks inside stay), and its
// first word upper-cased as the method.
func newRequestEvent(c *connection, ts time.Time, plen int, query []byte, truncated bool) *Event {
	ev := &Event{}
	b := &ev.Base
	b.Start = ts
	b.Source.Bytes = int64(plen + 4)
	// mysqlslap sends a terminating NUL with each query: a C string's end,
	// not text.
	q := string(bytes.Trim(bytes.TrimRight(query, "\x00"), " \r\n\t"))
	b.Query = q
	method := q
	if i := strings.IndexAny(q, " \r\n\t(;"); i > 0 {
		method = q[:i]
	}
	b.Method = strings.ToUpper(method)
	if c.p.cfg.common.SendRequest {
		b.Request = q
	}
	if truncated {
		b.Notes = append(b.Notes, "Query truncated at 65536 bytes")
	}
	return ev
}

// addTable adds schema.table to the path unless it is there already.
func (e *Event) addTable(schema, table []byte) {
	n := len(schema) + 1 + len(table)
	for rest := e.tables; len(rest) > 0; {
		item := rest
		if i := bytes.Index(rest, []byte(", ")); i >= 0 {
			item, rest = rest[:i], rest[i+2:]
		} else {
			rest = nil
		}
		if len(item) == n && bytes.HasPrefix(item, schema) && item[len(schema)] == '.' && bytes.HasSuffix(item, table) {
			return
		}
	}
	if len(e.tables) > 0 {
		if len(e.tables) > 4096 {
			return // a result over hundreds of tables: enough
		}
		e.tables = append(e.tables, ", "...)
	}
	e.tables = append(append(append(e.tables, schema...), '.'), table...)
}

func (e *Event) addColumn(name []byte) {
	if len(e.columns) < 4096 {
		e.columns = append(e.columns, string(name))
	}
}

// addRow keeps the values of a text-protocol row, at most maxLen bytes of
// them in all (Packetbeat's max_row_length); NULL is written as NULL.
func (e *Event) addRow(p []byte, maxLen int) {
	var row []string
	total := 0
	for len(p) > 0 && total < maxLen {
		var v []byte
		if p[0] == 0xfb {
			v, p = []byte("NULL"), p[1:]
		} else {
			s, n, err := lenEncString(p)
			if err != nil && (err != errTruncated || n == 0) {
				break
			}
			v, p = s, p[n:]
		}
		if total+len(v) > maxLen {
			v = v[:maxLen-total]
		}
		total += len(v)
		row = append(row, string(v))
	}
	e.rows = append(e.rows, row)
}

// finish fills the connection fields and the root summary before publishing.
func (e *Event) finish(cfg *settings, conn *protocol.Conn) {
	b := &e.Base
	conn.FillBase(b)
	b.Type = "mysql"
	b.Path = string(e.tables)
	if !e.HasResponse {
		// One-sided, as the other protocols publish it (and Packetbeat's
		// pgsql): status Error with the reason.
		b.End = time.Time{}
		b.Status = "Error"
		b.Notes = append(b.Notes, "Unmatched request: no response seen")
		return
	}
	b.Status = "OK"
	if e.IsError {
		b.Status = "Error"
	}
	if cfg.common.SendResponse {
		b.Response = e.csv()
	}
	if cfg.common.KeepNull && len(e.Params) > 0 {
		// ecsmap.Encode writes "params" itself (a string) and, with
		// keep_null, null when empty: the array cannot be written
		// beside it, so the values go there joined.
		b.Params = strings.Join(e.Params, ", ")
	}
}

// csv renders the response as Packetbeat does for send_response: the column
// names, then the kept rows, as CSV lines.
func (e *Event) csv() string {
	if len(e.columns) == 0 && len(e.rows) == 0 {
		return ""
	}
	var sb strings.Builder
	line := func(vals []string) {
		for i, v := range vals {
			if i > 0 {
				sb.WriteByte(',')
			}
			if strings.ContainsAny(v, ",\"\r\n") || strings.HasPrefix(v, " ") {
				sb.WriteByte('"')
				sb.WriteString(strings.ReplaceAll(v, `"`, `""`))
				sb.WriteByte('"')
			} else {
				sb.WriteString(v)
			}
		}
		sb.WriteByte('\n')
	}
	line(e.columns)
	for _, r := range e.rows {
		line(r)
	}
	return sb.String()
}

// WriteFields writes the mysql group (and params, see finish).
func (e *Event) WriteFields(w *ecsmap.Writer) {
	if len(e.Params) > 0 && e.Base.Params == "" {
		w.Strs("params", e.Params)
	}
	if !e.HasResponse {
		return
	}
	w.Object("mysql")
	w.Uint("affected_rows", e.AffectedRows)
	w.Uint("insert_id", e.InsertID)
	w.Int("num_fields", e.NumFields)
	w.Int("num_rows", e.NumRows)
	if e.IsError {
		w.Int("error_code", int64(e.ErrorCode))
		w.Str("error_message", e.ErrorMessage)
	}
	if e.results > 0 {
		w.Int("result_sets", int64(e.results)+1)
		w.Object("more_results")
		w.Int("num_rows", e.More.NumRows)
		w.Uint("affected_rows", e.More.AffectedRows)
		if e.More.ErrorCode != 0 {
			w.Int("error_code", int64(e.More.ErrorCode))
			w.Str("error_message", e.More.ErrorMessage)
		}
		w.End()
	}
	w.End()
}
