package thrift

import (
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// reply is the part of a REPLY or EXCEPTION message an event keeps.
type reply struct {
	ts          time.Time
	size        int64
	returnValue string
	exceptions  string
}

// Event is one Thrift transaction: a call and its reply, a oneway call, or
// a call left without a reply.
type Event struct {
	Base     ecsmap.Base
	Params   string // thrift.params: "(1: 1, 2: 2)"
	Service  string // thrift.service and path, from IDL
	HasReply bool
	// ReturnValue is thrift.return_value ("" for void and exceptions, as
	// Packetbeat); Exceptions is thrift.exceptions.
	ReturnValue string
	Exceptions  string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, cl *call, rp *reply, note string) *Event {
	e := &Event{Params: cl.params, Service: cl.service}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "thrift"
	b.Start = cl.ts
	b.Source.Bytes = cl.size
	b.Method = cl.method
	b.Path = e.Service
	b.Query = cl.method + cl.params
	if cfg.common.SendRequest {
		b.Request = b.Query
	}
	b.Status = "OK"
	if rp == nil {
		if note != "" {
			b.Status = "Error"
			b.Notes = append(b.Notes, note)
		}
		return e
	}
	e.HasReply = true
	b.End = rp.ts
	b.Destination.Bytes = rp.size
	e.ReturnValue, e.Exceptions = rp.returnValue, rp.exceptions
	if e.Exceptions != "" {
		b.Status = "Error"
	}
	if cfg.common.SendResponse {
		if e.Exceptions != "" {
			b.Response = "Exceptions: " + e.Exceptions
		} else {
			b.Response = e.ReturnValue
		}
	}
	return e
}

// WriteFields implements ecsmap.Event: the thrift group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("thrift")
	w.Str("params", e.Params)
	w.OptStr("service", e.Service)
	if e.HasReply {
		w.Str("return_value", e.ReturnValue)
		w.OptStr("exceptions", e.Exceptions)
	} else if w.KeepNull {
		w.Null("return_value")
	}
	w.End()
}
