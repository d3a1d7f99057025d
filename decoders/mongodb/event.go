package mongodb

import (
	"strings"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one request and its reply (or the request alone: reply-less
// legacy writes, moreToCome OP_MSGs, unanswered requests).
type Event struct {
	Base ecsmap.Base

	FullCollectionName   string
	NumberToSkip         int64
	HasSkip              bool
	NumberToReturn       int64
	HasNumberToReturn    bool
	Query                string
	ReturnFieldsSelector string
	Selector, Update     string
	HasReply             bool
	CursorID             int64
	HasCursor            bool
	StartingFrom         int64
	NumberReturned       int64
	IsOpReply            bool
	Error                string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, conn *protocol.Conn, req, resp *message) *Event {
	e := &Event{
		FullCollectionName:   req.fullName,
		NumberToSkip:         req.numberToSkip,
		HasSkip:              req.hasSkip,
		NumberToReturn:       req.numberToReturn,
		HasNumberToReturn:    req.opCode == opQuery || req.opCode == opGetMore || req.numberToReturn != 0,
		Query:                req.query,
		ReturnFieldsSelector: req.returnFields,
		Selector:             req.selector,
		Update:               req.update,
		CursorID:             req.cursorID,
		HasCursor:            req.hasCursor,
	}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "mongodb"
	b.Start = req.ts
	b.Method = req.method
	b.Resource = req.resource
	b.Query = queryText(req, false)
	b.Source.Bytes = int64(req.length)
	b.Notes = req.notes
	b.Status = "OK"
	if cfg.common.SendRequest {
		b.Request = queryText(req, true)
	}
	if resp != nil {
		b.End = resp.ts
		b.Destination.Bytes = int64(resp.length)
		b.Notes = append(b.Notes, resp.notes...)
		e.HasReply = resp.hasReply
		e.IsOpReply = resp.opCode == opReply
		e.StartingFrom = resp.startingFrom
		e.NumberReturned = resp.numberReturned
		if resp.hasCursor {
			e.CursorID, e.HasCursor = resp.cursorID, true
		}
		e.Error = resp.errMsg
		if cfg.common.SendResponse && len(resp.docs) > 0 {
			b.Response = strings.Join(resp.docs, "\n")
			if resp.moreDocs {
				b.Response += "\n[...]"
			}
		}
	} else if req.expectsReply {
		b.Status = "Error" // the reply never came
	}
	if e.Error != "" {
		b.Status = "Error"
	}
	return e
}

// WriteFields implements ecsmap.Event: the mongodb group, with the wire
// fields the request and reply carried (names as Packetbeat writes them).
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("mongodb")
	w.OptStr("fullCollectionName", e.FullCollectionName)
	if e.HasSkip {
		w.Int("numberToSkip", e.NumberToSkip)
	}
	if e.HasNumberToReturn {
		w.Int("numberToReturn", e.NumberToReturn)
	}
	w.OptStr("query", e.Query)
	w.OptStr("returnFieldsSelector", e.ReturnFieldsSelector)
	w.OptStr("selector", e.Selector)
	w.OptStr("update", e.Update)
	if e.HasCursor {
		w.Int("cursorId", e.CursorID)
	}
	if e.HasReply {
		if e.IsOpReply {
			w.Int("startingFrom", e.StartingFrom)
		}
		w.Int("numberReturned", e.NumberReturned)
	}
	w.OptStr("error", e.Error)
	w.End()
}
