package quic

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the decoder saw, for diagnostics and tests.
type Stats struct {
	Events         atomic.Int64 // events published
	Initials       atomic.Int64 // Initial packets decrypted
	DecryptErrors  atomic.Int64 // Initial packets that did not decrypt
	Malformed      atomic.Int64 // packets or frames that do not parse
	UnknownVersion atomic.Int64 // long-header packets of versions we cannot read
	CryptoBounds   atomic.Int64 // CRYPTO streams dropped at their bounds
	Incomplete     atomic.Int64 // hellos never completed (holes that never filled)
	BadHello       atomic.Int64 // hellos that reassembled but do not parse
	BadRetry       atomic.Int64 // Retry packets whose integrity tag is wrong
	TableFull      atomic.Int64 // new connections not tracked (max_connections)
}

// Protocol is one configured quic instance. Datagram, Expire and Flush
// run on the engine's goroutine.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
	conns map[connKey]*conn
	buf   []byte // scratch: the packet being decrypted (changed in place)
	// cryptoBudget is what CRYPTO reassembly buffers may still take, all
	// connections together.
	cryptoBudget int
}

func newProtocol(s *settings, pub protocol.Publisher) *Protocol {
	return &Protocol{cfg: s, pub: pub, conns: map[connKey]*conn{}, cryptoBudget: maxCryptoTotal}
}

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 {
	s := &p.stats
	return uint64(s.DecryptErrors.Load() + s.Malformed.Load() + s.CryptoBounds.Load() +
		s.Incomplete.Load() + s.BadHello.Load() + s.BadRetry.Load())
}

// Stats returns the counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// connKey is a UDP address pair, client first. Connection migration (a
// new client address mid-connection) happens after the handshake, so the
// Initials of one connection share it.
type connKey struct{ client, server netip.AddrPort }

// conn is what one connection's Initial packets told so far.
type conn struct {
	c           protocol.Conn
	start, last time.Time

	version      uint32 // of the Initials being decrypted
	firstVersion uint32 // of the client's first Initial (differs after version negotiation)
	params       *versionParams
	odcid        []byte // the client's first Destination Connection ID
	keyDCID      []byte // what the keys come from: odcid, a Retry's SCID, or the DCID after negotiation
	cid          [2][]byte
	keys         [2]*keys
	largest      [2]uint64
	hasPN        [2]bool
	crypto       [2]cryptoStream
	hello        [2][]byte // ClientHello and ServerHello bodies

	retry         bool
	vn            bool
	compatible    bool // the server moved the connection to another version (RFC 9368)
	vnVersions    []uint32
	initials      [2]int
	undecryptable int
	bytes         [2]int64
	published     bool
	probed        []byte // the last unknown DCID that did not open a new connection
}

// knows reports whether dcid is one of the connection's IDs.
func (st *conn) knows(dcid []byte) bool {
	return string(dcid) == string(st.odcid) || string(dcid) == string(st.keyDCID) ||
		string(dcid) == string(st.cid[1])
}

// maxVNVersions bounds the versions kept from a Version Negotiation.
const maxVNVersions = 16

// Datagram implements protocol.UDPProtocol.
func (p *Protocol) Datagram(c *protocol.Conn, dir protocol.Dir, payload []byte, ts time.Time) {
	key := connKey{c.Client, c.Server}
	st := p.conns[key]
	d := int(dir) & 1
	if st != nil {
		st.last = ts
		if !st.published {
			st.bytes[d] += int64(len(payload))
		}
	}
	for b := payload; len(b) > 0; {
		if b[0]&0x80 == 0 {
			return // a short header: 1-RTT to the end of the datagram
		}
		h, rest, err := parseLong(b)
		if err != nil {
			if st == nil || !st.published {
				p.stats.Malformed.Add(1)
			}
			return
		}
		b = rest
		if st != nil && st.published {
			// The handshake is told: the rest is not looked at, unless a
			// client Initial goes to a connection ID this connection never
			// used: a new connection from the same address and port.
			// Only one that decrypts with keys of its own counts (an
			// Initial-typed packet no keys open was seen once late in a
			// quic-go handshake).
			if h.kind != kindInitial || dir != protocol.FromClient || st.knows(h.dcid) ||
				string(h.dcid) == string(st.probed) {
				return
			}
			if !p.opens(&h) {
				// Remember it: a key derivation per such packet would let
				// a stream of them cost a lot.
				st.probed = append(st.probed[:0], h.dcid...)
				return
			}
			delete(p.conns, key)
			if st = p.newConn(key, c, ts, len(payload)); st == nil {
				return
			}
		}
		switch h.kind {
		case kindVersionNegotiation:
			if st != nil && dir == protocol.FromServer {
				st.negotiation(h.versions)
			}
		case kindUnknownVersion:
			p.stats.UnknownVersion.Add(1)
			if st == nil && dir == protocol.FromClient {
				if st = p.newConn(key, c, ts, len(payload)); st != nil {
					st.version, st.firstVersion = h.version, h.version
					st.odcid = append([]byte(nil), h.dcid...)
					st.cid[0] = append([]byte(nil), h.scid...)
				}
			}
		case kindRetry:
			if st != nil && dir == protocol.FromServer {
				p.retry(st, &h)
			}
		case kindInitial:
			if dir == protocol.FromClient {
				if st == nil {
					if st = p.newConn(key, c, ts, len(payload)); st == nil {
						return
					}
				}
				p.clientInitial(st, &h)
			} else if st != nil {
				p.serverInitial(st, &h)
			}
		}
		if st != nil && st.hello[0] != nil && st.hello[1] != nil {
			p.publish(key, st)
			return
		}
	}
}

func (p *Protocol) newConn(key connKey, c *protocol.Conn, ts time.Time, n int) *conn {
	if len(p.conns) >= p.cfg.maxConns {
		p.stats.TableFull.Add(1)
		return nil
	}
	st := &conn{c: *c, start: ts, last: ts}
	st.crypto[0].budget, st.crypto[1].budget = &p.cryptoBudget, &p.cryptoBudget
	st.bytes[0] = int64(n)
	p.conns[key] = st
	return st
}

// opens reports whether a client Initial decrypts with the keys of its
// own Destination Connection ID, leaving no trace in the counters.
func (p *Protocol) opens(h *longHeader) bool {
	ck, err := clientKeys(paramsFor(h.version), h.dcid)
	if err != nil {
		return false
	}
	p.buf = append(p.buf[:0], h.pkt...)
	_, _, err = decrypt(ck, p.buf, h.pnOffset, h.length, 0)
	return err == nil
}

// rekey derives both directions' keys for version v from dcid.
func (p *Protocol) rekey(st *conn, v uint32, dcid []byte) bool {
	st.version, st.params = v, paramsFor(v)
	st.keyDCID = append(st.keyDCID[:0], dcid...)
	ck, sk, err := initialKeys(st.params, st.keyDCID)
	if err != nil {
		st.params = nil
		return false
	}
	st.keys = [2]*keys{ck, sk}
	return true
}

func (p *Protocol) clientInitial(st *conn, h *longHeader) {
	switch {
	case st.odcid == nil:
		// The connection's first packet.
		st.firstVersion = h.version
		st.odcid = append([]byte(nil), h.dcid...)
		st.cid[0] = append([]byte(nil), h.scid...)
		if !p.rekey(st, h.version, h.dcid) {
			return
		}
	case st.params == nil || h.version != st.version && st.vn:
		// After a Version Negotiation packet the client starts over in
		// another version (RFC 9000 section 6.2), its ClientHello sent
		// again, maybe to a new connection ID.
		if !p.rekey(st, h.version, h.dcid) {
			return
		}
		st.crypto[0].reset()
		st.hello[0] = nil
		st.hasPN[0] = false
	case h.version != st.version:
		// Compatible negotiation (RFC 9368): the client follows the
		// server into the new version, keys still from the same
		// connection ID, the ClientHello not repeated.
		if !p.rekey(st, h.version, st.keyDCID) {
			return
		}
	}
	p.open(st, 0, h)
}

func (p *Protocol) serverInitial(st *conn, h *longHeader) {
	if st.params != nil && h.version != st.version && !st.vn {
		// Compatible negotiation (RFC 9368): the server answers the
		// ClientHello in another version it and the client both speak;
		// its Initials, and the client's from then on, use that
		// version's keys from the same connection ID.
		if !p.rekey(st, h.version, st.keyDCID) {
			return
		}
		st.compatible = true
	}
	if st.params == nil || h.version != st.version {
		p.stats.DecryptErrors.Add(1)
		st.undecryptable++
		return
	}
	if st.cid[1] == nil {
		st.cid[1] = append([]byte(nil), h.scid...)
	}
	p.open(st, 1, h)
}

// open decrypts one Initial of direction d and feeds its CRYPTO frames
// to that direction's reassembly.
func (p *Protocol) open(st *conn, d int, h *longHeader) {
	if st.crypto[d].done && st.hello[d] != nil {
		st.initials[d]++
		return // the hello is known: acknowledgements and padding only
	}
	p.buf = append(p.buf[:0], h.pkt...)
	plain, pn, err := decrypt(st.keys[d], p.buf, h.pnOffset, h.length, st.largest[d])
	if err != nil {
		p.stats.DecryptErrors.Add(1)
		st.undecryptable++
		return
	}
	p.stats.Initials.Add(1)
	st.initials[d]++
	if !st.hasPN[d] || pn > st.largest[d] {
		st.largest[d], st.hasPN[d] = pn, true
	}
	want := byte(1) // ClientHello
	if d == 1 {
		want = 2 // ServerHello
	}
	err = frames(plain, func(off uint64, data []byte) error {
		body, err := st.crypto[d].add(off, data, want)
		if body != nil {
			st.hello[d] = body
		}
		return err
	})
	switch err {
	case nil:
	case errCryptoBound:
		p.stats.CryptoBounds.Add(1)
	default:
		p.stats.Malformed.Add(1)
	}
}

// retry handles a server's Retry: the client's next Initial goes to the
// Retry's Source Connection ID, and the keys come from that (RFC 9001
// section 5.2); a tag that does not verify is ignored, as a client would.
func (p *Protocol) retry(st *conn, h *longHeader) {
	if st.params == nil || st.retry {
		return
	}
	var err error
	p.buf, err = checkRetry(st.params, st.keyDCID, h.pkt, p.buf)
	if err != nil {
		p.stats.BadRetry.Add(1)
		return
	}
	st.retry = true
	if !p.rekey(st, st.version, h.scid) {
		return
	}
	// The hello comes again in the new Initials; one already whole is
	// kept (the client repeats it unchanged).
	if st.hello[0] == nil {
		st.crypto[0].reset()
	}
}

// negotiation records a Version Negotiation packet's versions.
func (st *conn) negotiation(list []byte) {
	if st.vn {
		return
	}
	st.vn = true
	for i := 0; i+4 <= len(list) && len(st.vnVersions) < maxVNVersions; i += 4 {
		st.vnVersions = append(st.vnVersions, binary.BigEndian.Uint32(list[i:]))
	}
}

// publish sends the connection's event once; the entry stays (without
// its buffers) until idle, so the connection's later Initials are not
// taken for a new one.
func (p *Protocol) publish(key connKey, st *conn) {
	if st.published {
		return
	}
	st.published = true
	for d := range st.crypto {
		if st.crypto[d].pending() {
			p.stats.Incomplete.Add(1)
		}
		st.crypto[d].fail()
	}
	if st.hello[0] == nil && st.hello[1] == nil && !st.vn && !st.retry && !st.compatible {
		return // nothing readable: counted already
	}
	ev, err := newEvent(p.cfg, st)
	if err != nil {
		p.stats.BadHello.Add(1)
		return
	}
	st.hello = [2][]byte{}
	st.keys = [2]*keys{}
	p.stats.Events.Add(1)
	p.pub.Publish(ev)
}

// Expire implements protocol.UDPProtocol: a handshake unfinished after
// transaction_timeout is published as it is; finished ones are forgotten
// once idle that long.
func (p *Protocol) Expire(now time.Time) {
	timeout := p.cfg.common.TransactionTimeout
	for k, st := range p.conns {
		switch {
		case !st.published && now.Sub(st.start) > timeout:
			p.publish(k, st)
			delete(p.conns, k)
		case st.published && now.Sub(st.last) > timeout:
			delete(p.conns, k)
		}
	}
}

// Flush implements protocol.UDPProtocol.
func (p *Protocol) Flush() {
	for k, st := range p.conns {
		p.publish(k, st)
		delete(p.conns, k)
	}
}
