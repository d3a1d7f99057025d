package memcache

import (
	"encoding/base64"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one memcache transaction: a request and its response, or one of
// them alone. WriteFields writes straight from the parsed messages.
type Event struct {
	Base ecsmap.Base
	Req  *message // nil for a response without request
	Resp *message // nil for a request without (or not needing) a response
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

// Root status values, Packetbeat's.
const (
	statusOK          = "OK"
	statusError       = "Error"
	statusClientError = "Client Error"
	statusServerError = "Server Error"
)

func newEvent(cfg *settings, conn *protocol.Conn, req, resp *message, note string) *Event {
	e := &Event{Req: req, Resp: resp}
	b := &e.Base
	conn.FillBase(b)
	b.Type = "memcache"
	b.Status = transactionStatus(req, resp)
	first, last := req, resp
	if first == nil {
		first = resp
	}
	if last == nil {
		last = req
	}
	b.Start = first.ts
	if req != nil && resp != nil {
		b.End = last.endTS
	}
	if req != nil {
		b.Source.Bytes = req.size
		b.Notes = append(b.Notes, req.notes...)
		if cfg.common.SendRequest && req.line != "" {
			b.Request = req.line
		}
	}
	if resp != nil {
		b.Destination.Bytes = resp.size
		b.Notes = append(b.Notes, resp.notes...)
	}
	if note != "" {
		b.Notes = append(b.Notes, note)
	}
	return e
}

// transactionStatus follows Packetbeat: a missing request is the client's
// fault, a missing answer the server's unless none was due; binary status
// codes above 0x80 are server errors; text failures are classified by
// keyword.
func transactionStatus(req, resp *message) string {
	switch {
	case req == nil:
		return statusClientError
	case resp == nil:
		if req.quiet() || req.noreply || !req.expectsResponse() || req.command() == "quit" {
			return statusOK
		}
		return statusServerError
	case req.binary:
		switch {
		case resp.status == 0:
			return statusOK
		case resp.status > 0x80:
			return statusServerError
		}
		return statusError
	}
	if resp.binary || resp.text.typ != typFail {
		return statusOK
	}
	switch resp.text.name {
	case "CLIENT_ERROR", "SAME":
		return statusClientError
	case "SERVER_ERROR", "BUSY", "BADCLASS", "NOSPARE", "NOTFULL", "UNSAFE":
		return statusServerError
	}
	return statusError
}

// actions are event.action per request class: "memcache." + lowercased type.
var actions = map[string]string{
	typUnknown: "memcache.unknown", typLoad: "memcache.load", typStore: "memcache.store",
	typDelete: "memcache.delete", typCounter: "memcache.counter", typInfo: "memcache.info",
	typSlabCtrl: "memcache.slabctrl", typLRUCrawler: "memcache.lrucrawler", typStats: "memcache.stats",
	typAuth: "memcache.auth",
}

// outcome is event.outcome from the response: binary status 0, or a text
// answer that is not a failure keyword, is a success.
func outcome(resp *message) string {
	if resp.binary {
		if resp.status == 0 {
			return "success"
		}
		return "failure"
	}
	if resp.text.typ == typFail {
		return "failure"
	}
	return "success"
}

// WriteFields writes event.action/event.outcome the way Packetbeat
// publishes them (dotted root keys, expanded by the ingest pipeline) and
// the memcache group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	if e.Req != nil {
		w.Str("event.action", actions[e.Req.typ()])
	}
	if e.Resp != nil {
		w.Str("event.outcome", outcome(e.Resp))
	}
	w.Object("memcache")
	first := e.Req
	if first == nil {
		first = e.Resp
	}
	if first.binary {
		w.Str("protocol_type", "binary")
	} else {
		w.Str("protocol_type", "text")
	}
	if e.Req != nil {
		w.Object("request")
		e.Req.write(w)
		w.End()
	}
	if e.Resp != nil {
		w.Object("response")
		e.Resp.write(w)
		w.End()
	}
	w.End()
}

func (m *message) write(w *ecsmap.Writer) {
	w.Str("command", m.command())
	w.Str("type", m.typ())
	if m.binary {
		m.writeBinary(w)
		return
	}
	f := m.text.fields
	if f&fKeys != 0 && len(m.keys) > 0 {
		w.Strs("keys", m.keys)
	}
	if f&fValues != 0 {
		m.writeValues(w)
	}
	if f&fFlags != 0 {
		w.Uint("flags", uint64(m.flags))
	}
	if f&fExptime != 0 {
		w.Uint("exptime", uint64(m.exptime))
	}
	if f&fBytes != 0 {
		w.Int("bytes", m.bytes)
	}
	if f&fCas != 0 {
		w.Uint("cas_unique", m.cas)
	}
	if f&fNoreply != 0 {
		w.Bool("noreply", m.noreply)
	}
	if f&fDelta != 0 {
		w.Uint("delta", m.value)
	}
	if f&fValue != 0 {
		w.Uint("value", m.value)
	}
	if f&fVerbosity != 0 {
		w.Uint("verbosity", m.value)
	}
	if f&fSleepUs != 0 {
		w.Uint("sleep_us", m.value)
	}
	if f&fAutomove != 0 {
		switch m.value {
		case 0:
			w.Str("automove", "standby")
		case 1:
			w.Str("automove", "slow")
		case 2:
			w.Str("automove", "aggressive")
		default:
			w.Str("automove", uitoa(m.value))
		}
	}
	if f&fClasses != 0 {
		w.Int("source_class", m.srcClass)
		w.Int("dest_class", m.dstClass)
	}
	if f&fRawArgs != 0 {
		w.OptStr("raw_args", m.rawArgs)
	}
	if f&fErrorMsg != 0 {
		w.Str("error_msg", m.errorMsg)
	}
	if f&fVersion != 0 {
		w.OptStr("version", m.version)
	}
	if f&fLine != 0 {
		// Kept with parseunknown only.
		w.OptStr("line", m.line)
	}
	if f&fStats != 0 {
		m.writeStats(w)
	}
}

func (m *message) writeBinary(w *ecsmap.Writer) {
	w.OptStr("opcode", m.bin.opcode)
	w.Uint("opcode_value", uint64(m.opcode))
	w.Uint("opaque", uint64(m.opaque))
	if len(m.keys) > 0 {
		w.Strs("keys", m.keys)
	}
	if m.cas != 0 {
		w.Uint("cas_unique", m.cas)
	}
	if m.count > 0 {
		m.writeValues(w)
		w.Int("bytes", m.bytes)
	}
	if m.version != "" {
		w.Str("version", m.version)
	}
	if m.isRequest {
		w.Bool("quiet", m.bin.quiet)
		w.Uint("vbucket", uint64(m.vbucket))
		switch m.bin.req {
		case exStore:
			w.Uint("flags", uint64(m.flags))
			w.Uint("exptime", uint64(m.exptime))
		case exCounter:
			w.Uint("delta", m.value)
			w.Uint("initial", m.initial)
			w.Uint("exptime", uint64(m.exptime))
		case exExptime:
			w.Uint("exptime", uint64(m.exptime))
		case exVerbosity:
			w.Uint("verbosity", m.value)
		}
		return
	}
	w.OptStr("status", statusNames[m.status])
	if m.errorMsg != "" {
		// Packetbeat counts this text as a value; it is the server's
		// explanation of the status, so it goes where text errors go.
		w.Str("error_msg", m.errorMsg)
	}
	w.Uint("status_code", uint64(m.status))
	if m.bin.typ == typCounter && m.status == 0 {
		w.Uint("value", m.value)
	}
	if m.bin.resp == exFlags && m.status == 0 {
		w.Uint("flags", uint64(m.flags))
	}
	if m.opcode == opcodeStat {
		m.writeStats(w)
	}
}

// writeValues writes count_values and the kept values, base64 encoded as
// Packetbeat does (values are arbitrary bytes).
func (m *message) writeValues(w *ecsmap.Writer) {
	w.Int("count_values", int64(m.count))
	if len(m.values) == 0 {
		return
	}
	w.ArrayStart("values")
	for _, v := range m.values {
		w.ElemStr(base64.StdEncoding.EncodeToString(v))
	}
	w.ArrayEnd()
}

// writeStats writes statistics as Packetbeat does, a list of {name, value}
// (the ingest pipeline turns it into an object keyed by name).
func (m *message) writeStats(w *ecsmap.Writer) {
	if len(m.stats) == 0 {
		return
	}
	w.ArrayStart("stats")
	for _, s := range m.stats {
		w.ElemObject()
		w.Str("name", s.name)
		w.Str("value", s.value)
		w.End()
	}
	w.ArrayEnd()
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}
