package dns

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one DNS transaction as a network_traffic.dns document.
type Event struct {
	Base ecsmap.Base
	// Msg is the message the dns group describes: the response when there
	// is one, else the query (as Packetbeat does).
	Msg *Message
	// Answer is dns.type: "answer" when a response was seen, else "query".
	Answer bool

	includeAuthorities, includeAdditionals bool
	vlans                                  [2]uint16
	// relatedIPs backs Base.RelatedIPs for the usual few answers.
	relatedIPs [4]netip.Addr
	// The parsed query and response live in the event: one allocation.
	query, response Message
}

// EventBase implements ecsmap.Event. The resolved addresses join
// related.ip, as in Packetbeat.
func (e *Event) EventBase() *ecsmap.Base {
	if e.Answer && e.Msg != nil && e.Base.RelatedIPs == nil {
		e.Base.RelatedIPs = e.relatedIPs[:0]
		for i := range e.Msg.Answers {
			if ip := e.Msg.Answers[i].IP; ip.IsValid() {
				e.Base.RelatedIPs = append(e.Base.RelatedIPs, ip)
			}
		}
	}
	return &e.Base
}

// buildEvent parses the query and/or response (already checked, so they
// parse) and fills the event. Lengths are the bytes on the wire.
func buildEvent(p *Protocol, ep endpoints, req []byte, reqLen int, reqTS time.Time,
	resp []byte, respLen int, respTS time.Time, notes []string) *Event {
	e := &Event{includeAuthorities: p.cfg.IncludeAuthorities, includeAdditionals: p.cfg.IncludeAdditionals}
	var q, r *Message
	if req != nil {
		// With a response, the dns group describes the response and the
		// query only gives the summary fields: its records need no
		// decoding (unless send_request shows the whole query).
		summary := resp != nil && !p.common.SendRequest
		if parseInto(&e.query, req, summary, "") == nil {
			q = &e.query
		}
	}
	if resp != nil {
		// The response repeats the question: reuse the query's name string.
		var qname string
		if q != nil && len(q.Questions) > 0 {
			qname = q.Questions[0].Name
		}
		if parseInto(&e.response, resp, false, qname) == nil {
			r = &e.response
		}
	}

	b := &e.Base
	e.vlans = ep.vlans
	c := protocol.Conn{Client: ep.client, Server: ep.server, IPProtocol: ep.ipProto, VLANs: e.vlans[:ep.nvlans]}
	if ep.detected {
		c.DetectedBy = protocol.DetectedByContent
	}
	if ep.nvlans == 0 {
		c.VLANs = nil
	}
	c.Tunnel, c.Iface = ep.tunnel, ep.iface
	c.FillBase(b)
	b.Type = "dns"
	b.Status = "Error"

	// The summary fields come from the query when there is one.
	summary := q
	if q == nil {
		summary = r
	}
	if summary != nil {
		b.Method = OpcodeString(summary.Opcode())
		if len(summary.Questions) > 0 {
			qq := summary.Questions[0]
			b.Query = questionString(qq)
			b.Resource = qq.Name
		}
	}

	if q != nil {
		b.Start = reqTS
		b.Source.Bytes = int64(reqLen)
		if p.common.SendRequest {
			b.Request = messageString(q)
		}
	}
	if r != nil {
		if q == nil {
			b.Start = respTS
		}
		b.End = respTS
		b.Destination.Bytes = int64(respLen)
		e.Msg, e.Answer = r, true
		if q != nil && r.Rcode() == 0 {
			b.Status = "OK"
		}
		if p.common.SendResponse {
			b.Response = messageString(r)
		}
	} else {
		e.Msg = q
	}

	// EDNS size checks only mean something over UDP.
	if ep.ipProto == 17 {
		if q != nil && q.OPT == nil && q.Len > maxUDPPacket {
			notes = append(notes, noteUDPTooLarge)
		}
		if r != nil && r.OPT == nil && r.Len > maxUDPPacket {
			notes = append(notes, responsePrefix+noteUDPTooLarge)
		}
		if q != nil && r != nil {
			switch {
			case q.OPT != nil && r.OPT == nil:
				notes = append(notes, noteEDNSNoSupport)
			case q.OPT == nil && r.OPT != nil:
				notes = append(notes, noteEDNSUnexpected)
			}
		}
	}
	b.Notes = notes
	return e
}

// questionString is Packetbeat's "query" field: "class IN, type A, name".
func questionString(q Question) string {
	return "class " + ClassString(q.Class) + ", type " + TypeString(q.Type) + ", " + q.Name
}

// domainParts splits a question name with the public suffix list the way
// Packetbeat does (registered_domain = eTLD+1, top_level_domain = what
// follows its first label, subdomain = what precedes it).
func domainParts(name string) (etld1, registered, tld, sub string) {
	if e, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil && e != "" {
		e = strings.TrimRight(e, ".")
		if i := strings.IndexByte(e, '.'); i >= 0 {
			tld = e[i+1:]
		}
		sub = strings.TrimRight(strings.TrimSuffix(name, e), ".")
		return e, e, tld, sub
	}
	if strings.Count(name, ".") == 1 {
		if i := strings.IndexByte(name, '.'); i+1 < len(name) {
			tld = name[i+1:]
		}
		return "", name, tld, ""
	}
	return "", "", "", ""
}

// WriteFields writes the dns group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	m := e.Msg
	if m == nil {
		return
	}
	w.Object("dns")
	w.Uint("id", uint64(m.ID))
	w.Str("op_code", OpcodeString(m.Opcode()))
	w.Object("flags")
	w.Bool("authoritative", m.AA())
	w.Bool("truncated_response", m.TC())
	w.Bool("recursion_desired", m.RD())
	w.Bool("recursion_available", m.RA())
	w.Bool("authentic_data", m.AD())
	w.Bool("checking_disabled", m.CD())
	w.End()
	w.Str("response_code", RcodeString(m.Rcode()))
	e.writeHeaderFlags(w)
	if e.Answer {
		w.Str("type", "answer")
	} else {
		w.Str("type", "query")
	}

	if len(m.Questions) > 0 {
		q := m.Questions[0]
		w.Object("question")
		w.Str("name", q.Name)
		w.Str("type", TypeString(q.Type))
		w.Str("class", ClassString(q.Class))
		etld1, reg, tld, sub := domainParts(q.Name)
		w.OptStr("etld_plus_one", etld1)
		w.OptStr("registered_domain", reg)
		w.OptStr("top_level_domain", tld)
		w.OptStr("subdomain", sub)
		w.End()
	}

	if o := m.OPT; o != nil {
		w.Object("opt")
		w.Str("version", strconv.Itoa(int(o.Version)))
		w.Bool("do", o.DO)
		w.Uint("udp_size", uint64(o.UDPSize))
		w.Str("ext_rcode", RcodeString(int(o.ExtRcode)<<4))
		for _, f := range o.Options {
			w.Str(f.Key, f.Str)
		}
		w.End()
	}

	w.Int("answers_count", int64(len(m.Answers)))
	if len(m.Answers) > 0 {
		writeRRs(w, "answers", m.Answers)
		n := 0
		for i := range m.Answers {
			if m.Answers[i].IP.IsValid() {
				n++
			}
		}
		if n > 0 {
			w.ArrayStart("resolved_ip")
			for i := range m.Answers {
				if m.Answers[i].IP.IsValid() {
					w.ElemStr(m.Answers[i].Data)
				}
			}
			w.ArrayEnd()
		}
	}
	w.Int("authorities_count", int64(len(m.Authorities)))
	if e.includeAuthorities && len(m.Authorities) > 0 {
		writeRRs(w, "authorities", m.Authorities)
	}
	w.Int("additionals_count", int64(m.AdditionalsCount))
	if e.includeAdditionals && len(m.Additionals) > 0 {
		writeRRs(w, "additionals", m.Additionals)
	}
	w.End()
}

func (e *Event) writeHeaderFlags(w *ecsmap.Writer) {
	m := e.Msg
	var flags [7]string
	n := 0
	for _, f := range [...]struct {
		on   bool
		name string
	}{{m.AA(), "AA"}, {m.TC(), "TC"}, {m.RD(), "RD"}, {m.RA(), "RA"}, {m.AD(), "AD"}, {m.CD(), "CD"}, {m.OPT != nil && m.OPT.DO, "DO"}} {
		if f.on {
			flags[n] = f.name
			n++
		}
	}
	w.Strs("header_flags", flags[:n])
}

func writeRRs(w *ecsmap.Writer, key string, rrs []RR) {
	w.ArrayStart(key)
	for i := range rrs {
		rr := &rrs[i]
		w.ElemObject()
		w.Str("name", rr.Name)
		w.Str("type", TypeString(rr.Type))
		w.Str("class", ClassString(rr.Class))
		// Packetbeat writes the TTL as a string; the mapping makes it a long.
		w.Str("ttl", strconv.FormatUint(uint64(rr.TTL), 10))
		w.Str("data", rr.Data)
		for _, f := range rr.Fields {
			if f.IsNum {
				w.Uint(f.Key, f.Num)
			} else {
				w.Str(f.Key, f.Str)
			}
		}
		w.End()
	}
	w.ArrayEnd()
}

// messageString is Packetbeat's dig-like one-line rendering of a message
// for the request/response fields.
func messageString(m *Message) string {
	var b strings.Builder
	b.WriteString("ID ")
	b.WriteString(strconv.Itoa(int(m.ID)))
	b.WriteString("; QR ")
	if m.Response() {
		b.WriteString("response")
	} else {
		b.WriteString("query")
	}
	b.WriteString("; OPCODE ")
	b.WriteString(OpcodeString(m.Opcode()))
	b.WriteString("; FLAGS ")
	sep := ""
	for _, f := range [...]struct {
		on   bool
		name string
	}{{m.AA(), "aa"}, {m.TC(), "tc"}, {m.RD(), "rd"}, {m.RA(), "ra"}, {m.AD(), "ad"}, {m.CD(), "cd"}} {
		if f.on {
			b.WriteString(sep)
			b.WriteString(f.name)
			sep = " "
		}
	}
	b.WriteString("; RCODE ")
	b.WriteString(RcodeString(m.Rcode()))
	if len(m.Questions) > 0 {
		b.WriteString("; QUESTION ")
		for i, q := range m.Questions {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(questionString(q))
		}
	}
	for _, sec := range [...]struct {
		name string
		rrs  []RR
	}{{"ANSWER", m.Answers}, {"AUTHORITY", m.Authorities}, {"ADDITIONAL", m.Additionals}} {
		if len(sec.rrs) == 0 {
			continue
		}
		b.WriteString("; ")
		b.WriteString(sec.name)
		b.WriteByte(' ')
		for i := range sec.rrs {
			if i > 0 {
				b.WriteString("; ")
			}
			writeRRString(&b, &sec.rrs[i])
		}
	}
	return b.String()
}

// writeRRString renders a record as Packetbeat does: its text-valued fields
// as "key value, " in key order, then the data. (Packetbeat leaves the
// numeric fields such as MX preference out of this text.)
func writeRRString(b *strings.Builder, rr *RR) {
	var keys []int
	for i, f := range rr.Fields {
		if !f.IsNum {
			keys = append(keys, i)
		}
	}
	sort.Slice(keys, func(a, c int) bool { return rr.Fields[keys[a]].Key < rr.Fields[keys[c]].Key })
	for _, i := range keys {
		b.WriteString(rr.Fields[i].Key)
		b.WriteByte(' ')
		b.WriteString(rr.Fields[i].Str)
		b.WriteString(", ")
	}
	b.WriteString(rr.Data)
}
