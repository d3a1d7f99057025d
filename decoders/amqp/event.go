package amqp

import (
	"strings"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one AMQP transaction: a synchronous method and its reply, or a
// one-sided method (basic.publish, basic.deliver, basic.ack, ...). The
// amqp.* fields of request and reply are merged, the reply's winning (a
// server-named queue comes from queue.declare-ok).
type Event struct {
	Base  ecsmap.Base
	Attrs []attr
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

// WriteFields implements ecsmap.Event: the amqp group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("amqp")
	for i := range e.Attrs {
		a := &e.Attrs[i]
		switch a.kind {
		case aStr:
			w.Bytes(a.key, a.v)
		case aUint:
			w.Uint(a.key, a.u)
		case aBool:
			w.Bool(a.key, a.u != 0)
		case aRaw:
			w.Raw(a.key, a.v)
		}
	}
	w.End()
}

func newEvent(cfg *settings, conn *protocol.Conn, req, resp *message) *Event {
	e := &Event{}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "amqp"
	method := req.info.name
	if req.id == idBasicGet && resp != nil {
		if resp.id == idBasicGetEmpt {
			method = "basic.get-empty"
		}
	}
	b.Method = method
	b.Action = "amqp." + method
	b.Start = req.ts
	b.Status = "OK"
	if req.replyErr {
		b.Status = "Error"
	}

	// Merge the fields: request first, reply overriding equal keys.
	n := len(req.attrs)
	if resp != nil {
		n += len(resp.attrs)
	}
	e.Attrs = make([]attr, 0, n)
	e.Attrs = append(e.Attrs, req.attrs...)
	if resp != nil {
		for _, a := range resp.attrs {
			replaced := false
			for i := range e.Attrs {
				if e.Attrs[i].key == a.key {
					e.Attrs[i] = a
					replaced = true
					break
				}
			}
			if !replaced {
				e.Attrs = append(e.Attrs, a)
			}
		}
	}
	b.Notes = append(b.Notes, req.notes...)
	if resp != nil {
		b.Notes = append(b.Notes, resp.notes...)
		b.End = resp.ts
	}

	switch {
	case req.info.kind == kindContent:
		// basic.publish from the client, deliver/return from the server:
		// the message size is the byte count of its sender.
		if req.dir == protocol.FromClient {
			b.Source.Bytes = int64(req.bodySize)
			if cfg.common.SendRequest {
				b.Request = bodyText(req)
			}
		} else {
			b.Destination.Bytes = int64(req.bodySize)
			if cfg.common.SendResponse {
				b.Response = bodyText(req)
			}
		}
	default:
		if req.dir == protocol.FromServer {
			// Server-initiated (a channel.close for an error, a consumer
			// cancel): the server is the source, as in Packetbeat.
			b.Source, b.Destination = b.Destination, b.Source
		}
		b.Source.Bytes = req.frameBytes
		if cfg.common.SendRequest {
			b.Request = requestText(method, req)
		}
		if resp != nil {
			if resp.info.kind == kindContent { // basic.get-ok
				b.Destination.Bytes = int64(resp.bodySize)
				if cfg.common.SendResponse {
					b.Response = bodyText(resp)
				}
			} else {
				b.Destination.Bytes = resp.frameBytes
				if cfg.common.SendResponse {
					b.Response = "OK"
				}
			}
		}
	}
	return e
}

// requestText is Packetbeat's request summary: the method and its main
// arguments ("queue.bind orders orders.topic").
func requestText(method string, m *message) string {
	if m.reqN == 0 {
		return method
	}
	var sb strings.Builder
	sb.WriteString(method)
	sb.WriteByte(' ')
	for i := range m.reqN {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.Write(m.reqText[i])
	}
	return sb.String()
}

// bodyText writes a kept body Packetbeat's way: as text for text/JSON
// content, else as decimal byte values; " [...]" marks a body cut at
// max_body_length.
func bodyText(m *message) string {
	var out []byte
	if m.isText() {
		out = append(make([]byte, 0, len(m.body)+6), m.body...)
	} else {
		out = appendDecimalBody(make([]byte, 0, len(m.body)*4+6), m.body)
	}
	if uint64(len(m.body)) < m.bodySize {
		out = append(out, " [...]"...)
	}
	return string(out)
}
