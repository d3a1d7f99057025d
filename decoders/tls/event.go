package tls

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is the network_traffic.tls document of one connection's
// handshake. It owns everything it points to (the hello copies and the
// parsed certificates), so it outlives the connection.
type Event struct {
	Base ecsmap.Base
	cfg  *settings

	Client, Server           *hello
	ClientCerts, ServerCerts *certMsg

	Established, Resumed bool
	ResumptionMethod     string // "id", "ticket"
	Version              version
	HasVersion           bool
	JA3, JA3S            string
	JA4, JA4Raw          string // JA4Raw only with include_raw_ja4
	ServerName           string
	NextProtocol         string
	Curve                string
	CertRequested        bool
	OCSP                 string
	Alerts               []alert // dir: 0 client, 1 server (after any role swap)

	// quic: the handshake came from QUIC Initial packets; whether it
	// completed is not visible there, so tls.established is left out.
	quic bool
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

const tls13 = version(0x0304)

func newEvent(c *Conn) *Event {
	e := &Event{cfg: c.p.cfg, Client: c.clientHello, Server: c.serverHello}
	b := &e.Base
	c.conn.FillBase(b)
	b.Type = "tls"
	b.Start, b.End = c.start, c.last
	cl, sv := &c.half[0], &c.half[1]
	// The engine names the client by port; the hellos may say otherwise
	// (a server on an unexpected port talking to a client on a TLS port).
	swapped := cl.role == roleServer || sv.role == roleClient
	if swapped {
		cl, sv = sv, cl
		b.Source, b.Destination = b.Destination, b.Source
	}
	b.Source.Bytes, b.Destination.Bytes = cl.bytes, sv.bytes
	e.ClientCerts, e.ServerCerts = cl.certs, sv.certs
	e.Established = c.half[0].encrypted && c.half[1].encrypted
	e.CertRequested = c.certRequested
	if c.hasOCSP {
		e.OCSP = ocspStatusName(c.ocsp)
	}
	for _, a := range c.alerts {
		if swapped {
			a.dir ^= 1
		}
		e.Alerts = append(e.Alerts, a)
	}

	e.fromHellos(b, false)
	if e.Curve == "" && c.hasCurve {
		e.Curve = groupName(c.curve)
	}
	e.resumption(e.Client, e.Server, cl.keyExchanged || sv.keyExchanged)

	b.Status = "OK"
	if !e.Established {
		b.Status = "Error"
	}
	for _, a := range e.Alerts {
		if a.level == 2 {
			b.Status = "Error"
		}
	}
	b.Notes = c.notes
	return e
}

// fromHellos sets what the hellos tell: fingerprints, server name,
// version, ALPN choice and (TLS 1.3) the key share group. quic selects
// JA4's "q" transport.
func (e *Event) fromHellos(b *ecsmap.Base, quic bool) {
	ch, sh := e.Client, e.Server
	if ch != nil {
		e.JA3 = md5Hex(ja3String(ch))
		e.JA4 = ja4(ch, quic, false)
		if e.cfg.rawJA4 {
			e.JA4Raw = ja4(ch, quic, true)
		}
		if d, ok := ch.ext(extServerName); ok {
			if names := serverNames(d); len(names) > 0 {
				e.ServerName = names[0]
				b.Destination.Domain = names[0]
			}
		}
	}
	if sh != nil {
		e.JA3S = md5Hex(ja3sString(sh))
		e.Version, e.HasVersion = sh.selectedVersion(), true
		if d, ok := sh.ext(extALPN); ok {
			if p := protocolNames(d); len(p) > 0 {
				e.NextProtocol = p[0]
			}
		}
	} else if ch != nil {
		e.Version, e.HasVersion = ch.version, true
	}
	if sh != nil && e.Version == tls13 {
		if d, ok := sh.ext(extKeyShare); ok && len(d) >= 2 {
			e.Curve = groupName(binary.BigEndian.Uint16(d))
		}
	}
}

// resumption decides tls.resumed. TLS 1.3 resumes with a pre-shared key the
// server accepts (its ServerHello carries pre_shared_key); the echoed
// legacy session id means nothing there. Before 1.3 a resumed session
// skips the key exchange and either reuses the session id or the client
// offers a ticket the server acknowledges; with a ticket offered, ticket is
// assumed even when the id also matches (RFC 5077 lets both happen).
func (e *Event) resumption(ch, sh *hello, keyExchanged bool) {
	if ch == nil || sh == nil {
		return
	}
	if e.Version == tls13 {
		if _, ok := sh.ext(extPreSharedKey); ok {
			e.Resumed, e.ResumptionMethod = true, "ticket"
		}
		return
	}
	if keyExchanged {
		return
	}
	idMatch := len(ch.sessionID) > 0 && string(ch.sessionID) == string(sh.sessionID)
	// A server accepting a ticket echoes the client's session id (RFC 5077
	// section 3.4) and need not repeat the session_ticket extension.
	t, _ := ch.ext(extSessionTicket)
	_, ack := sh.ext(extSessionTicket)
	ticket := len(t) > 0 && (ack || idMatch)
	switch {
	case ticket:
		e.Resumed, e.ResumptionMethod = true, "ticket"
	case idMatch:
		e.Resumed, e.ResumptionMethod = true, "id"
	}
}

// WriteFields implements ecsmap.Event: the tls group.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	cfg := e.cfg
	w.Object("tls")
	if e.Server != nil {
		w.Str("cipher", cipherName(e.Server.cipher))
	}
	if e.Client != nil || e.ClientCerts.leaf() != nil {
		w.Object("client")
		if e.Client != nil {
			w.Str("ja3", e.JA3)
			w.Str("ja4", e.JA4)
			w.OptStr("ja4_r", e.JA4Raw)
			w.OptStr("server_name", e.ServerName)
			if len(e.Client.ciphers) > 0 {
				w.ArrayStart("supported_ciphers")
				e.Client.cipherList(func(v uint16) { w.ElemStr(cipherName(v)) })
				w.ArrayEnd()
			}
		}
		e.writeCert(w, e.ClientCerts)
		w.End()
	}
	w.OptStr("curve", e.Curve)
	if cfg.detailed {
		e.writeDetailed(w)
	}
	if !e.quic {
		w.Bool("established", e.Established)
	}
	w.OptStr("next_protocol", e.NextProtocol)
	w.Bool("resumed", e.Resumed)
	if e.Server != nil || e.ServerCerts.leaf() != nil {
		w.Object("server")
		if e.Server != nil {
			w.Str("ja3s", e.JA3S)
		}
		e.writeCert(w, e.ServerCerts)
		w.End()
	}
	if e.HasVersion {
		proto, ver := e.Version.protocol()
		w.Str("version", ver)
		w.Str("version_protocol", proto)
	}
	w.End()
}

// writeCert writes one side's leaf certificate summary (always), its x509
// object (send_certificates with detailed fields) and the PEM chain
// (include_raw_certificates).
func (e *Event) writeCert(w *ecsmap.Writer, m *certMsg) {
	leaf := m.leaf()
	if leaf == nil {
		return
	}
	cfg := e.cfg
	if cfg.rawCerts {
		w.Strs("certificate_chain", pemChain(m))
	}
	writeHashes(w, cfg, leaf.Raw)
	w.Str("issuer", leaf.Issuer.String())
	w.Time("not_after", leaf.NotAfter)
	w.Time("not_before", leaf.NotBefore)
	w.Str("subject", leaf.Subject.String())
	if cfg.sendCerts && cfg.detailed {
		w.Object("x509")
		writeX509(w, leaf)
		w.End()
	}
}

func (e *Event) writeDetailed(w *ecsmap.Writer) {
	w.Object("detailed")
	if len(e.Alerts) > 0 {
		w.ArrayStart("alert_types")
		for _, a := range e.Alerts {
			w.ElemStr(alertName(a.desc))
		}
		w.ArrayEnd()
	}
	if e.cfg.sendCerts {
		writeChain(w, "client_certificate_chain", e.ClientCerts)
	}
	if !e.quic { // a CertificateRequest travels encrypted in QUIC's Handshake packets
		w.Bool("client_certificate_requested", e.CertRequested)
	}
	if e.Client != nil {
		w.Object("client_hello")
		writeHello(w, e.Client, true)
		w.End()
	}
	w.OptStr("ocsp_response", e.OCSP)
	w.OptStr("resumption_method", e.ResumptionMethod)
	if e.cfg.sendCerts {
		writeChain(w, "server_certificate_chain", e.ServerCerts)
	}
	if e.Server != nil {
		w.Object("server_hello")
		writeHello(w, e.Server, false)
		w.End()
	}
	if e.HasVersion {
		w.Str("version", e.Version.String())
	}
	w.End()
}

// writeChain writes the certificates after the leaf (the chain of trust).
func writeChain(w *ecsmap.Writer, key string, m *certMsg) {
	if m == nil || len(m.certs) < 2 {
		return
	}
	w.ArrayStart(key)
	for _, c := range m.certs[1:] {
		w.ElemObject()
		writeX509(w, c)
		w.End()
	}
	w.ArrayEnd()
}

func writeHello(w *ecsmap.Writer, h *hello, client bool) {
	writeExtensions(w, h, client)
	w.Str("random", hex.EncodeToString(h.random))
	if client {
		if len(h.compressions) > 0 {
			w.ArrayStart("supported_compression_methods")
			for _, m := range h.compressions {
				w.ElemStr(compressionName(m))
			}
			w.ArrayEnd()
		}
	} else {
		w.Str("selected_compression_method", compressionName(h.compression))
	}
	if len(h.sessionID) > 0 {
		w.Str("session_id", hex.EncodeToString(h.sessionID))
	}
	w.Str("version", h.version.raw())
}

// maxExtensionsWritten bounds the detailed extension list (a hello can
// hold thousands of empty extensions; JA3 still counts them all).
const maxExtensionsWritten = 128

func writeExtensions(w *ecsmap.Writer, h *hello, client bool) {
	if len(h.exts) == 0 {
		return
	}
	w.Object("extensions")
	var unparsed []string
	for i, e := range h.exts {
		if i >= maxExtensionsWritten {
			break
		}
		if isGrease(e.code) || dupExt(h.exts[:i], e.code) {
			continue
		}
		if !writeExtension(w, e, client) {
			unparsed = append(unparsed, extensionLabel(e.code))
		}
	}
	if len(unparsed) > 0 {
		w.Strs("_unparsed_", unparsed)
	}
	w.End()
}

func dupExt(prev []extension, code uint16) bool {
	for _, p := range prev {
		if p.code == code {
			return true
		}
	}
	return false
}

// writeExtension writes one parsed extension under its label, or reports
// false when it is unknown or does not parse (it then goes to _unparsed_).
func writeExtension(w *ecsmap.Writer, e extension, client bool) bool {
	d, label := e.data, extensionLabel(e.code)
	names16 := func(prefix int, name func(uint16) string) bool {
		var out []string
		if !u16List(d, prefix, func(v uint16) { out = append(out, name(v)) }) || len(out) == 0 {
			return false
		}
		w.Strs(label, out)
		return true
	}
	switch e.code {
	case extServerName:
		names := serverNames(d)
		if len(names) == 0 {
			return false
		}
		w.Strs(label, names)
	case extMaxFragment:
		if len(d) != 1 {
			return false
		}
		if d[0] >= 1 && d[0] <= 4 {
			w.Str(label, "2^"+strconv.Itoa(8+int(d[0])))
		} else {
			w.Str(label, unknown8(d[0]))
		}
	case 2, 4: // client_certificate_url, truncated_hmac: empty by definition
		if len(d) == 0 {
			w.Str(label, "")
		} else {
			w.Str(label, "(expected empty: found "+strconv.Itoa(len(d))+" bytes)")
		}
	case extStatusRequest:
		if len(d) == 0 { // the server's acknowledgement
			w.Object(label)
			w.Bool("response", true)
			w.End()
			return true
		}
		if len(d) < 5 {
			return false
		}
		ids := int(binary.BigEndian.Uint16(d[1:]))
		if 3+ids+2 > len(d) {
			return false
		}
		w.Object(label)
		if d[0] == 1 {
			w.Str("type", "ocsp")
		} else {
			w.Str("type", strconv.Itoa(int(d[0])))
		}
		w.Int("responder_id_list_length", int64(ids))
		w.Int("request_extensions", int64(binary.BigEndian.Uint16(d[3+ids:])))
		w.End()
	case extCertType:
		if len(d) == 0 {
			return false
		}
		list := d
		if client {
			if int(d[0])+1 != len(d) {
				return false
			}
			list = d[1:]
		}
		var out []string
		for _, t := range list {
			switch t {
			case 0:
				out = append(out, "X.509")
			case 1:
				out = append(out, "OpenPGP")
			case 2:
				out = append(out, "RawPubKey")
			default:
				out = append(out, unknown8(t))
			}
		}
		w.Strs(label, out)
	case extSupportedGroups:
		return names16(2, groupName)
	case extPointFormats:
		if len(d) < 2 || int(d[0])+1 != len(d) {
			return false
		}
		out := make([]string, 0, len(d)-1)
		for _, f := range d[1:] {
			out = append(out, pointFormatName(f))
		}
		w.Strs(label, out)
	case extSRP:
		if len(d) < 1 || int(d[0])+1 != len(d) {
			return false
		}
		w.Bytes(label, d[1:])
	case extSignatureAlgs:
		return names16(2, signatureName)
	case extALPN:
		p := protocolNames(d)
		if len(p) == 0 {
			return false
		}
		w.Strs(label, p)
	case extSessionTicket:
		w.Str(label, ticketText(d))
	case extSupportedVersion:
		if !client {
			if len(d) != 2 {
				return false
			}
			w.Str(label, version(binary.BigEndian.Uint16(d)).String())
			return true
		}
		return names16(1, func(v uint16) string { return version(v).String() })
	case extKeyShare:
		gs := keyShareGroups(d, client)
		if len(gs) == 0 {
			return false
		}
		out := make([]string, len(gs))
		for i, g := range gs {
			out[i] = groupName(g)
		}
		w.Strs(label, out)
	default:
		return false
	}
	return true
}
