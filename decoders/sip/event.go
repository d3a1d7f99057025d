package sip

import (
	"bytes"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// inlineLen covers a typical INVITE with SDP, so most events are one allocation.
const inlineLen = 1024

// Event is one SIP message as a network_traffic.sip document. Every byte
// slice and string it holds points into raw, the event's own copy of the
// message.
type Event struct {
	Base ecsmap.Base
	Msg  Message

	uri               URI
	from, to, contact NameAddr
	private           NameAddr
	hasPrivate        bool
	auth              Auth
	hasAuth           bool
	sdp               SDP
	hasSDP            bool
	cseqCode          int64
	cseqMethod        []byte
	hasCSeq           bool

	raw     []byte
	inline  [inlineLen]byte
	vlans   [2]uint16
	hosts   [8]string
	users   [8]string
	ips     [1]netip.Addr
	scratch [128]byte // lower/upper-casing without allocating
}

// str views owned, never-modified bytes as a string without copying.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// newEvent copies msg (already validated by Parse) and builds the event.
func newEvent(msg []byte, stream bool, cfg *Config, ts time.Time) *Event {
	e := &Event{}
	if len(msg) <= inlineLen {
		e.raw = e.inline[:len(msg)]
	} else {
		e.raw = make([]byte, len(msg))
	}
	copy(e.raw, msg)
	if _, err := Parse(e.raw, &e.Msg, stream); err != nil {
		return nil // cannot happen: the same bytes parsed before
	}
	m := &e.Msg
	b := &e.Base
	b.Type = "sip"
	b.Application = "sip"
	b.Start, b.End = ts, ts // one message: event.duration 0, as Packetbeat
	b.Types = typesInfo
	b.Categories = catsNetwork
	if m.HasAuthorizationHdr {
		b.Categories = catsAuth
	}
	b.Status = "OK"
	if m.Code >= 400 {
		b.Status = "Error"
	}
	switch {
	case m.Code == 0 || m.Code < 200:
	case m.Code > 299:
		b.Outcome = "failure"
	default:
		b.Outcome = "success"
	}
	b.Reason = str(m.Reason)
	if cfg.KeepOriginal {
		b.Original = str(e.raw)
	}

	if m.IsRequest {
		e.uri = ParseURI(m.URI)
		e.addURI(&e.uri)
	}
	if m.From != nil {
		e.from = ParseNameAddr(m.From)
		e.addURI(&e.from.URI)
	}
	if m.To != nil {
		e.to = ParseNameAddr(m.To)
		e.addURI(&e.to.URI)
	}
	if m.Contact != nil {
		e.contact = ParseNameAddr(m.Contact)
		e.addURI(&e.contact.URI)
	}
	if m.PrivateURI != nil {
		e.private = ParseNameAddr(m.PrivateURI)
		e.hasPrivate = true
		e.addURI(&e.private.URI)
	}
	if m.CSeq != nil {
		num, meth, _ := bytes.Cut(bytes.TrimSpace(m.CSeq), []byte(" "))
		if n, ok := atoi(num); ok {
			e.cseqCode, e.cseqMethod, e.hasCSeq = int64(n), bytes.TrimSpace(meth), true
			b.Sequence, b.HasSequence = e.cseqCode, true
		}
	}
	if m.IsRequest {
		b.Action = action(m.Method)
	} else if e.hasCSeq {
		b.Action = action(e.cseqMethod)
	}
	if cfg.ParseAuthorization && m.Authorization != nil {
		e.auth, e.hasAuth = ParseAuth(m.Authorization)
		if e.hasAuth {
			e.addUser(e.auth.Username)
		}
	}
	if cfg.ParseBody && len(m.Body) > 0 && m.ContentEncoding == nil && isSDP(m.ContentType) {
		e.sdp, e.hasSDP = ParseSDP(m.Body), true
		e.addUser(e.sdp.OwnerUser)
		if ip, err := netip.ParseAddr(str(e.sdp.OwnerIP)); err == nil {
			e.ips[0] = ip
			b.RelatedIPs = e.ips[:1]
		} else {
			e.sdp.OwnerIP = nil // sip.sdp.owner.ip is an ip field: a name would not index
		}
		e.addHost(e.sdp.ConnAddr)
	}
	return e
}

var (
	typesInfo   = []string{"info"}
	catsNetwork = []string{"network", "protocol"}
	catsAuth    = []string{"network", "protocol", "authentication"}
)

// actions covers the RFC 3261 methods and common extensions so event.action
// costs no allocation.
var actions = map[string]string{}

func init() {
	for _, m := range []string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
		"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"} {
		actions[m] = "sip-" + strings.ToLower(m)
	}
}

func action(method []byte) string {
	if a, ok := actions[string(method)]; ok { // no allocation: map lookup by []byte conversion
		return a
	}
	return "sip-" + strings.ToLower(string(method))
}

// isSDP tells whether a Content-Type is application/sdp (any case,
// parameters ignored).
func isSDP(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return eqFold(bytes.TrimSpace(ct), "application/sdp")
}

// validUser mirrors Packetbeat: " " and "-" are placeholders, not users.
func validUser(u []byte) bool {
	return len(u) > 0 && !bytes.Equal(u, []byte(" ")) && !bytes.Equal(u, []byte("-"))
}

func (e *Event) addURI(u *URI) {
	if validUser(u.User) {
		e.addUser(u.User)
	}
	e.addHost(u.Host)
}

func (e *Event) addHost(h []byte) {
	b := &e.Base
	if len(h) == 0 || len(b.RelatedHosts) == len(e.hosts) {
		return
	}
	s := str(h)
	for _, x := range b.RelatedHosts {
		if x == s {
			return
		}
	}
	n := len(b.RelatedHosts)
	e.hosts[n] = s
	b.RelatedHosts = e.hosts[:n+1]
}

func (e *Event) addUser(u []byte) {
	b := &e.Base
	if !validUser(u) || len(b.RelatedUsers) == len(e.users) {
		return
	}
	s := str(u)
	for _, x := range b.RelatedUsers {
		if x == s {
			return
		}
	}
	n := len(b.RelatedUsers)
	e.users[n] = s
	b.RelatedUsers = e.users[:n+1]
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

// WriteFields writes sip.* and user.name.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	m := &e.Msg
	w.Object("sip")
	if m.IsRequest {
		w.Str("type", "request")
		w.Str("method", e.upper(m.Method))
		writeURI(w, "uri", &e.uri, true)
	} else {
		w.Str("type", "response")
		w.Int("code", int64(m.Code))
		optBytes(w, "status", m.Reason)
	}
	optBytes(w, "version", m.Version)
	if m.From != nil {
		e.writeNameAddr(w, "from", &e.from, false)
	}
	if m.To != nil {
		e.writeNameAddr(w, "to", &e.to, false)
	}
	if m.Contact != nil {
		e.writeNameAddr(w, "contact", &e.contact, true)
	}
	optBytes(w, "call_id", m.CallID)
	if e.hasCSeq {
		w.Object("cseq")
		w.Int("code", e.cseqCode)
		if len(e.cseqMethod) > 0 {
			w.Str("method", e.upper(e.cseqMethod))
		}
		w.End()
	}
	if m.NVia > 0 {
		w.Object("via")
		w.ArrayStart("original")
		for _, v := range m.Via[:m.NVia] {
			w.ElemStr(str(v))
		}
		w.ArrayEnd()
		w.End()
	}
	if m.HasMaxForwards {
		w.Int("max_forwards", int64(m.MaxForwards))
	}
	if len(m.UserAgent) > 0 {
		w.Object("user_agent")
		w.Bytes("original", m.UserAgent)
		w.End()
	}
	e.writeList(w, "allow", m.Allow)
	e.writeList(w, "supported", m.Supported)
	if len(m.Accept) > 0 {
		w.Str("accept", e.lower(m.Accept))
	}
	if len(m.ContentType) > 0 {
		w.Str("content_type", e.lower(m.ContentType))
	}
	if m.HasContentLength {
		w.Int("content_length", int64(m.ContentLength))
	}
	if e.hasPrivate {
		w.Object("private")
		writeURI(w, "uri", &e.private.URI, true)
		w.End()
	}
	if e.hasAuth {
		w.Object("auth")
		w.Bytes("scheme", e.auth.Scheme)
		optBytes(w, "realm", e.auth.Realm)
		if len(e.auth.URI) > 0 {
			u := ParseURI(e.auth.URI)
			writeURI(w, "uri", &u, false)
		}
		w.End()
	}
	if e.hasSDP {
		s := &e.sdp
		w.Object("sdp")
		optBytes(w, "version", s.Version)
		if s.OwnerSessID != nil {
			w.Object("owner")
			optBytes(w, "username", s.OwnerUser)
			optBytes(w, "session_id", s.OwnerSessID)
			optBytes(w, "version", s.OwnerVersion)
			optBytes(w, "ip", s.OwnerIP)
			w.End()
		}
		if len(s.SessionName) > 0 {
			w.Object("session")
			w.Bytes("name", s.SessionName)
			w.End()
		}
		if len(s.ConnInfo) > 0 {
			w.Object("connection")
			w.Bytes("info", s.ConnInfo)
			optBytes(w, "address", s.ConnAddr)
			w.End()
		}
		w.Object("body")
		w.Bytes("original", m.Body)
		w.End()
		w.End()
	}
	w.End()
	if e.hasAuth && validUser(e.auth.Username) {
		w.Object("user")
		w.Bytes("name", e.auth.Username)
		w.End()
	}
}

func optBytes(w *ecsmap.Writer, k string, v []byte) {
	if len(v) > 0 {
		w.Bytes(k, v)
	}
}

func writeURI(w *ecsmap.Writer, k string, u *URI, withUser bool) {
	if len(u.Original) == 0 {
		return
	}
	w.Object(k)
	w.Bytes("original", u.Original)
	optBytes(w, "scheme", u.Scheme)
	if withUser && validUser(u.User) {
		w.Bytes("username", u.User)
	}
	optBytes(w, "host", u.Host)
	if u.Port > 0 {
		w.Int("port", int64(u.Port))
	}
	w.End()
}

func (e *Event) writeNameAddr(w *ecsmap.Writer, k string, n *NameAddr, contact bool) {
	w.Object(k)
	optBytes(w, "display_info", n.Display)
	writeURI(w, "uri", &n.URI, true)
	if !contact {
		if tag, ok := Param(n.Params, "tag"); ok && len(tag) > 0 {
			w.Bytes("tag", tag)
		}
	} else {
		if v, ok := Param(n.URI.Params, "transport"); ok && len(v) > 0 {
			w.Str("transport", e.lower(v))
		}
		if v, ok := Param(n.URI.Params, "line"); ok && len(v) > 0 {
			w.Bytes("line", v)
		}
		if v, ok := Param(n.Params, "expires"); ok && len(v) > 0 {
			w.Bytes("expires", v)
		}
		if v, ok := Param(n.Params, "q"); ok && len(v) > 0 {
			w.Bytes("q", v)
		}
	}
	w.End()
}

// writeList writes a comma-separated header as a lower-case array (as
// Packetbeat does for Allow and Supported).
func (e *Event) writeList(w *ecsmap.Writer, k string, v []byte) {
	if len(v) == 0 {
		return
	}
	w.ArrayStart(k)
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if item = bytes.TrimSpace(item); len(item) > 0 {
			w.ElemStr(e.lower(item))
		}
	}
	w.ArrayEnd()
}

// lower returns b lower-cased; the result is only valid until the next
// call (the writer copies it at once).
func (e *Event) lower(b []byte) string { return e.fold(b, 'A', 'Z') }

// upper returns b upper-cased, valid until the next call.
func (e *Event) upper(b []byte) string { return e.fold(b, 'a', 'z') }

// fold flips the case of letters in lo..hi (ASCII letters differ by 0x20).
func (e *Event) fold(b []byte, lo, hi byte) string {
	i := 0
	for i < len(b) && !(b[i] >= lo && b[i] <= hi) {
		i++
	}
	if i == len(b) {
		return str(b) // already in the wanted case: the common path
	}
	out := e.scratch[:0]
	if len(b) > len(e.scratch) {
		out = make([]byte, 0, len(b))
	}
	for _, c := range b {
		if c >= lo && c <= hi {
			c ^= 0x20
		}
		out = append(out, c)
	}
	return unsafe.String(&out[0], len(out))
}
