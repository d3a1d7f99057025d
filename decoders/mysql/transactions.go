package mysql

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what the parser saw, skipped or could not pair. Counters are
// shared by every connection of an instance and safe to read at any time.
type Stats struct {
	// Resync counts the searches for the next command after client-side
	// losses and what pairing gave up to stay right.
	Resync              protocol.ResyncStats
	Requests, Responses atomic.Int64 // commands and complete responses
	Logins              atomic.Int64 // handshakes followed to a successful login
	DeprecateEOFConns   atomic.Int64 // logins that negotiated CLIENT_DEPRECATE_EOF
	LoginFailures       atomic.Int64 // handshakes ending with an ERR
	CompressedConns     atomic.Int64 // connections using the compressed protocol: skipped
	TLSConns            atomic.Int64 // connections switching to TLS: skipped
	ReplicationConns    atomic.Int64 // connections turned into a binlog stream: skipped
	SkippedBytes        atomic.Int64 // bytes of skipped connections and resynchronisation
	UnmatchedRequests   atomic.Int64 // published without a response
	UnmatchedResponses  atomic.Int64 // responses without a request, dropped
	ParseErrors         atomic.Int64 // malformed packets: the direction resynchronises
	GapDrops            atomic.Int64 // gaps that lost packet framing
	StatementsEvicted   atomic.Int64 // prepared statements forgotten to stay bounded
}

// Protocol is one configured mysql instance.
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
	return &connection{p: p, conn: *c, deprecateEOF: -1}
}

// phase is where a connection is in its life.
type phase uint8

const (
	phStart   phase = iota // nothing seen yet
	phGreeted              // server greeting seen, waiting for the client's handshake response
	phAuth                 // authentication exchange until the server's OK or ERR
	phCommand              // command phase: requests and responses
	phSkip                 // compressed, TLS, replication or failed login: bytes are counted only
)

// respState is the response state machine of the server direction.
type respState uint8

const (
	rsStart          respState = iota // expecting the first packet of a response
	rsColumns                         // column definitions of a result set
	rsColumnsEOF                      // EOF after the definitions (absent with DEPRECATE_EOF)
	rsRows                            // rows until the EOF / OK terminator
	rsPrepParams                      // parameter definitions of a COM_STMT_PREPARE response
	rsPrepParamsEOF                   // their EOF
	rsPrepColumns                     // column definitions of a COM_STMT_PREPARE response
	rsPrepColumnsEOF                  // their EOF
	rsDefsToEOF                       // COM_FIELD_LIST: definitions up to an EOF
)

// stream is the framing state of one direction.
type stream struct {
	skip int  // payload bytes of the current packet still to pass over
	cont bool // the last packet was maxPayload long: the next continues it
	lost bool // framing lost (gap, malformed packet): resynchronising
}

// statement is a prepared statement remembered between its COM_STMT_PREPARE
// response and its executions.
type statement struct {
	query, method string
	numParams     int
	types         []byte // bound parameter (type, flags) pairs
	lastUsed      time.Time
}

// request is one command waiting for (or getting) its response.
type request struct {
	ts      time.Time
	cmd     byte
	publish bool // Packetbeat-visible transaction (queries, statements, USE)
	ev      *Event
}

// connection follows one TCP connection, both directions.
type connection struct {
	p    *Protocol
	conn protocol.Conn

	phase        phase
	serverCaps   uint32
	deprecateEOF int8 // 1 negotiated, 0 not, -1 unknown (capture joined mid-connection)
	streams      [2]stream

	queue []*request // waiting for a response, oldest first
	// Response in progress for queue[0].
	rs        respState
	remaining int  // definitions left in the current block
	prepCols  int  // COM_STMT_PREPARE: column definitions after the parameters
	swallow   bool // a stray EOF may follow (prepare response, EOF mode unknown)
	inResp    bool // queue[0]'s response has started
	resync    bool // server framing lost: skip until a new request is queued
	// scan searches the client's bytes for the next command after lost
	// framing (commandProbe); guard holds pairing off while commands may
	// have vanished with the bytes.
	scan  protocol.Resync
	guard protocol.PairGuard

	stmts     map[uint32]*statement
	lastSweep time.Time // last statement_timeout sweep
}

// Parse consumes whole packet headers and the inspected prefix of each
// payload; the rest of a long payload (rows, blobs) is passed over as it
// arrives, so nothing but a bounded prefix is ever buffered.
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	st := &c.streams[dir]
	off := 0
	for off < len(data) {
		if st.skip > 0 {
			n := min(st.skip, len(data)-off)
			st.skip -= n
			off += n
			continue
		}
		if c.phase == phSkip || (dir == protocol.FromServer && c.resync) {
			c.p.stats.SkippedBytes.Add(int64(len(data) - off))
			return len(data)
		}
		if st.lost {
			skip, found := c.scan.Scan(dir, data[off:], commandProbe, &c.p.stats.Resync)
			off += skip
			if !found {
				return off
			}
			st.lost = false
		}
		if len(data)-off < 4 {
			break
		}
		plen := le24(data[off:])
		seq := data[off+3]
		need := min(plen, c.need(dir, plen))
		if len(data)-off-4 < need {
			break
		}
		payload := data[off+4 : off+4+need]
		off += 4 + need
		st.skip = plen - need
		cont := st.cont
		st.cont = plen == maxPayload
		if cont {
			c.addSize(dir, plen+4)
			continue
		}
		if dir == protocol.FromClient {
			c.clientPacket(seq, plen, payload, ts)
		} else {
			c.serverPacket(seq, plen, payload, ts)
		}
	}
	return off
}

// need is how many payload bytes a packet must have buffered before it is
// handled: row values only matter when send_response writes them.
func (c *connection) need(dir protocol.Dir, plen int) int {
	if dir == protocol.FromServer && c.rs == rsRows && !c.p.cfg.common.SendResponse {
		// The first byte tells a row from the terminator; the status flags
		// of a terminator are within its few bytes.
		if plen > 64 {
			return 1
		}
	}
	return maxInspect
}

func (c *connection) addSize(dir protocol.Dir, n int) {
	if len(c.queue) == 0 {
		return
	}
	if dir == protocol.FromClient {
		c.queue[len(c.queue)-1].ev.Base.Source.Bytes += int64(n)
	} else if c.inResp {
		c.queue[0].ev.Base.Destination.Bytes += int64(n)
	}
}

// clientPacket handles one client packet (payload is at most maxInspect
// bytes of its plen).
func (c *connection) clientPacket(seq byte, plen int, p []byte, ts time.Time) {
	switch c.phase {
	case phStart:
		// The server speaks first: a client packet before any greeting
		// means the capture joined an established connection.
		c.phase = phCommand
	case phGreeted:
		c.handshakeResponse(plen, p)
		return
	case phAuth:
		return
	}
	if seq != 0 || plen == 0 {
		// LOCAL INFILE contents or a continuation: part of the last request.
		c.addSize(protocol.FromClient, plen+4)
		return
	}
	cmd := p[0]
	if cmd < comQuit || cmd > comLast {
		c.p.stats.ParseErrors.Add(1)
		c.loseClient(ts)
		return
	}
	c.p.stats.Requests.Add(1)
	r := &request{ts: ts, cmd: cmd}
	switch cmd {
	case comQuit, comStmtSendLongData:
		return // no response
	case comStmtClose:
		if len(p) >= 5 {
			delete(c.stmts, binary.LittleEndian.Uint32(p[1:]))
		}
		return // no response
	case comBinlogDump, comBinlogDumpGTID, comRegisterSlave:
		// What follows is replication, not client/server traffic.
		c.p.stats.ReplicationConns.Add(1)
		c.phase = phSkip
		return
	case comQuery, comStmtPrepare:
		r.publish = true
		r.ev = newRequestEvent(c, ts, plen, p[1:], plen-1 > len(p)-1)
	case comInitDB:
		// Packetbeat publishes only queries and statements; a client's
		// USE (COM_INIT_DB) is the same as the SQL statement, so it is
		// published as that.
		r.publish = true
		q := make([]byte, 0, 4+len(p)-1)
		q = append(append(q, "use "...), p[1:]...)
		r.ev = newRequestEvent(c, ts, plen, q, false)
	case comStmtExecute:
		r.publish = true
		r.ev = c.executeEvent(ts, plen, p)
	default:
		// Other commands (COM_PING, COM_STATISTICS, COM_CHANGE_USER, ...)
		// are paired so their responses are not taken for the next
		// query's, but not published: Packetbeat does not either.
		r.ev = &Event{}
		r.ev.Base.Source.Bytes = int64(plen + 4)
	}
	if len(c.queue) >= maxQueue {
		// Keep the request whose response is being parsed; give up on
		// the oldest one still waiting.
		i := 0
		if c.inResp {
			i = 1
		}
		old := c.queue[i]
		c.queue = append(c.queue[:i], c.queue[i+1:]...)
		c.unmatched(old)
	}
	if c.resync {
		// The server's framing was lost: what it sent since was skipped,
		// including the responses to the commands still queued (the
		// client waits for each response before the next command).
		for len(c.queue) > 0 {
			c.unmatched(c.pop())
		}
	}
	if !c.guard.Request(len(c.queue) == 0 && !c.inResp) {
		// Commands may have been lost before this one: its response
		// cannot be told from theirs.
		c.p.stats.Resync.UnpairedReqs.Add(1)
		c.unmatched(r)
		c.resync = false
		return
	}
	c.queue = append(c.queue, r)
	c.resync = false
	if cmd == comChangeUser {
		// The response is a new authentication exchange.
		c.phase = phAuth
	}
}

// executeEvent starts the event of a COM_STMT_EXECUTE: the query is the
// prepared statement's, the parameters are rendered from the packet.
func (c *connection) executeEvent(ts time.Time, plen int, p []byte) *Event {
	if len(p) < 5 {
		ev := newRequestEvent(c, ts, plen, nil, false)
		ev.Base.Method = "EXECUTE"
		return ev
	}
	id := binary.LittleEndian.Uint32(p[1:])
	s := c.stmts[id]
	if s == nil {
		ev := newRequestEvent(c, ts, plen, nil, false)
		ev.Base.Method = "EXECUTE"
		ev.Base.Notes = append(ev.Base.Notes, "Statement "+strconv.FormatUint(uint64(id), 10)+
			" was prepared before the capture started: its query is unknown")
		return ev
	}
	s.lastUsed = ts
	ev := &Event{}
	b := &ev.Base
	b.Start = ts
	b.Source.Bytes = int64(plen + 4)
	b.Query, b.Method = s.query, s.method
	if c.p.cfg.common.SendRequest {
		b.Request = s.query
	}
	params, types, err := parseExecute(p, s.numParams, s.types)
	s.types = types
	ev.Params = params
	if err != nil && plen == len(p) {
		b.Notes = append(b.Notes, "Could not decode the statement parameters: "+err.Error())
	}
	return ev
}

// handshakeResponse reads the client's capabilities: they decide how result
// sets end (DEPRECATE_EOF) and whether the rest is compressed or TLS.
func (c *connection) handshakeResponse(plen int, p []byte) {
	var caps uint32
	switch {
	case len(p) >= 4:
		caps = binary.LittleEndian.Uint32(p)
		if caps&capProtocol41 == 0 {
			caps &= 0xffff // pre-4.1: 2 bytes of capabilities
		}
	case len(p) >= 2:
		caps = uint32(binary.LittleEndian.Uint16(p))
	}
	both := caps & c.serverCaps
	if caps&capSSL != 0 && plen <= 32 {
		// SSLRequest: the TLS handshake follows.
		c.p.stats.TLSConns.Add(1)
		c.phase = phSkip
		return
	}
	c.deprecateEOF = 0
	if both&capDeprecateEOF != 0 {
		c.deprecateEOF = 1
		c.p.stats.DeprecateEOFConns.Add(1)
	}
	c.serverCaps = both // from here on: the negotiated set
	c.phase = phAuth
}

// serverPacket handles one server packet.
func (c *connection) serverPacket(seq byte, plen int, p []byte, ts time.Time) {
	switch c.phase {
	case phStart:
		if seq == 0 && len(p) > 0 && p[0] == 0x0a {
			c.greeting(p)
			return
		}
		if seq == 0 && len(p) > 0 && p[0] == 0xff {
			// The server refused the connection (too many connections,
			// host blocked) in place of a greeting.
			c.phase = phSkip
			return
		}
		c.phase = phCommand
	case phGreeted:
		return
	case phAuth:
		switch {
		case len(p) == 0:
		case p[0] == 0x00:
			c.p.stats.Logins.Add(1)
			if c.serverCaps&capCompress != 0 {
				c.p.stats.CompressedConns.Add(1)
				c.phase = phSkip
				return
			}
			c.phase = phCommand
			if len(c.queue) > 0 && c.queue[0].cmd == comChangeUser {
				c.pop()
			}
		case p[0] == 0xff:
			c.p.stats.LoginFailures.Add(1)
			if len(c.queue) > 0 && c.queue[0].cmd == comChangeUser {
				c.pop()
				c.phase = phCommand // the old user stays logged in
				return
			}
			c.phase = phSkip
		}
		return
	}
	if len(p) == 0 {
		c.p.stats.ParseErrors.Add(1)
		return
	}
	if c.swallow {
		c.swallow = false
		if isEOF(p, plen) && len(c.queue) == 0 {
			c.deprecateEOF = 0
			return
		}
	}
	if len(c.queue) == 0 {
		// A response without its request (the capture started during the
		// exchange, or the request was lost): in a lock-step protocol,
		// skipping packets until the next request lines everything up
		// again. A response's first packet has sequence id 1.
		if seq == 1 && c.guard.Unanswered(ts) {
			c.p.stats.Resync.UnpairedResps.Add(1)
		}
		c.p.stats.UnmatchedResponses.Add(1)
		return
	}
	r := c.queue[0]
	ev := r.ev
	if !c.inResp {
		c.inResp = true
		c.rs = rsStart
	}
	ev.Base.Destination.Bytes += int64(plen + 4)
	ev.Base.End = ts
	c.response(r, ev, plen, p)
}

// response advances the response state machine of queue[0] by one packet.
func (c *connection) response(r *request, ev *Event, plen int, p []byte) {
	switch c.rs {
	case rsStart:
		ev.HasResponse = true
		switch {
		case p[0] == 0x00 && r.cmd == comStmtPrepare:
			c.prepareOK(r, ev, p)
		case p[0] == 0x00:
			ok, err := parseOK(p)
			if err != nil {
				c.serverError(err)
				return
			}
			if ev.results == 0 {
				ev.AffectedRows, ev.InsertID = ok.affected, ok.insertID
			} else {
				ev.More.AffectedRows += ok.affected
			}
			c.endOrMore(ev, ok.status)
		case p[0] == 0xff:
			c.errorPacket(ev, p)
			c.complete()
		case p[0] == 0xfe && plen < 9:
			// A bare EOF answers a few commands (COM_SET_OPTION, COM_DEBUG).
			c.endOrMore(ev, terminatorStatus(p, plen))
		case p[0] == 0xfb:
			// LOCAL INFILE request: the client sends the file, then the
			// server's OK or ERR answers the same query.
		case r.cmd == comStatistics:
			c.complete() // a plain text packet
		case r.cmd == comFieldList:
			c.rs = rsDefsToEOF
			c.column(ev, p)
		default:
			n, _, err := lenEnc(p)
			if err != nil || n == 0 || n > 4096 {
				c.serverError(errLenEnc)
				return
			}
			if ev.results == 0 {
				ev.NumFields = int64(n)
			}
			c.rs, c.remaining = rsColumns, int(n)
			if k := lenEncSize(p); len(p) > k && p[k] == 0 {
				// MariaDB's MARIADB_CLIENT_CACHE_METADATA: "metadata
				// follows" is false, the client cached the definitions.
				c.rs = rsColumnsEOF
			}
		}
	case rsColumns, rsPrepParams, rsPrepColumns:
		if p[0] == 0xff {
			c.errorPacket(ev, p)
			c.complete()
			return
		}
		if c.rs != rsPrepParams {
			c.column(ev, p)
		}
		c.remaining--
		if c.remaining > 0 {
			return
		}
		switch c.rs {
		case rsColumns:
			c.rs = rsColumnsEOF
			if c.deprecateEOF == 1 {
				c.rs = rsRows
			}
		case rsPrepParams:
			c.rs = rsPrepParamsEOF
			if c.deprecateEOF == 1 {
				c.afterPrepParams()
			}
		case rsPrepColumns:
			c.rs = rsPrepColumnsEOF
			if c.deprecateEOF == 1 {
				c.complete()
			}
		}
		if c.deprecateEOF == -1 && (c.rs == rsPrepColumnsEOF || (c.rs == rsPrepParamsEOF && c.prepCols == 0)) {
			// Whether an EOF follows is unknown; a stray one is dropped
			// when it comes.
			c.complete()
			c.swallow = true
		}
	case rsColumnsEOF:
		switch {
		case isEOF(p, plen):
			c.deprecateEOF = 0
			c.rs = rsRows
		case isTerminator(p, plen):
			// DEPRECATE_EOF and no rows: this OK ends the result set.
			c.deprecateEOF = 1
			c.endOrMore(ev, terminatorStatus(p, plen))
		default:
			c.deprecateEOF = 1
			c.rs = rsRows
			c.row(ev, plen, p)
		}
	case rsPrepParamsEOF:
		if isEOF(p, plen) {
			c.afterPrepParams()
			return
		}
		// No EOF: this is the first column definition.
		c.deprecateEOF = 1
		c.afterPrepParams()
		c.response(r, ev, plen, p)
	case rsPrepColumnsEOF:
		c.complete()
	case rsRows:
		switch {
		case p[0] == 0xff:
			c.errorPacket(ev, p)
			c.complete()
		case isTerminator(p, plen):
			c.endOrMore(ev, terminatorStatus(p, plen))
		default:
			c.row(ev, plen, p)
		}
	case rsDefsToEOF:
		if p[0] == 0xfe || p[0] == 0xff {
			c.complete()
			return
		}
		c.column(ev, p)
	}
}

// prepareOK handles COM_STMT_PREPARE_OK: statement id, columns, params.
func (c *connection) prepareOK(r *request, ev *Event, p []byte) {
	if len(p) < 9 {
		c.serverError(errTruncated)
		return
	}
	id := binary.LittleEndian.Uint32(p[1:])
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	params := int(binary.LittleEndian.Uint16(p[7:]))
	ev.NumFields = int64(cols)
	ev.NumParams = params
	if c.stmts == nil {
		c.stmts = map[uint32]*statement{}
	}
	if len(c.stmts) >= maxStatements {
		c.evictStatement()
	}
	c.stmts[id] = &statement{query: ev.Base.Query, method: ev.Base.Method, numParams: params, lastUsed: r.ts}
	c.prepCols = cols
	switch {
	case params > 0:
		c.rs, c.remaining = rsPrepParams, params
	case cols > 0:
		c.rs, c.remaining = rsPrepColumns, cols
	default:
		c.complete()
	}
}

func (c *connection) afterPrepParams() {
	if c.prepCols > 0 {
		c.rs, c.remaining = rsPrepColumns, c.prepCols
		return
	}
	c.complete()
}

// column adds a column definition's db.table to the event's path, as
// Packetbeat does: every distinct table of the result, comma-separated.
func (c *connection) column(ev *Event, p []byte) {
	schema, table, name, err := columnTable(p)
	if err != nil && err != errTruncated {
		return
	}
	if len(table) > 0 {
		ev.addTable(schema, table)
	}
	if c.p.cfg.common.SendResponse && ev.results == 0 {
		ev.addColumn(name)
	}
}

// row counts a row and, with send_response, keeps the first max_rows of
// the first result set.
func (c *connection) row(ev *Event, plen int, p []byte) {
	if ev.results > 0 {
		ev.More.NumRows++
		return
	}
	ev.NumRows++
	if c.p.cfg.common.SendResponse && ev.NumRows <= int64(c.p.cfg.maxRows) && c.queue[0].cmd != comStmtExecute {
		ev.addRow(p, c.p.cfg.maxRowLength)
	}
}

func (c *connection) errorPacket(ev *Event, p []byte) {
	code, state, msg := errPacket(p)
	// Packetbeat's form: "<SQL state>: <message>".
	var b []byte
	if len(state) > 0 {
		b = append(append(b, state...), ": "...)
	}
	if ev.results > 0 {
		// A later statement of a multi-statement query failed: the first
		// result, which the event describes, stands.
		ev.More.ErrorCode, ev.More.ErrorMessage = code, string(append(b, msg...))
		return
	}
	ev.IsError = true
	ev.ErrorCode = code
	ev.ErrorMessage = string(append(b, msg...))
}

// endOrMore ends a result or, when the server says more results follow
// (multi-statements, stored procedures), waits for the next one. As in
// Packetbeat and tshark, the event's mysql fields describe the first
// result; the others are summarised in mysql.more_results.
func (c *connection) endOrMore(ev *Event, status uint16) {
	if status&statusMoreResults != 0 {
		ev.results++
		c.rs = rsStart
		return
	}
	c.complete()
}

// serverError drops the response in progress after a malformed packet and
// resynchronises the server direction at the next request.
func (c *connection) serverError(err error) {
	c.p.stats.ParseErrors.Add(1)
	if len(c.queue) > 0 && c.inResp {
		ev := c.queue[0].ev
		ev.Base.Notes = append(ev.Base.Notes, "MySQL parse error: "+err.Error())
		c.complete()
	}
	c.resync = true
	c.streams[protocol.FromServer].skip = 0
}

// complete publishes queue[0] with its response.
func (c *connection) complete() {
	r := c.pop()
	c.inResp = false
	c.rs = rsStart
	if r == nil {
		return
	}
	c.p.stats.Responses.Add(1)
	if r.publish {
		c.publish(r)
	}
}

func (c *connection) pop() *request {
	if len(c.queue) == 0 {
		return nil
	}
	r := c.queue[0]
	copy(c.queue, c.queue[1:])
	c.queue[len(c.queue)-1] = nil
	c.queue = c.queue[:len(c.queue)-1]
	return r
}

// unmatched publishes a request whose response never came.
func (c *connection) unmatched(r *request) {
	if r == nil || !r.publish {
		return
	}
	c.p.stats.UnmatchedRequests.Add(1)
	c.publish(r)
}

func (c *connection) publish(r *request) {
	r.ev.finish(c.p.cfg, &c.conn)
	c.p.pub.Publish(r.ev)
}

func (c *connection) evictStatement() {
	var oldID uint32
	var old *statement
	for id, s := range c.stmts {
		if old == nil || s.lastUsed.Before(old.lastUsed) {
			oldID, old = id, s
		}
	}
	delete(c.stmts, oldID)
	c.p.stats.StatementsEvicted.Add(1)
}

// Gap handles lost bytes. Inside a payload being passed over, framing
// survives: the message gets a note. Anywhere else framing is lost: the
// response in progress is published with a note and the direction
// resynchronises (client: at the next packet that looks like a command;
// server: after the next request).
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	st := &c.streams[dir]
	if c.phase == phSkip {
		return
	}
	if st.skip >= n && st.skip > 0 {
		st.skip -= n
		c.noteLoss(dir)
		return
	}
	c.p.stats.GapDrops.Add(1)
	st.skip, st.cont = 0, false
	if dir == protocol.FromClient {
		c.loseClient(ts)
		return
	}
	if len(c.queue) > 0 {
		c.noteLoss(dir)
		if c.inResp {
			c.complete()
		} else {
			c.unmatched(c.pop())
		}
	}
	c.inResp = false
	c.resync = true
}

// loseClient starts the search for the next command after the client's
// framing was lost at ts.
func (c *connection) loseClient(ts time.Time) {
	st := &c.streams[protocol.FromClient]
	st.lost, st.skip, st.cont = true, 0, false
	c.scan.Lost()
	c.guard.RequestGap(ts)
}

func (c *connection) noteLoss(dir protocol.Dir) {
	if len(c.queue) == 0 {
		return
	}
	if dir == protocol.FromClient {
		c.queue[len(c.queue)-1].ev.note("Packet loss while capturing the request")
	} else {
		c.queue[0].ev.note("Packet loss while capturing the response")
	}
}

// Fin: a server closing mid-response ends that response with a note.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {
	if dir == protocol.FromServer && c.inResp && len(c.queue) > 0 {
		c.queue[0].ev.note("Connection closed before the end of the response")
		c.complete()
	}
}

// Expire publishes requests that waited longer than transaction_timeout and
// forgets prepared statements unused for statement_timeout.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for len(c.queue) > 0 && !(c.inResp) && now.Sub(c.queue[0].ts) > limit {
		c.unmatched(c.pop())
	}
	// Statements are swept at most once a second: Expire may run per
	// packet and a connection may hold up to maxStatements of them.
	if len(c.stmts) > 0 && now.Sub(c.lastSweep) >= time.Second {
		c.lastSweep = now
		for id, s := range c.stmts {
			if now.Sub(s.lastUsed) > c.p.cfg.statementTimeout {
				delete(c.stmts, id)
			}
		}
	}
}

// Close publishes what is left: a response in progress, then requests that
// never got one.
func (c *connection) Close(ts time.Time) {
	c.Fin(protocol.FromServer, ts)
	for len(c.queue) > 0 {
		c.unmatched(c.pop())
	}
	c.stmts = nil
}

// greeting reads the server's capabilities from its handshake (protocol 10):
// version string, connection id, 8 bytes of scramble, filler, capability
// flags (low 2 bytes), charset, status, capability flags (high 2 bytes).
func (c *connection) greeting(p []byte) {
	c.phase = phGreeted
	i := bytes.IndexByte(p[1:], 0)
	if i < 0 {
		return
	}
	off := 1 + i + 1 + 4 + 8 + 1
	if len(p) >= off+2 {
		c.serverCaps = uint32(binary.LittleEndian.Uint16(p[off:]))
	}
	if len(p) >= off+7 {
		c.serverCaps |= uint32(binary.LittleEndian.Uint16(p[off+5:])) << 16
	}
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"compressed_connection", s.CompressedConns.Load(),
		"tls_connection", s.TLSConns.Load(),
		"replication_connection", s.ReplicationConns.Load(),
		"skipped_bytes", s.SkippedBytes.Load(),
		"response_without_request", s.UnmatchedResponses.Load(),
		"gap", s.GapDrops.Load(),
		"prepared_statement_limit", s.StatementsEvicted.Load(),
	), s.Resync.Drops()...)
}
