package cassandra

import (
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one cassandra transaction: a request frame and its response, or
// a server-pushed EVENT alone (NoRequest).
type Event struct {
	Base ecsmap.Base
	Req  *message // nil for pushed events
	Resp *message
	cfg  *settings
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, req, resp *message) *Event {
	e := &Event{Req: req, Resp: resp, cfg: cfg}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "cassandra"
	b.Status = "OK"
	if resp.h.op == opError {
		b.Status = "Error"
	}
	b.Destination.Bytes = resp.size
	if req != nil {
		b.Start = req.ts
		b.End = resp.ts
		b.Source.Bytes = req.size
	} else {
		b.Start = resp.ts
	}
	if resp.compressed || req != nil && req.compressed {
		b.Notes = append(b.Notes, "compressed frame body not decoded (set compressor: snappy)")
	}
	if resp.bodyErr || req != nil && req.bodyErr {
		b.Notes = append(b.Notes, "frame body shorter than its fields")
	}
	return e
}

func writeHeader(w *ecsmap.Writer, h *header) {
	w.Object("headers")
	w.Str("version", itoa(int32(h.version)))
	w.Str("flags", flagsName(h.flags))
	w.Int("stream", int64(h.stream))
	w.Str("op", opName(h.op))
	w.Int("length", int64(h.length))
	w.End()
}

func writeMeta(w *ecsmap.Writer, k string, m *metadata) {
	if !m.set {
		return
	}
	w.Object(k)
	w.Str("flags", m.flags)
	w.Int("col_count", m.colCount)
	if m.pkeysSet {
		w.ArrayStart("pkey_columns")
		for _, p := range m.pkeys {
			w.ElemInt(p)
		}
		w.ArrayEnd()
	}
	w.OptStr("paging_state", m.pagingState)
	w.OptStr("keyspace", m.keyspace)
	w.OptStr("table", m.table)
	w.End()
}

func writeSchema(w *ecsmap.Writer, s *schemaChange) {
	if !s.set {
		return
	}
	w.Object("schema_change")
	w.OptStr("change", s.change)
	w.OptStr("keyspace", s.keyspace)
	w.OptStr("table", s.table)
	w.OptStr("object", s.object)
	w.OptStr("target", s.target)
	w.OptStr("name", s.name)
	if len(s.args) > 0 {
		w.Strs("args", s.args)
	}
	w.End()
}

// WriteFields implements ecsmap.Event: the cassandra group. As in
// Packetbeat, send_request/send_response decide whether the request and
// response groups are published at all, the *_header options their headers.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	cfg := e.cfg
	w.Object("cassandra")
	if e.Req == nil {
		w.Bool("no_request", true)
	}
	if r := e.Req; r != nil && cfg.common.SendRequest && (cfg.sendRequestHeader || r.query != "") {
		w.Object("request")
		if cfg.sendRequestHeader {
			writeHeader(w, &r.h)
		}
		w.OptStr("query", r.query)
		w.End()
	}
	if cfg.common.SendResponse {
		e.writeResponse(w, e.Resp)
	}
	w.End()
}

func (e *Event) writeResponse(w *ecsmap.Writer, r *message) {
	w.Object("response")
	if e.cfg.sendResponseHeader {
		writeHeader(w, &r.h)
	}
	if r.resultType != "" {
		w.Object("result")
		w.Str("type", r.resultType)
		if r.rowsSet {
			w.Object("rows")
			w.Int("num_rows", r.numRows)
			writeMeta(w, "meta", &r.rowsMeta)
			w.End()
		}
		w.OptStr("keyspace", r.keyspace)
		writeSchema(w, &r.schema)
		if r.resultType == "prepared" {
			w.Object("prepared")
			w.Str("prepared_id", r.preparedID)
			writeMeta(w, "req_meta", &r.reqMeta)
			writeMeta(w, "resp_meta", &r.respMeta)
			w.End()
		}
		w.End()
	}
	if len(r.supported) > 0 {
		w.Object("supported")
		for _, kv := range r.supported {
			w.Strs(kv[0].(string), kv[1].([]string))
		}
		w.End()
	}
	if r.authClass != "" {
		w.Object("authentication")
		w.Str("class", r.authClass)
		w.End()
	}
	if len(r.warnings) > 0 {
		w.Strs("warnings", r.warnings)
	}
	if r.eventType != "" {
		w.Object("event")
		w.Str("type", r.eventType)
		w.OptStr("change", r.evChange)
		w.OptStr("host", r.evHost)
		if r.evPortSet {
			w.Int("port", r.evPort)
		}
		if r.eventType == "SCHEMA_CHANGE" {
			writeSchema(w, &r.schema)
		}
		w.End()
	}
	if r.errSet {
		w.Object("error")
		w.Int("code", r.errCode)
		w.Str("msg", r.errMsg)
		w.Str("type", r.errType)
		if d := &r.errDetails; d.set {
			w.Object("details")
			w.OptStr("read_consistency", d.consistency)
			if d.has&hasRequired != 0 {
				w.Int("required", d.required)
			}
			if d.has&hasAlive != 0 {
				w.Int("alive", d.alive)
			}
			if d.has&hasReceived != 0 {
				w.Int("received", d.received)
			}
			if d.has&hasBlock != 0 {
				w.Int("blockfor", d.block)
			}
			w.OptStr("write_type", d.writeType)
			if d.dataPresent != nil {
				w.Bool("data_present", *d.dataPresent)
			}
			w.OptStr("keyspace", d.keyspace)
			w.OptStr("table", d.table)
			w.OptStr("stmt_id", d.stmtID)
			w.OptStr("num_failures", d.numFailures)
			w.OptStr("function", d.function)
			if len(d.argTypes) > 0 {
				w.Strs("arg_types", d.argTypes)
			}
			w.End()
		}
		w.End()
	}
	w.End()
}
