package http

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/http/h2"
	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the parser skipped or could not pair. Counters are
// shared by every connection of an instance and safe to read at any time.
type Stats struct {
	Requests, Responses atomic.Int64 // complete messages parsed
	UnmatchedRequests   atomic.Int64 // published without a response
	UnmatchedResponses  atomic.Int64 // published without a request
	InterimResponses    atomic.Int64 // 1xx other than 101, skipped
	ParseErrors         atomic.Int64 // bad start lines/headers/framing: resynchronised (Resync)
	HeaderOverflows     atomic.Int64 // header blocks larger than the bound, dropped
	GapDrops            atomic.Int64 // partial messages dropped because of a gap
	BodiesTruncated     atomic.Int64 // kept bodies cut at max_message_size
	// Resync counts the searches for a message start after gaps.
	Resync protocol.ResyncStats

	// H2 counts the HTTP/2 connections (prior knowledge or Upgrade: h2c).
	H2 h2.Stats
}

// Protocol is one configured http instance: the TCPProtocol the engine
// asks for a parser per connection.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 {
	h2 := &p.stats.H2
	return uint64(p.stats.ParseErrors.Load() + h2.ProtocolErrors.Load() + h2.BoundDrops.Load())
}

// NewConn starts parsing one connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	cn := &connection{p: p, conn: *c}
	cn.streams[protocol.FromClient].isRequest = true
	return cn
}

// stream is the parser state of one direction.
type stream struct {
	isRequest bool
	state     parseState
	msg       *message // in progress (headers parsed), nil in stStart
	remaining int64    // body or chunk bytes still expected
	scanned   int      // header-terminator scan position in the pending bytes
	scratch   []header // reused header scratch
	// rs searches for the next message start in stResync, after a gap or
	// a parse error lost the framing.
	rs protocol.Resync
}

func (st *stream) dir() protocol.Dir {
	if st.isRequest {
		return protocol.FromClient
	}
	return protocol.FromServer
}

// connection pairs the requests and responses of one TCP connection in
// FIFO order: HTTP/1.x answers requests in the order they were sent, which
// is what makes pipelining decodable.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	streams [2]stream
	// Requests waiting for a response, oldest first.
	head, tail *message
	// h2 decodes the connection once it turned out to be HTTP/2 (client
	// preface, or a 101 answering Upgrade: h2c); nil while it is HTTP/1.
	h2 *h2.Conn
	// guard holds pairing off after requests were lost in a gap.
	guard protocol.PairGuard
}

func (c *connection) push(m *message) {
	if c.tail == nil {
		c.head = m
	} else {
		c.tail.next = m
	}
	c.tail = m
}

func (c *connection) pop() *message {
	m := c.head
	if m != nil {
		c.head = m.next
		if c.head == nil {
			c.tail = nil
		}
		m.next = nil
	}
	return m
}

// Parse consumes as much of data as forms complete protocol elements:
// header blocks whole, bodies as they come (they are counted, and copied
// only when the configuration keeps them), so the stream never has to
// buffer a body.
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	st := &c.streams[dir]
	off := 0
	for off < len(data) {
		if c.h2 != nil {
			off += c.h2.Parse(uint8(dir), data[off:], ts)
			break
		}
		n := c.step(st, data[off:], ts)
		if n == 0 {
			break
		}
		off += n
	}
	if off > 0 {
		st.scanned = 0
	}
	return off
}

// step handles one protocol element at the start of data and returns how
// many bytes it consumed (0: need more data).
func (c *connection) step(st *stream, data []byte, ts time.Time) int {
	switch st.state {
	case stStart:
		return c.parseHead(st, data, ts)
	case stBody, stChunkData:
		n := int(min(int64(len(data)), st.remaining))
		st.msg.addBody(data[:n], c.p)
		st.remaining -= int64(n)
		if st.remaining == 0 {
			if st.state == stBody {
				c.complete(st, ts)
			} else {
				st.state = stChunkCRLF
			}
		}
		return n
	case stChunkSize:
		line, n, err := takeLine(data)
		if err != nil {
			return c.fail(st, err, 1, ts)
		}
		if n == 0 {
			return 0
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return c.fail(st, err, n, ts)
		}
		st.msg.size += int64(n)
		if size == 0 {
			st.state = stTrailers
		} else {
			st.state, st.remaining = stChunkData, size
		}
		return n
	case stChunkCRLF:
		switch {
		case data[0] == '\n':
			st.msg.size++
			st.state = stChunkSize
			return 1
		case data[0] != '\r':
			return c.fail(st, errChunkCRLF, 1, ts)
		case len(data) < 2:
			return 0
		case data[1] != '\n':
			return c.fail(st, errChunkCRLF, 1, ts)
		}
		st.msg.size += 2
		st.state = stChunkSize
		return 2
	case stTrailers:
		line, n, err := takeLine(data)
		if err != nil {
			return c.fail(st, err, 1, ts)
		}
		if n == 0 {
			return 0
		}
		st.msg.size += int64(n)
		if len(line) == 0 {
			c.complete(st, ts)
		}
		return n
	case stUntilClose:
		st.msg.addBody(data, c.p)
		return len(data)
	case stResync:
		skip, found := st.rs.Scan(st.dir(), data, resyncProbe, &c.p.stats.Resync)
		if found {
			st.state = stStart
			if skip == 0 {
				return c.parseHead(st, data, ts)
			}
		}
		return skip
	case stTunnel:
		return len(data)
	}
	return 0
}

// takeLine returns the first line of data without its CRLF and the bytes
// it spans, or n == 0 when the line is not complete yet.
func takeLine(data []byte) (line []byte, n int, err error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > maxLineBytes {
			return nil, 0, errLineTooLong
		}
		return nil, 0, nil
	}
	if i > maxLineBytes {
		return nil, 0, errLineTooLong
	}
	line = data[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, i + 1, nil
}

// fail abandons the message in progress after a framing error: a message
// whose headers were parsed is still published (with a note), then the
// stream skips to the next message start as after a gap (lostFraming:
// bounded, counted in the Resync counters, and pairing kept safe: the
// unparsable bytes may have been a request or a response). It returns
// consume, which must be > 0 so the caller makes progress.
func (c *connection) fail(st *stream, err error, consume int, ts time.Time) int {
	c.p.stats.ParseErrors.Add(1)
	if st.msg != nil {
		st.msg.notes = append(st.msg.notes, "HTTP parse error: "+err.Error())
		c.finish(st, st.msg)
	}
	st.msg = nil
	c.lostFraming(st, ts)
	return consume
}

// parseHead parses a start line and header block at the start of data.
func (c *connection) parseHead(st *stream, data []byte, ts time.Time) int {
	// RFC 9112 2.2: ignore empty lines before a request line; servers
	// sometimes send a stray CRLF after a body, so skip them either way.
	skip := 0
	for skip < len(data) && (data[skip] == '\r' || data[skip] == '\n') {
		skip++
	}
	if skip > 0 {
		return skip
	}
	if st.isRequest && c.head == nil && data[0] == 'P' && st.state == stStart {
		// HTTP/2 with prior knowledge (RFC 9113 3.3) begins with the
		// client preface, which reads like a "PRI" request line.
		n := min(len(data), len(h2.Preface))
		if string(data[:n]) == h2.Preface[:n] {
			if n < len(h2.Preface) {
				return 0
			}
			c.startH2()
			return c.h2.Parse(uint8(protocol.FromClient), data, ts)
		}
	}
	if !st.isRequest && c.head == nil && c.streams[protocol.FromClient].msg == nil && data[0] == 0 {
		// A server that speaks first with a SETTINGS frame is HTTP/2
		// with prior knowledge whose preface is still on its way (nghttpd
		// sends SETTINGS as soon as it accepts).
		if len(data) < 9 {
			return 0
		}
		if h2.IsSettingsFrame(data) {
			c.startH2()
			return c.h2.Parse(uint8(protocol.FromServer), data, ts)
		}
	}
	switch checkStart(data, st.isRequest) {
	case startNo:
		return c.fail(st, errStartLine, 1, ts)
	case startMaybe:
		return 0
	}
	end := headerEnd(data, st.scanned-3)
	if end < 0 {
		if len(data) >= c.p.cfg.maxHeaderBytes {
			c.p.stats.HeaderOverflows.Add(1)
			c.lostFraming(st, ts)
			return len(data)
		}
		st.scanned = len(data)
		return 0
	}
	if end > c.p.cfg.maxHeaderBytes {
		c.p.stats.HeaderOverflows.Add(1)
		c.lostFraming(st, ts)
		return end
	}
	m := &message{ts: ts, isRequest: st.isRequest}
	m.raw = append(make([]byte, 0, end), data[:end]...)
	m.size = int64(end)
	line, rest := nextLine(m.raw)
	if err := m.parseStartLine(line); err != nil {
		return c.fail(st, err, 1, ts)
	}
	var err error
	st.scratch, err = m.parseHeaders(rest, st.scratch, c.p.cfg)
	clear(st.scratch) // drop references to this message's bytes
	if err != nil {
		return c.fail(st, err, 1, ts)
	}
	if m.isRequest {
		c.redact(m)
	}
	st.msg = m
	c.startBody(st, m, ts)
	return end
}

// startBody decides how the body of m is delimited (RFC 9112 6.3).
func (c *connection) startBody(st *stream, m *message, ts time.Time) {
	cfg := c.p.cfg
	if m.isRequest {
		m.sendBody = contentTypeMatches(m.contentType, cfg.reqBodyFor)
		// Form bodies are kept (not sent) so hide_keywords can see their
		// parameters: Packetbeat reports them in url.query.
		m.saveBody = m.sendBody || bytes.Contains(m.contentType, []byte("urlencoded"))
		switch {
		case m.chunked:
			st.state = stChunkSize
		case m.contentLength > 0:
			st.state, st.remaining = stBody, m.contentLength
		default:
			c.complete(st, ts)
		}
		return
	}

	code := m.statusCode
	if code >= 100 && code < 200 && code != 101 {
		// Interim response (100 Continue, 103 Early Hints): the final
		// response to the same request follows.
		c.p.stats.InterimResponses.Add(1)
		st.msg = nil
		return
	}
	req := c.pop()
	if req == nil {
		// The request may still be receiving its body (the server answered
		// early, e.g. 417 after Expect: 100-continue).
		if cs := &c.streams[protocol.FromClient]; cs.msg != nil && !cs.msg.answered && !c.guard.Suspect() {
			req = cs.msg
		}
	}
	if req != nil {
		req.answered = true
		m.req = req
	} else if c.guard.Unanswered(m.ts) {
		c.p.stats.Resync.UnpairedResps.Add(1)
	}
	m.sendBody = contentTypeMatches(m.contentType, cfg.respBodyFor)
	m.saveBody = m.sendBody
	noBody := code == 204 || code == 304 || code == 101
	tunnel := code == 101
	if req != nil {
		if asciiEqualFold(req.method, "head") {
			noBody = true
		}
		if asciiEqualFold(req.method, "connect") && code >= 200 && code < 300 {
			noBody, tunnel = true, true
		}
	}
	if code == 101 && req != nil && req.upgradeH2C && m.upgradeH2C {
		// Upgrade: h2c accepted (RFC 7540 3.2): from here both directions
		// are HTTP/2, and the response to the upgraded request comes on
		// stream 1. The 101 is not a transaction of its own (like other
		// interim responses): stream 1 carries the request.
		st.msg = nil
		c.startH2()
		c.h2.Upgraded(h2Fields(req), req.size, req.ts)
		return
	}
	switch {
	case noBody:
		c.complete(st, ts)
	case m.chunked:
		st.state = stChunkSize
	case m.hasContentLength:
		if m.contentLength == 0 {
			c.complete(st, ts)
		} else {
			st.state, st.remaining = stBody, m.contentLength
		}
	default:
		st.state = stUntilClose
	}
	if tunnel {
		// Whatever follows a successful CONNECT or protocol switch is
		// another protocol (TLS, WebSocket): stop parsing both ways.
		c.streams[protocol.FromClient].state = stTunnel
		c.streams[protocol.FromClient].msg = nil
		st.state = stTunnel
		st.msg = nil
	}
}

// addBody counts body bytes and keeps what the configuration asks for, up
// to max_message_size.
func (m *message) addBody(b []byte, p *Protocol) {
	m.size += int64(len(b))
	m.bodyBytes += int64(len(b))
	if !m.saveBody || m.bodyTruncated {
		return
	}
	room := p.cfg.maxMessageSize - len(m.body)
	if len(b) > room {
		b = b[:room]
		m.bodyTruncated = true
		m.notes = append(m.notes, "Body truncated at max_message_size")
		p.stats.BodiesTruncated.Add(1)
	}
	if m.body == nil && m.hasContentLength {
		m.body = make([]byte, 0, min(m.contentLength, int64(p.cfg.maxMessageSize)))
	}
	m.body = append(m.body, b...)
}

// complete ends the message in progress on st.
func (c *connection) complete(st *stream, ts time.Time) {
	m := st.msg
	st.msg = nil
	st.state = stStart
	st.remaining = 0
	if m == nil {
		return
	}
	c.finish(st, m)
	if m.isRequest && asciiEqualFold(m.method, "connect") {
		// The client's next bytes are the tunnelled protocol (a TLS
		// ClientHello) whether or not the proxy agreed yet.
		st.state = stTunnel
	}
}

// finish hands a complete (or abandoned-with-notes) message to pairing.
func (c *connection) finish(st *stream, m *message) {
	if m.isRequest {
		c.p.stats.Requests.Add(1)
		if m.answered {
			return
		}
		ss := &c.streams[protocol.FromServer]
		if !c.guard.Request(c.head == nil && ss.msg == nil && ss.state == stStart) {
			c.p.stats.Resync.UnpairedReqs.Add(1)
			c.publishUnmatched(m)
			return
		}
		c.push(m)
		return
	}
	c.p.stats.Responses.Add(1)
	if m.req == nil {
		c.p.stats.UnmatchedResponses.Add(1)
	}
	c.publish(m.req, m)
}

// Gap handles lost bytes. Inside a body of known length the loss is
// counted and the message survives (with a note); anywhere else framing is
// lost: the partial message is dropped or closed and the stream
// resynchronises at the next message start.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	if c.h2 != nil {
		c.h2.Gap(uint8(dir), n, ts)
		return
	}
	st := &c.streams[dir]
	st.scanned = 0
	m := st.msg
	switch st.state {
	case stBody, stChunkData:
		m.noteLoss()
		m.size += min(int64(n), st.remaining)
		m.bodyBytes += min(int64(n), st.remaining)
		if int64(n) < st.remaining {
			st.remaining -= int64(n)
			return
		}
		exact := int64(n) == st.remaining && st.state == stBody
		c.complete(st, ts)
		if !exact {
			c.lostFraming(st, ts)
		}
	case stUntilClose:
		m.noteLoss()
		m.size += int64(n)
		m.bodyBytes += int64(n)
	case stChunkSize, stChunkCRLF, stTrailers:
		m.noteLoss()
		c.complete(st, ts)
		c.lostFraming(st, ts)
	case stStart:
		// Bytes of a start line or header block may have been pending:
		// they are gone with the gap.
		c.p.stats.GapDrops.Add(1)
		c.lostFraming(st, ts)
	case stResync:
		// Another gap while searching: the search restarts after it.
		c.lostFraming(st, ts)
	}
}

// lostFraming starts the search for the next message start after a gap
// and keeps pairing safe. Requests lost in a client-side gap would shift
// every later response onto the wrong request: the guard holds pairing
// off until a clean turn. After a server-side gap, the requests waiting
// since before it may have lost their responses, and nothing tells which:
// they are published alone, so the next response pairs with a request
// sent after the gap.
func (c *connection) lostFraming(st *stream, ts time.Time) {
	st.state = stResync
	st.rs.Lost()
	if st.isRequest {
		c.guard.RequestGap(ts)
		return
	}
	for c.head != nil && c.head.ts.Before(ts) {
		c.p.stats.Resync.UnpairedReqs.Add(1)
		c.publishUnmatched(c.pop())
	}
}

func (m *message) noteLoss() {
	if m.bodyLost {
		return
	}
	m.bodyLost = true
	if m.isRequest {
		m.notes = append(m.notes, "Packet loss while capturing the request")
	} else {
		m.notes = append(m.notes, "Packet loss while capturing the response")
	}
}

// Fin ends dir's byte stream: a body delimited by the close is complete; a
// message cut short is published with a note.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {
	if c.h2 != nil {
		return // streams end with END_STREAM, RST_STREAM or Close
	}
	st := &c.streams[dir]
	switch st.state {
	case stUntilClose:
		c.complete(st, ts)
	case stBody, stChunkSize, stChunkData, stChunkCRLF, stTrailers:
		st.msg.notes = append(st.msg.notes, "Connection closed before the end of the message")
		c.complete(st, ts)
	}
	st.state = stTunnel // nothing valid can follow a FIN
}

// Expire publishes requests that waited longer than transaction_timeout for
// their response, as one-sided events.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	if c.h2 != nil {
		c.h2.Expire(now, limit)
	}
	for c.head != nil && now.Sub(c.head.ts) > limit {
		c.publishUnmatched(c.pop())
	}
}

// Close ends the connection: messages in progress are finished as at FIN,
// then every request still waiting is published alone.
func (c *connection) Close(ts time.Time) {
	if c.h2 != nil {
		c.h2.Close(ts)
	}
	c.Fin(protocol.FromClient, ts)
	c.Fin(protocol.FromServer, ts)
	for c.head != nil {
		c.publishUnmatched(c.pop())
	}
}

func (c *connection) publishUnmatched(req *message) {
	c.p.stats.UnmatchedRequests.Add(1)
	c.publish(req, nil)
}

func (c *connection) publish(req, resp *message) {
	ev := newEvent(c.p.cfg, &c.conn, req, resp)
	c.p.pub.Publish(ev)
}

// redact applies redact_authorization to the raw header text, so the
// request field (send_request) does not carry credentials either.
func (c *connection) redact(m *message) {
	if !c.p.cfg.redactAuth {
		return
	}
	raw := m.raw
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		line := raw[i:]
		if k := bytes.IndexByte(line, '\n'); k >= 0 {
			line = line[:k]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		if !asciiEqualFold(name, "authorization") && !asciiEqualFold(name, "proxy-authorization") {
			continue
		}
		// Like Packetbeat: every byte after the colon, so not even the
		// credential's length in words is left.
		for k := colon + 1; k < len(line); k++ {
			if line[k] != '\r' {
				line[k] = '*'
			}
		}
	}
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"header_block_too_large", s.HeaderOverflows.Load(),
		"gap", s.GapDrops.Load(),
	), s.Resync.Drops()...)
}
