package tls

import (
	"encoding/binary"
	"time"
)

// Record content types (RFC 8446 section 5.1).
const (
	recChangeCipherSpec = 20
	recAlert            = 21
	recHandshake        = 22
	recApplicationData  = 23
	recHeartbeat        = 24
)

// Handshake message types this decoder reads.
const (
	hsHelloRequest       = 0
	hsClientHello        = 1
	hsServerHello        = 2
	hsCertificate        = 11
	hsServerKeyExchange  = 12
	hsCertificateRequest = 13
	hsClientKeyExchange  = 16
	hsCertificateStatus  = 22
)

// half is one direction of a connection as the record layer sees it.
type half struct {
	// hs holds handshake bytes of a message that spans records (the record
	// payloads since the message started), at most maxHandshakeLen+4.
	hs []byte
	// encrypted: ChangeCipherSpec or application data was seen; the rest of
	// the direction is only counted.
	encrypted bool
	// failed: the bytes are not TLS (or broke framing); only counted.
	failed bool
	bytes  int64 // stream bytes seen
	// role: 0 unknown, 1 sent a ClientHello, 2 sent a ServerHello.
	role uint8
	// keyExchanged: a (Client|Server)KeyExchange was sent, so the session
	// was not resumed.
	keyExchanged bool
	certs        *certMsg
}

// records parses whole records at the start of data and returns the bytes
// consumed; a record still incomplete is left for the next call.
func (c *Conn) records(dir int, data []byte, ts time.Time) int {
	h := &c.half[dir]
	consumed := 0
	for !h.encrypted && !h.failed {
		rest := data[consumed:]
		if len(rest) < 5 {
			break
		}
		typ, major := rest[0], rest[1]
		n := int(binary.BigEndian.Uint16(rest[3:]))
		if typ < recChangeCipherSpec || typ > recHeartbeat || major != 3 || n > maxRecordLen {
			c.fail(dir, "not a TLS record")
			break
		}
		if len(rest) < 5+n {
			break
		}
		consumed += 5 + n
		c.seen(ts)
		body := rest[5 : 5+n]
		switch typ {
		case recChangeCipherSpec:
			// In TLS 1.3 a CCS is a dummy for middleboxes (RFC 8446 D.4):
			// a second ClientHello may follow it after a HelloRetryRequest.
			if !c.tls13() {
				c.encrypted(dir, ts)
			}
		case recApplicationData:
			// Encrypted records: TLS 1.3's protected handshake, or data.
			c.encrypted(dir, ts)
		case recAlert:
			c.alert(dir, body)
		case recHandshake:
			c.handshake(dir, body, ts)
		}
	}
	if h.encrypted || h.failed {
		consumed = len(data)
	}
	h.bytes += int64(consumed)
	return consumed
}

// handshake feeds one handshake record's payload: whole messages are parsed
// from it in place, a message's start waits in h.hs for the next records.
func (c *Conn) handshake(dir int, rec []byte, ts time.Time) {
	h := &c.half[dir]
	buf := rec
	if len(h.hs) > 0 {
		h.hs = append(h.hs, rec...)
		buf = h.hs
	}
	for len(buf) >= 4 && !h.failed && !h.encrypted {
		n := int(buf[1])<<16 | int(binary.BigEndian.Uint16(buf[2:]))
		if n > maxHandshakeLen {
			c.fail(dir, "handshake message too large")
			h.hs = nil
			return
		}
		if len(buf) < 4+n {
			break
		}
		c.message(dir, buf[0], buf[4:4+n], ts)
		buf = buf[4+n:]
	}
	switch {
	case h.failed || len(buf) == 0:
		h.hs = h.hs[:0]
	case h.encrypted:
		h.hs = nil
	case len(h.hs) > 0:
		h.hs = h.hs[:copy(h.hs, buf)]
	default:
		h.hs = append(h.hs[:0], buf...)
	}
}

// message handles one complete handshake message. body is only valid
// during the call.
func (c *Conn) message(dir int, typ uint8, body []byte, ts time.Time) {
	h := &c.half[dir]
	switch typ {
	case hsClientHello:
		hl, err := parseHello(clone(body), true)
		if err != nil {
			c.note(dir, "ClientHello: "+err.Error())
			return
		}
		h.role = roleClient
		// After a HelloRetryRequest the client sends a second ClientHello;
		// the first is kept: JA3 fingerprints what a client offers
		// unprompted, and the offer differs only in key shares.
		if c.clientHello == nil {
			c.clientHello = hl
		}
	case hsServerHello:
		hl, err := parseHello(clone(body), false)
		if err != nil {
			c.note(dir, "ServerHello: "+err.Error())
			return
		}
		h.role = roleServer
		if c.serverHello == nil || c.serverHello.isRetry() {
			c.serverHello = hl
		}
		// Everything a TLS 1.3 server sends after its ServerHello is
		// encrypted (a HelloRetryRequest is followed by a real one).
		if !hl.isRetry() && hl.selectedVersion() == tls13 {
			c.encrypted(dir, ts)
		}
	case hsCertificate:
		if h.certs == nil {
			h.certs = parseCertificates(clone(body), c.p.cfg)
		}
	case hsServerKeyExchange:
		h.role = roleServer
		h.keyExchanged = true
		// ECDHE parameters start with curve_type named_curve (3) and the
		// group; DHE ones with the prime's length, so look only for ECDHE.
		if c.serverHello != nil && len(body) >= 3 && body[0] == 3 && isECDHE(c.serverHello.cipher) {
			c.curve = binary.BigEndian.Uint16(body[1:])
			c.hasCurve = true
		}
	case hsClientKeyExchange:
		h.role = roleClient
		h.keyExchanged = true
	case hsCertificateRequest:
		h.role = roleServer
		c.certRequested = true
	case hsCertificateStatus:
		c.ocsp, c.hasOCSP = ocspStatus(body)
	}
}

// tls13 reports whether the server chose TLS 1.3 (a HelloRetryRequest
// implies it too).
func (c *Conn) tls13() bool {
	return c.serverHello != nil && c.serverHello.selectedVersion() == tls13
}

const (
	roleClient = 1
	roleServer = 2
)

func isECDHE(suite uint16) bool {
	n := cipherNames[suite]
	return len(n) > 8 && (n[:9] == "TLS_ECDHE" || (len(n) > 12 && n[:12] == "TLS_ECDH_ano"))
}

// ocspStatus reads the responseStatus of a CertificateStatus message:
// status_type ocsp (1), a 3-byte length, then OCSPResponse ::= SEQUENCE
// { responseStatus ENUMERATED, ... }.
func ocspStatus(b []byte) (uint8, bool) {
	if len(b) < 4 || b[0] != 1 {
		return 0, false
	}
	p := b[4:]
	if len(p) < 2 || p[0] != 0x30 {
		return 0, false
	}
	l := int(p[1])
	p = p[2:]
	if l&0x80 != 0 { // long form: l&0x7f length bytes follow
		k := l & 0x7f
		if k == 0 || k > 3 || len(p) < k {
			return 0, false
		}
		p = p[k:]
	}
	if len(p) < 3 || p[0] != 0x0a || p[1] != 1 {
		return 0, false
	}
	return p[2], true
}

func ocspStatusName(s uint8) string {
	switch s {
	case 0:
		return "successful"
	case 1:
		return "malformedRequest"
	case 2:
		return "internalError"
	case 3:
		return "tryLater"
	case 5:
		return "sigRequired"
	case 6:
		return "unauthorized"
	}
	return "(unknown:" + itoa(int(s)) + ")"
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
