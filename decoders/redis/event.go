package redis

import (
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one Redis transaction: a command and its reply, or a command
// alone (unmatched). Replies without a command are not published, as in
// Packetbeat.
type Event struct {
	Base ecsmap.Base
	// HasReply is false for an unmatched command.
	HasReply bool
	// ReturnValue is the rendered reply (redis.return_value), Error the
	// error reply's text (redis.error); exactly one is set when HasReply.
	ReturnValue string
	Error       string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, req *request, resp *message, note string) *Event {
	e := &Event{}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "redis"
	b.Start = req.ts
	b.Source.Bytes = req.size
	b.Method = req.method
	b.Resource = req.resource
	b.Query = req.query
	if req.method != "" {
		b.Action = action(req.method)
	}
	if cfg.common.SendRequest {
		b.Request = req.text
	}
	if resp == nil {
		b.Status = "Error"
		b.Notes = append(b.Notes, note)
		return e
	}
	e.HasReply = true
	b.End = resp.ts
	b.Destination.Bytes = resp.size
	full, short := texts(resp.text, cfg.common.SendResponse)
	if resp.isError {
		b.Status = "Error"
		e.Error = short
	} else {
		b.Status = "OK"
		e.ReturnValue = short
	}
	if cfg.common.SendResponse {
		b.Response = full
	}
	return e
}

// WriteFields implements ecsmap.Event: the redis group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	if !e.HasReply {
		if w.KeepNull {
			w.Object("redis")
			w.Null("return_value")
			w.End()
		}
		return
	}
	w.Object("redis")
	if e.Base.Status == "Error" {
		w.Str("error", e.Error)
	} else {
		w.Str("return_value", e.ReturnValue)
	}
	w.End()
}
