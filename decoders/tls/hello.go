package tls

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// hello is a parsed ClientHello or ServerHello. Its slices point into msg,
// the message body the hello owns (copied once out of the stream).
type hello struct {
	msg          []byte
	version      version // legacy_version field
	random       []byte
	sessionID    []byte
	ciphers      []byte // client: the cipher_suites vector (2 bytes each)
	cipher       uint16 // server: the selected suite
	compressions []byte // client: offered methods
	compression  uint8  // server: the selected method
	exts         []extension
}

type extension struct {
	code uint16
	data []byte
}

var (
	errShortHello = errors.New("truncated hello message")
	errBadHello   = errors.New("malformed hello message")
)

// helloRetryRandom is the fixed ServerHello.random of a TLS 1.3
// HelloRetryRequest (RFC 8446 section 4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// parseHello parses the body of a ClientHello (client true) or ServerHello.
// It takes ownership of msg.
func parseHello(msg []byte, client bool) (*hello, error) {
	h := &hello{msg: msg}
	if len(msg) < 2+32+1 {
		return nil, errShortHello
	}
	h.version = version(binary.BigEndian.Uint16(msg))
	if msg[0] != 3 {
		return nil, errBadHello
	}
	h.random = msg[2:34]
	p := msg[34:]
	sidLen := int(p[0])
	if sidLen > 32 {
		return nil, errBadHello
	}
	if len(p) < 1+sidLen {
		return nil, errShortHello
	}
	h.sessionID = p[1 : 1+sidLen]
	p = p[1+sidLen:]
	if client {
		if len(p) < 2 {
			return nil, errShortHello
		}
		n := int(binary.BigEndian.Uint16(p))
		if n%2 != 0 {
			return nil, errBadHello
		}
		if len(p) < 2+n+1 {
			return nil, errShortHello
		}
		h.ciphers = p[2 : 2+n]
		p = p[2+n:]
		m := int(p[0])
		if len(p) < 1+m {
			return nil, errShortHello
		}
		h.compressions = p[1 : 1+m]
		p = p[1+m:]
	} else {
		if len(p) < 3 {
			return nil, errShortHello
		}
		h.cipher = binary.BigEndian.Uint16(p)
		h.compression = p[2]
		p = p[3:]
	}
	// Extensions are optional (SSL 3.0 and old clients send none).
	if len(p) == 0 {
		return h, nil
	}
	if len(p) < 2 {
		return nil, errShortHello
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return nil, errShortHello
	}
	p = p[2 : 2+n]
	count := 0
	for q := p; len(q) >= 4; {
		l := int(binary.BigEndian.Uint16(q[2:]))
		if len(q) < 4+l {
			return nil, errBadHello
		}
		q = q[4+l:]
		count++
	}
	h.exts = make([]extension, 0, count)
	for len(p) >= 4 {
		code := binary.BigEndian.Uint16(p)
		l := int(binary.BigEndian.Uint16(p[2:]))
		h.exts = append(h.exts, extension{code: code, data: p[4 : 4+l]})
		p = p[4+l:]
	}
	if len(p) != 0 {
		return nil, errBadHello
	}
	return h, nil
}

// ext returns the first extension with code, and whether there is one.
func (h *hello) ext(code uint16) ([]byte, bool) {
	if h == nil {
		return nil, false
	}
	for _, e := range h.exts {
		if e.code == code {
			return e.data, true
		}
	}
	return nil, false
}

func (h *hello) isRetry() bool {
	return h != nil && string(h.random) == string(helloRetryRandom[:])
}

// selectedVersion is the server's supported_versions choice, else its
// legacy version field.
func (h *hello) selectedVersion() version {
	if d, ok := h.ext(extSupportedVersion); ok && len(d) == 2 {
		return version(binary.BigEndian.Uint16(d))
	}
	return h.version
}

// cipherList calls f with every offered suite except GREASE values.
func (h *hello) cipherList(f func(uint16)) {
	for i := 0; i+1 < len(h.ciphers); i += 2 {
		if v := binary.BigEndian.Uint16(h.ciphers[i:]); !isGrease(v) {
			f(v)
		}
	}
}

// u16List returns the values of a vector of uint16 with a length prefix of
// prefix bytes (1 or 2), or false when the lengths disagree.
func u16List(d []byte, prefix int, f func(uint16)) bool {
	if len(d) < prefix {
		return false
	}
	var n int
	if prefix == 1 {
		n = int(d[0])
	} else {
		n = int(binary.BigEndian.Uint16(d))
	}
	if n%2 != 0 || prefix+n != len(d) {
		return false
	}
	for i := prefix; i < len(d); i += 2 {
		if v := binary.BigEndian.Uint16(d[i:]); !isGrease(v) {
			f(v)
		}
	}
	return true
}

// serverNames parses server_name: the host_name entries.
func serverNames(d []byte) []string {
	if len(d) < 2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(d))
	if 2+n > len(d) {
		return nil
	}
	var out []string
	for p := d[2 : 2+n]; len(p) >= 3; {
		l := int(binary.BigEndian.Uint16(p[1:]))
		if len(p) < 3+l {
			break
		}
		if p[0] == 0 {
			out = append(out, string(p[3:3+l]))
		}
		p = p[3+l:]
	}
	return out
}

// protocolNames parses application_layer_protocol_negotiation.
func protocolNames(d []byte) []string {
	if len(d) < 2 || int(binary.BigEndian.Uint16(d))+2 != len(d) {
		return nil
	}
	var out []string
	for p := d[2:]; len(p) > 0; {
		l := int(p[0])
		if len(p) < 1+l {
			return nil
		}
		out = append(out, string(p[1:1+l]))
		p = p[1+l:]
	}
	return out
}

// keyShareGroups returns the groups of a key_share extension: the client's
// KeyShareEntry list, the server's single entry, or a HelloRetryRequest's
// bare group.
func keyShareGroups(d []byte, client bool) []uint16 {
	var out []uint16
	if !client {
		if len(d) >= 2 {
			out = append(out, binary.BigEndian.Uint16(d))
		}
		return out
	}
	if len(d) < 2 || int(binary.BigEndian.Uint16(d))+2 != len(d) {
		return nil
	}
	for p := d[2:]; len(p) >= 4; {
		g, l := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+l {
			break
		}
		if !isGrease(g) {
			out = append(out, g)
		}
		p = p[4+l:]
	}
	return out
}

// ticketText is Packetbeat's session_ticket value: "" for an empty
// extension (support announced), "(N bytes)" for a ticket offered.
func ticketText(d []byte) string {
	if len(d) == 0 {
		return ""
	}
	return "(" + strconv.Itoa(len(d)) + " bytes)"
}
