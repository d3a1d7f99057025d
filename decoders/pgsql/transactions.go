package pgsql

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the parser skipped or could not pair. Counters are
// shared by every connection of an instance and safe to read at any time.
type Stats struct {
	Statements         atomic.Int64 // statements seen (simple query statements and Executes)
	Published          atomic.Int64 // transactions published
	UnmatchedRequests  atomic.Int64 // published without a result (timeout, close, gap)
	UnmatchedResponses atomic.Int64 // results with no statement waiting: not published
	NotExecuted        atomic.Int64 // statements the server skipped after an error in their batch
	Notices            atomic.Int64 // NoticeResponse messages
	ParseErrors        atomic.Int64 // bad message headers or bodies: resynchronised
	Gaps               atomic.Int64 // capture gaps reported by the stream
	Encrypted          atomic.Int64 // connections that switched to TLS or GSSAPI: not decoded further
	Overflows          atomic.Int64 // statements dropped because too many were waiting
	// Resync counts the searches for a message start (resyncProbe).
	Resync protocol.ResyncStats
}

// Protocol is one configured pgsql instance: the TCPProtocol the engine
// asks for a parser per connection.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return uint64(p.stats.ParseErrors.Load()) }

// NewConn starts parsing one connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	cn := &connection{p: p, conn: *c}
	cn.dirs[protocol.FromClient].mode = modeStartup
	return cn
}

type mode uint8

const (
	modeMessage mode = iota // at a message boundary
	modeStartup             // client: before StartupMessage (untyped messages)
	modeSkip                // inside the unread rest of a message
	modeResync              // looking for a message boundary after a gap or bad bytes
	modeOff                 // TLS, GSSAPI or after CancelRequest: nothing to decode
)

// direction is the framing state of one direction.
type direction struct {
	mode mode
	skip int // bytes of the current message still to skip (modeSkip)
	// rs searches for the next message start in modeResync (resyncProbe).
	rs protocol.Resync
}

// resync starts the search for the next message start, with a fresh
// budget.
func (d *direction) resync() {
	d.mode, d.skip = modeResync, 0
	d.rs.Lost()
}

// stmt is one SQL statement and, once it arrives, its result.
type stmt struct {
	next     *stmt
	ts, end  time.Time
	query    string
	reqBytes int64
	batch    uint64 // sync point (Query or Sync) the statement belongs to
	notes    []string

	respBytes       int64
	numFields       int
	numRows         int64
	fields          []string // send_response only
	formats         []int16  // send_response only
	rows            [][]string
	isError         bool
	errSeverity     string
	errCode, errMsg string
}

// connection pairs a connection's statements with their results. A
// PostgreSQL server answers in order; what makes pairing safe is counting
// sync points: every Query, Sync, FunctionCall and StartupMessage earns
// exactly one ReadyForQuery, so a statement's result can only arrive while
// the server works on the statement's batch. Statements of a batch left
// without a result at its ReadyForQuery were skipped by the server (an
// earlier statement failed) and are dropped.
type connection struct {
	p    *Protocol
	conn protocol.Conn
	dirs [2]direction

	head, tail *stmt
	pending    int
	nextBatch  uint64 // sync points the client sent
	doneBatch  uint64 // ReadyForQuery messages the server sent
	// hold is set after a gap: results are not paired until the server's
	// next ReadyForQuery, when every statement waiting is flushed.
	hold bool
	// lastReady is when the last ReadyForQuery arrived.
	lastReady time.Time

	expectSSL byte // 'S' after SSLRequest, 'G' after GSSENCRequest: a one-byte answer is due

	// Extended query protocol: queries of prepared statements and portals.
	unnamedStmt   string
	unnamedPortal string
	named         map[string]string // statement name -> query
	portals       map[string]string // portal name -> query
	// Client bytes since the last statement or sync point, and when they began.
	acc   int64
	accTS time.Time
}

// Parse consumes whole messages of dir (bodies we need are buffered up to
// maxParsed; the rest of a message is skipped as it arrives).
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	off := 0
	for off < len(data) {
		var n int
		if dir == protocol.FromClient {
			n = c.clientStep(data[off:], ts)
		} else {
			n = c.serverStep(data[off:], ts)
		}
		if n == 0 {
			break
		}
		off += n
	}
	return off
}

// skipStep consumes the unread rest of a message.
func (d *direction) skipStep(data []byte) int {
	n := min(len(data), d.skip)
	d.skip -= n
	if d.skip == 0 {
		d.mode = modeMessage
	}
	return n
}

// frame validates the header at data and returns the body to hand to the
// message handler (all of it up to maxParsed when needBody, else none), the
// message's total size and how many bytes to consume now. n == 0 means wait
// for more data.
func frame(dir byte, data []byte, needBody bool) (t byte, body []byte, total, n int, err error) {
	if len(data) < headerLen {
		return 0, nil, 0, 0, nil
	}
	t, l, err := header(dir, data)
	if err != nil {
		return t, nil, 0, 0, err
	}
	total = 1 + l
	n = headerLen
	if needBody {
		n = min(total, headerLen+maxParsed)
	}
	if len(data) < n {
		return t, nil, total, 0, nil
	}
	return t, data[headerLen:n], total, n, nil
}

// --- client -------------------------------------------------------------------

func (c *connection) clientStep(data []byte, ts time.Time) int {
	d := &c.dirs[protocol.FromClient]
	switch d.mode {
	case modeOff:
		return len(data)
	case modeSkip:
		n := d.skipStep(data)
		c.acc += int64(n)
		return n
	case modeStartup:
		return c.startup(data, ts)
	case modeResync:
		skip, found := d.rs.Scan(protocol.FromClient, data, resyncProbe, &c.p.stats.Resync)
		if found {
			d.mode = modeMessage
		}
		if !found || skip > 0 {
			return skip
		}
	}
	if c.acc == 0 {
		c.accTS = ts
	}
	t, body, total, n, err := frame(0, data, clientNeedsBody(data[0]))
	if err != nil {
		c.p.stats.ParseErrors.Add(1)
		d.resync()
		return 1
	}
	if n == 0 {
		return 0
	}
	c.acc += int64(n)
	c.clientMessage(t, body, total, n < total, ts)
	if n < total {
		d.mode, d.skip = modeSkip, total-n
	}
	return n
}

func clientNeedsBody(t byte) bool {
	switch t {
	case 'Q', 'P', 'B', 'E', 'C':
		return true
	}
	return false
}

// startup handles the untyped messages a client opens with.
func (c *connection) startup(data []byte, ts time.Time) int {
	d := &c.dirs[protocol.FromClient]
	if len(data) < 8 {
		return 0
	}
	l := int(binary.BigEndian.Uint32(data))
	code := binary.BigEndian.Uint32(data[4:])
	switch {
	case l == 8 && code == codeSSL:
		c.expectSSL = 'S'
		return 8
	case l == 8 && code == codeGSSENC:
		c.expectSSL = 'G'
		return 8
	case l == 16 && code == codeCancel:
		d.mode = modeOff
		return len(data)
	case code>>16 == protoMajor3 && l >= 8 && l <= maxStartup:
		if len(data) < l {
			return 0
		}
		d.mode = modeMessage
		c.nextBatch++ // the server's ReadyForQuery after authentication
		c.acc = 0
		return l
	}
	// Not a startup packet: the capture began mid-connection.
	d.mode = modeMessage
	return c.clientStep(data, ts)
}

// clientMessage handles one frontend message (body possibly truncated).
func (c *connection) clientMessage(t byte, body []byte, total int, truncated bool, ts time.Time) {
	switch t {
	case 'Q':
		text, _, _ := cstring(body)
		c.simpleQuery(string(text), int64(total), truncated, ts)
		c.nextBatch++
		c.acc = 0
	case 'P':
		name, rest, ok := cstring(body)
		q, _, ok2 := cstring(rest)
		if !ok || (!ok2 && !truncated) {
			c.p.stats.ParseErrors.Add(1)
			return
		}
		query := string(q) // verbatim, as the client sent it
		if len(name) == 0 {
			c.unnamedStmt = query
		} else {
			c.named = remember(c.named, string(name), query)
		}
	case 'B':
		portal, rest, ok := cstring(body)
		name, _, ok2 := cstring(rest)
		if !ok || !ok2 {
			c.p.stats.ParseErrors.Add(1)
			return
		}
		query := c.unnamedStmt
		if len(name) > 0 {
			query = c.named[string(name)]
		}
		if len(portal) == 0 {
			c.unnamedPortal = query
		} else {
			c.portals = remember(c.portals, string(portal), query)
		}
	case 'E':
		portal, _, ok := cstring(body)
		if !ok {
			c.p.stats.ParseErrors.Add(1)
			return
		}
		query := c.unnamedPortal
		if len(portal) > 0 {
			query = c.portals[string(portal)]
		}
		// Parse, Bind, Describe and Execute make the request.
		st := &stmt{ts: c.accTS, query: query, reqBytes: c.acc, batch: c.nextBatch}
		c.acc = 0
		c.push(st)
	case 'C':
		// Close of a statement ('S') or portal ('P'): forget it.
		if len(body) > 1 {
			name, _, _ := cstring(body[1:])
			if body[0] == 'S' {
				delete(c.named, string(name))
			} else {
				delete(c.portals, string(name))
			}
		}
	case 'S':
		if c.tail != nil && c.tail.batch == c.nextBatch {
			c.tail.reqBytes += int64(total)
		}
		c.nextBatch++
		c.acc = 0
	case 'F':
		c.nextBatch++ // FunctionCall earns a ReadyForQuery
		c.acc = 0
	case 'p':
		c.acc = 0 // authentication: no statement's request
	case 'd', 'c', 'f':
		// COPY FROM STDIN data belongs to the COPY statement's request.
		if c.tail != nil {
			c.tail.reqBytes += int64(total)
			c.acc = 0
		}
	}
}

// remember stores k -> v in a bounded map: a client preparing statement
// after statement without closing them must not grow it forever.
func remember(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = make(map[string]string)
	}
	if _, ok := m[k]; !ok && len(m) >= maxPrepared {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = v
	return m
}

// simpleQuery queues one statement per SQL statement of a Query message.
// Each carries the Query message's size as its request bytes, as Packetbeat
// reports it.
func (c *connection) simpleQuery(text string, size int64, truncated bool, ts time.Time) {
	for _, q := range splitStatements(text) {
		st := &stmt{ts: ts, query: q, reqBytes: size, batch: c.nextBatch}
		if truncated {
			st.notes = append(st.notes, "Query truncated")
		}
		c.push(st)
	}
}

func (c *connection) push(st *stmt) {
	c.p.stats.Statements.Add(1)
	if c.pending >= maxStmts {
		c.p.stats.Overflows.Add(1)
		c.publishUnmatched(c.pop(), "Too many statements waiting for results")
	}
	if c.tail == nil {
		c.head = st
	} else {
		c.tail.next = st
	}
	c.tail = st
	c.pending++
}

func (c *connection) pop() *stmt {
	st := c.head
	if st != nil {
		c.head = st.next
		if c.head == nil {
			c.tail = nil
		}
		st.next = nil
		c.pending--
	}
	return st
}

// --- server -------------------------------------------------------------------

func (c *connection) serverStep(data []byte, ts time.Time) int {
	d := &c.dirs[protocol.FromServer]
	switch d.mode {
	case modeOff:
		return len(data)
	case modeSkip:
		return d.skipStep(data)
	case modeResync:
		skip, found := d.rs.Scan(protocol.FromServer, data, resyncProbe, &c.p.stats.Resync)
		if found {
			d.mode = modeMessage
		}
		if !found || skip > 0 {
			return skip
		}
	}
	if c.expectSSL != 0 {
		// The one-byte answer to SSLRequest/GSSENCRequest.
		ans, want := data[0], c.expectSSL
		c.expectSSL = 0
		if ans == 'N' {
			return 1
		}
		if ans == want {
			c.p.stats.Encrypted.Add(1)
			c.dirs[0].mode, c.dirs[1].mode = modeOff, modeOff
			return len(data)
		}
		// Anything else (an old server's ErrorResponse) is a message.
	}
	st := c.current()
	first := data[0]
	need := first == 'Z' || first == 'T' || first == 'E' ||
		(first == 'D' && st != nil && st.wantRow(c.p.cfg))
	t, body, total, n, err := frame(1, data, need)
	if err != nil {
		c.p.stats.ParseErrors.Add(1)
		d.resync()
		return 1
	}
	if n == 0 {
		return 0
	}
	if t == 'Z' {
		c.ready(ts)
		return n
	}
	if st != nil {
		st.respBytes += int64(total) // the whole message, skipped part included
	}
	c.serverMessage(st, t, body, n < total, ts)
	if n < total {
		d.mode, d.skip = modeSkip, total-n
	}
	return n
}

// current is the statement the server is answering now, if known.
func (c *connection) current() *stmt {
	if c.hold || c.head == nil || c.head.batch != c.doneBatch {
		return nil
	}
	return c.head
}

func (st *stmt) wantRow(cfg *settings) bool {
	return cfg.common.SendResponse && len(st.rows) < cfg.maxRows
}

// serverMessage handles one backend message; st is the statement it
// answers (nil when unknown).
func (c *connection) serverMessage(st *stmt, t byte, body []byte, truncated bool, ts time.Time) {
	switch t {
	case 'N':
		c.p.stats.Notices.Add(1)
		return
	case 'T':
		if st == nil {
			return
		}
		send := c.p.cfg.common.SendResponse
		n, fields, formats, err := rowDescription(body, send)
		if err != nil && !truncated {
			c.p.stats.ParseErrors.Add(1)
		}
		st.numFields = n
		if send {
			st.fields, st.formats = fields, formats
		}
		return
	case 'D':
		if st == nil {
			return
		}
		st.numRows++
		if body != nil && st.wantRow(c.p.cfg) {
			row, err := dataRow(body, st.formats, c.p.cfg.maxRowLength)
			if err != nil && !truncated {
				c.p.stats.ParseErrors.Add(1)
			}
			st.rows = append(st.rows, row)
		}
		return
	case 'E':
		f := parseErrorFields(body)
		if st == nil {
			c.p.stats.UnmatchedResponses.Add(1)
			return
		}
		st.isError = true
		st.errSeverity, st.errCode, st.errMsg = string(f.severity), string(f.code), string(f.message)
	case 'C', 'I', 's':
		// CommandComplete, EmptyQueryResponse, PortalSuspended end a
		// statement's result.
		if st == nil {
			c.p.stats.UnmatchedResponses.Add(1)
			return
		}
	default:
		return
	}
	c.pop()
	st.end = ts
	c.publish(st)
}

// ready handles ReadyForQuery: the end of one batch.
func (c *connection) ready(ts time.Time) {
	c.lastReady = ts
	if c.hold {
		for c.head != nil {
			c.publishUnmatched(c.pop(), "")
		}
		c.hold = false
		c.doneBatch = c.nextBatch
		return
	}
	if c.doneBatch >= c.nextBatch {
		// More ReadyForQuery than sync points: the capture began
		// mid-connection. Nothing to close.
		return
	}
	for c.head != nil && c.head.batch <= c.doneBatch {
		c.pop()
		c.p.stats.NotExecuted.Add(1)
	}
	c.doneBatch++
}

// Gap handles lost bytes: framing is gone in dir. What waits is published
// with a loss note at the server's next ReadyForQuery (results are not
// paired until then), and dir resynchronises on the next message boundary.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	d := &c.dirs[dir]
	if d.mode == modeOff {
		return
	}
	if dir == protocol.FromClient && c.head == nil && !c.lastReady.IsZero() && !c.lastReady.Before(ts) {
		// Nothing waits, and the server's ReadyForQuery came with the
		// packet whose ACK revealed the loss: the batch of the lost
		// request is already closed, so the next statement pairs cleanly.
		d.resync()
		c.acc = 0
		return
	}
	note := "Packet loss while capturing the request"
	if dir == protocol.FromServer {
		note = "Packet loss while capturing the response"
	}
	for st := c.head; st != nil; st = st.next {
		st.notes = append(st.notes, note)
	}
	c.hold = true
	d.resync()
	c.acc = 0
}

// Fin needs nothing: a statement without a result is published at Close.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {}

// Expire publishes statements that waited longer than transaction_timeout
// for their result. Their results, if they come, arrive in a batch no
// statement waits for any more, so they cannot be paired wrongly.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for c.head != nil && now.Sub(c.head.ts) > limit {
		c.publishUnmatched(c.pop(), "")
	}
}

// Close publishes every statement still waiting, alone.
func (c *connection) Close(ts time.Time) {
	for c.head != nil {
		c.publishUnmatched(c.pop(), "")
	}
}

func (c *connection) publishUnmatched(st *stmt, note string) {
	c.p.stats.UnmatchedRequests.Add(1)
	if note != "" {
		st.notes = append(st.notes, note)
	}
	st.notes = append(st.notes, "Unmatched request")
	c.publish(st)
}

func (c *connection) publish(st *stmt) {
	c.p.stats.Published.Add(1)
	c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, st))
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"result_without_statement", s.UnmatchedResponses.Load(),
		"encrypted_connection", s.Encrypted.Load(),
		"pending_limit", s.Overflows.Load(),
	), s.Resync.Drops()...)
}
