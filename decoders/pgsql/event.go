package pgsql

import (
	"encoding/csv"
	"strings"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one statement and its result (or the statement alone, when no
// result came).
type Event struct {
	Base          ecsmap.Base
	NumRows       int64
	NumFields     int64
	HasResult     bool
	IsError       bool
	ErrorCode     string
	ErrorMessage  string
	ErrorSeverity string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, st *stmt) *Event {
	e := &Event{
		NumRows:       st.numRows,
		NumFields:     int64(st.numFields),
		HasResult:     !st.end.IsZero(),
		IsError:       st.isError,
		ErrorCode:     st.errCode,
		ErrorMessage:  st.errMsg,
		ErrorSeverity: st.errSeverity,
	}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "pgsql"
	b.Start = st.ts
	b.End = st.end
	b.Method = method(st.query)
	b.Query = st.query
	b.Source.Bytes = st.reqBytes
	b.Destination.Bytes = st.respBytes
	b.Notes = st.notes
	b.Status = "OK"
	if st.isError || !e.HasResult {
		b.Status = "Error"
	}
	if cfg.common.SendRequest {
		b.Request = st.query
	}
	if cfg.common.SendResponse && e.HasResult {
		b.Response = responseText(st.fields, st.rows)
	}
	return e
}

// responseText renders the column names and the kept rows as CSV, with line
// breaks inside values written as \n and \r (Packetbeat's response text).
func responseText(fields []string, rows [][]string) string {
	if len(fields) == 0 && len(rows) == 0 {
		return ""
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	esc := strings.NewReplacer("\n", `\n`, "\r", `\r`)
	rec := make([]string, 0, len(fields))
	if len(fields) > 0 {
		for _, f := range fields {
			rec = append(rec, esc.Replace(f))
		}
		_ = w.Write(rec) // a strings.Builder does not fail
	}
	for _, row := range rows {
		rec = rec[:0]
		for _, v := range row {
			rec = append(rec, esc.Replace(v))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return sb.String()
}

// WriteFields implements ecsmap.Event: the pgsql group. The counts are
// written whenever a result came (Packetbeat writes them even when zero),
// the error fields only for an ErrorResponse.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	if !e.HasResult {
		return
	}
	w.Object("pgsql")
	w.Int("num_rows", e.NumRows)
	w.Int("num_fields", e.NumFields)
	if e.IsError {
		w.OptStr("error_code", e.ErrorCode)
		w.OptStr("error_message", e.ErrorMessage)
		w.OptStr("error_severity", e.ErrorSeverity)
	}
	w.End()
}
