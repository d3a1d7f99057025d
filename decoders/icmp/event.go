package icmp

import (
	"net/netip"

	"github.com/network-traffic/network-traffic/ecsmap"
)

var eventTypes = []string{"connection"}

// Event is one ICMP transaction: a request and its reply, or either alone.
type Event struct {
	base     ecsmap.Base
	version  uint8
	src, dst netip.Addr // the request's sender and receiver
	id       uint16     // echo identifier (query types), part of flow.id
	vlans    []uint16
	req      message
	resp     message
	hasReq   bool
	hasResp  bool
	notes    []string
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.base }

// build fills the common fields once the transaction is complete.
func (e *Event) build() {
	b := &e.base
	b.Type = "icmp"
	b.Types = eventTypes
	b.IPProtocol = 1
	b.Transport = "icmp"
	b.NetworkType = "ipv4"
	if e.version == 6 {
		b.IPProtocol = 58
		b.Transport = "ipv6-icmp"
		b.NetworkType = "ipv6"
	}
	b.Source.IP = e.src
	b.Destination.IP = e.dst
	b.ClientServer = true
	b.VLANs = e.vlans
	// path is what was "requested": the destination address.
	b.Path = e.dst.String()
	b.HasICMP = true
	b.ICMPID = e.id
	switch {
	case e.hasReq:
		b.Start = e.req.ts
		b.Source.Bytes = int64(e.req.length)
		b.ICMPType, b.ICMPCode = e.req.typ, e.req.code
		if e.hasResp {
			b.End = e.resp.ts
		}
	case e.hasResp:
		b.Start = e.resp.ts
		b.ICMPType, b.ICMPCode = e.resp.typ, e.resp.code
	}
	if e.hasResp {
		b.Destination.Bytes = int64(e.resp.length)
	}
	b.Status = "OK"
	if e.hasError() {
		b.Status = "Error"
	}
	b.Notes = e.notes
}

// hasError follows Packetbeat: a reply without request, an error message on
// either side, or a query that never got its reply.
func (e *Event) hasError() bool {
	return !e.hasReq ||
		isError(e.version, e.req.typ) ||
		(e.hasResp && isError(e.version, e.resp.typ)) ||
		(!e.hasResp && needsCounterpart(e.version, e.req.typ))
}

// WriteFields writes the icmp group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("icmp")
	w.Int("version", int64(e.version))
	if e.hasReq {
		writeMessage(w, "request", e.version, &e.req)
	}
	if e.hasResp {
		writeMessage(w, "response", e.version, &e.resp)
	}
	w.End()
}

func writeMessage(w *ecsmap.Writer, name string, version uint8, m *message) {
	w.Object(name)
	w.Str("message", MessageText(version, m.typ, m.code))
	w.Int("type", int64(m.typ))
	w.Int("code", int64(m.code))
	w.End()
}

// Version is icmp.version (4 or 6).
func (e *Event) Version() uint8 { return e.version }

// Request returns the request's type and code; ok is false without request.
func (e *Event) Request() (typ, code uint8, ok bool) { return e.req.typ, e.req.code, e.hasReq }

// Response returns the reply's type and code; ok is false without reply.
func (e *Event) Response() (typ, code uint8, ok bool) { return e.resp.typ, e.resp.code, e.hasResp }
