package quic

import (
	"encoding/hex"

	"github.com/network-traffic/network-traffic/decoders/tls"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is the network_traffic.quic document of one connection. It owns
// everything it points to.
type Event struct {
	Base ecsmap.Base
	TLS  *tls.Handshake // nil when no hello decrypted

	Version, FirstVersion uint32
	ODCID, ClientCID      []byte
	ServerCID             []byte
	Retry                 bool
	VersionNegotiation    bool
	Compatible            bool // RFC 9368 compatible negotiation
	ServerVersions        []uint32
	Initials              [2]int
	Undecryptable         int
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

func newEvent(cfg *settings, st *conn) (*Event, error) {
	e := &Event{
		Version: st.version, FirstVersion: st.firstVersion,
		ODCID: st.odcid, ClientCID: st.cid[0], ServerCID: st.cid[1],
		Retry: st.retry, VersionNegotiation: st.vn, ServerVersions: st.vnVersions, Compatible: st.compatible,
		Initials: st.initials, Undecryptable: st.undecryptable,
	}
	b := &e.Base
	st.c.FillBase(b)
	b.Type = "quic"
	b.Start, b.End = st.start, st.last
	b.Source.Bytes, b.Destination.Bytes = st.bytes[0], st.bytes[1]
	if st.hello[0] != nil || st.hello[1] != nil {
		h, err := tls.NewQUICHandshake(st.hello[0], st.hello[1],
			tls.HandshakeOptions{RawJA4: cfg.rawJA4, Detailed: cfg.detailed}, b)
		if err != nil {
			return nil, err
		}
		e.TLS = h
	}
	// OK once the server answered the ClientHello; a connection that
	// never got a ServerHello (refused, negotiating, undecryptable) is an
	// error, as a TLS handshake without one is.
	b.Status = "Error"
	if st.hello[0] != nil && st.hello[1] != nil {
		b.Status = "OK"
	}
	return e, nil
}

// versionName is "1" and "2" for the RFC versions, else the hex code.
func versionName(v uint32) string {
	switch v {
	case version1:
		return "1"
	case version2:
		return "2"
	}
	return "0x" + hex.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// WriteFields implements ecsmap.Event: the quic group, then tls.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("quic")
	w.Object("client")
	w.Int("initial_packets", int64(e.Initials[0]))
	w.End()
	w.Object("connection_id")
	if e.ClientCID != nil {
		w.Str("client", hex.EncodeToString(e.ClientCID))
	}
	w.Str("original_destination", hex.EncodeToString(e.ODCID))
	if e.ServerCID != nil {
		w.Str("server", hex.EncodeToString(e.ServerCID))
	}
	w.End()
	w.Bool("retry", e.Retry)
	w.Object("server")
	w.Int("initial_packets", int64(e.Initials[1]))
	w.End()
	if e.Undecryptable > 0 {
		w.Int("undecryptable_packets", int64(e.Undecryptable))
	}
	w.Str("version", versionName(e.Version))
	if e.VersionNegotiation || e.Compatible {
		w.Object("version_negotiation")
		w.Str("client_version", versionName(e.FirstVersion))
		if e.VersionNegotiation {
			w.ArrayStart("server_versions")
			for _, v := range e.ServerVersions {
				w.ElemStr(versionName(v))
			}
			w.ArrayEnd()
		}
		// compatible: the server switched versions without a Version
		// Negotiation packet (RFC 9368), false after one (RFC 9000).
		w.Bool("compatible", e.Compatible && !e.VersionNegotiation)
		w.End()
	}
	w.End()
	if e.TLS != nil {
		e.TLS.WriteFields(w)
	}
}
