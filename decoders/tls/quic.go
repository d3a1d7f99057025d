package tls

import (
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Handshake is the tls part of a QUIC connection's event: QUIC carries
// the TLS 1.3 handshake in CRYPTO frames instead of records, and its
// Initial packets (which any observer can decrypt, RFC 9001 section 5.2)
// hold the ClientHello and the ServerHello. decoders/quic reassembles
// them and hands the message bodies here, so the fields are those of the
// tls data stream, computed by the same code.
type Handshake struct {
	ev Event
}

// HandshakeOptions are the tls options that apply to a QUIC handshake.
type HandshakeOptions struct {
	RawJA4   bool // write tls.client.ja4_r
	Detailed bool // write tls.detailed
}

// NewQUICHandshake parses the bodies (after the 4-byte handshake header)
// of a ClientHello and a ServerHello, either of which may be nil, and
// takes ownership of both. b receives destination.domain from the SNI.
func NewQUICHandshake(clientHello, serverHello []byte, o HandshakeOptions, b *ecsmap.Base) (*Handshake, error) {
	h := &Handshake{}
	h.ev.cfg = &settings{detailed: o.Detailed, rawJA4: o.RawJA4}
	h.ev.quic = true
	var err error
	if clientHello != nil {
		if h.ev.Client, err = parseHello(clientHello, true); err != nil {
			return nil, err
		}
	}
	if serverHello != nil {
		if h.ev.Server, err = parseHello(serverHello, false); err != nil {
			return nil, err
		}
	}
	h.ev.fromHellos(b, true)
	h.ev.resumption(h.ev.Client, h.ev.Server, false)
	return h, nil
}

// ServerName is the SNI of the ClientHello, "" without one.
func (h *Handshake) ServerName() string { return h.ev.ServerName }

// JA4 is the client's JA4 (with its "q" prefix), "" without a ClientHello.
func (h *Handshake) JA4() string { return h.ev.JA4 }

// WriteFields writes the tls object.
func (h *Handshake) WriteFields(w *ecsmap.Writer) { h.ev.WriteFields(w) }
