package amqp

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Stats counts what the parser skipped or could not pair. Counters are
// shared by every connection of an instance and safe to read at any time.
type Stats struct {
	Frames             atomic.Int64 // complete frames parsed
	Methods            atomic.Int64 // method frames decoded
	UnmatchedRequests  atomic.Int64 // requests dropped without a reply (Packetbeat drops them too)
	UnmatchedResponses atomic.Int64 // replies without a pending request
	UnknownMethods     atomic.Int64 // method frames of unknown class/method, skipped
	ParseErrors        atomic.Int64 // bad frames or arguments
	// Resync counts the searches for the next frame after lost framing.
	Resync           protocol.ResyncStats
	GapDrops         atomic.Int64 // messages dropped or framing lost because of a gap
	UnexpectedFrames atomic.Int64 // header/body frames with no message to belong to
	ChannelOverflows atomic.Int64 // frames for channels beyond maxChannels
	StateOverflows   atomic.Int64 // messages dropped: the connection held maxHeldBytes already
}

// Protocol is one configured amqp instance: the TCPProtocol the engine
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
	return &connection{p: p, conn: *c}
}

// channel is the transaction state of one AMQP channel. AMQP allows one
// outstanding synchronous request per channel and side, so pairing per
// channel is exact even when clients interleave channels.
type channel struct {
	pending [2]*message // synchronous request awaiting its reply, by sender
	content [2]*message // message awaiting its header/body frames, by sender
}

// dirState is the framing state of one direction.
type dirState struct {
	lost     bool // framing lost (gap, bad frame): looking for the next frame
	rs       protocol.Resync
	bodyLeft int      // payload bytes of the current body frame still to come
	needEnd  bool     // the frame-end octet of that body frame is next
	bodyMsg  *message // message the body frame belongs to (nil: skip)
}

// connection holds both directions of one TCP connection.
type connection struct {
	p     *Protocol
	conn  protocol.Conn
	dirs  [2]dirState
	chans map[uint16]*channel
	// last caches the most recent channel lookup: nearly every frame of a
	// connection is on the same one or two channels.
	lastID uint16
	last   *channel
	// scratch renders field tables into JSON.
	scratch ecsmap.Writer
}

func (c *connection) channel(id uint16, create bool) *channel {
	if c.last != nil && c.lastID == id {
		return c.last
	}
	ch := c.chans[id]
	if ch == nil {
		if !create {
			return nil
		}
		if len(c.chans) >= maxChannels {
			c.p.stats.ChannelOverflows.Add(1)
			return nil
		}
		if c.chans == nil {
			c.chans = make(map[uint16]*channel, 2)
		}
		ch = &channel{}
		c.chans[id] = ch
	}
	c.lastID, c.last = id, ch
	return ch
}

// held sums what the connection keeps for waiting messages. It walks the
// channels, which are few on real connections; only when a peer opens
// thousands is this slow, and then it is what keeps memory bounded.
func (c *connection) held() int {
	n := 0
	for _, ch := range c.chans {
		for d := range 2 {
			if m := ch.pending[d]; m != nil {
				n += m.cost
			}
			if m := ch.content[d]; m != nil {
				n += m.cost
			}
		}
	}
	return n
}

func (c *connection) dropChannel(id uint16) {
	delete(c.chans, id)
	if c.lastID == id {
		c.last = nil
	}
}

// Parse consumes whole frames (body frames as their bytes arrive, so a
// large message is never buffered).
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	off := 0
	for off < len(data) {
		n := c.step(dir, data[off:], ts)
		if n == 0 {
			break
		}
		off += n
	}
	return off
}

// step handles one frame or frame piece at the start of data and returns
// how many bytes it consumed (0: need more data).
func (c *connection) step(dir protocol.Dir, data []byte, ts time.Time) int {
	st := &c.dirs[dir]
	switch {
	case st.bodyLeft > 0:
		n := min(len(data), st.bodyLeft)
		if m := st.bodyMsg; m != nil {
			m.addBody(data[:n], c.p.cfg)
		}
		st.bodyLeft -= n
		if st.bodyLeft == 0 {
			st.needEnd = true
		}
		return n
	case st.needEnd:
		st.needEnd = false
		m := st.bodyMsg
		st.bodyMsg = nil
		if data[0] != frameEnd {
			c.fail(dir, errBadFrameEnd)
			return 1
		}
		c.p.stats.Frames.Add(1)
		if m != nil && m.bodyRecv >= m.bodySize {
			c.contentDone(dir, m, ts)
		}
		return 1
	case st.lost:
		return c.resync(dir, data, ts)
	}

	if len(data) >= 4 && string(data[:4]) == "AMQP" {
		// Protocol header: the client's greeting, or the server's answer
		// naming the version it wants instead.
		if len(data) < 8 {
			return 0
		}
		return 8
	}
	if len(data) < 7 {
		return 0
	}
	typ := data[0]
	chID := binary.BigEndian.Uint16(data[1:3])
	size := binary.BigEndian.Uint32(data[3:7])
	if typ == frameBody {
		c.startBody(dir, chID, int(min(size, 1<<31-1)))
		return 7
	}
	if size > maxFrameSize {
		c.fail(dir, errFrameSize)
		return 1
	}
	total := int(size) + frameOverhead
	if len(data) < total {
		return 0
	}
	if data[total-1] != frameEnd {
		c.fail(dir, errBadFrameEnd)
		return 1
	}
	payload := data[7 : total-1]
	c.p.stats.Frames.Add(1)
	switch typ {
	case frameMethod:
		c.method(dir, chID, payload, ts)
	case frameHeader:
		c.header(dir, chID, payload, ts)
	case frameHeartbeat:
	default:
		c.fail(dir, errFrameType)
		return 1
	}
	return total
}

// fail records a framing error: the direction looks for the next frame.
// Content in progress from that side cannot be trusted to complete.
func (c *connection) fail(dir protocol.Dir, _ error) {
	c.p.stats.ParseErrors.Add(1)
	c.lose(dir)
}

func (c *connection) lose(dir protocol.Dir) {
	st := &c.dirs[dir]
	st.lost, st.bodyLeft, st.needEnd, st.bodyMsg = true, 0, false, nil
	st.rs.Lost()
	for _, ch := range c.chans {
		if m := ch.content[dir]; m != nil {
			ch.content[dir] = nil
			c.p.stats.GapDrops.Add(1)
		}
	}
}

// resync skips to the next offset that holds a plausible frame (known
// type, sane size, end octet in place when the frame fits the probe
// window, known method for method frames) or a protocol header, with
// protocol.Resync: bounded per gap, counted.
func (c *connection) resync(dir protocol.Dir, data []byte, ts time.Time) int {
	st := &c.dirs[dir]
	skip, found := st.rs.Scan(dir, data, resyncProbe, &c.p.stats.Resync)
	if !found || skip > 0 {
		if found {
			st.lost = false
		}
		return skip
	}
	st.lost = false
	return c.step(dir, data, ts)
}

// resyncProbe is plausibleFrame as a protocol.Probe. A frame longer than
// the probe window is taken on its header alone (type, size, method id).
// Replies are paired per channel by method, so a resynchronised direction
// cannot take another channel's reply.
func resyncProbe(_ protocol.Dir, b []byte) protocol.ProbeResult {
	if len(b) == 0 {
		return protocol.ProbeNeedMore
	}
	switch b[0] {
	case 'A', frameMethod, frameHeader, frameBody, frameHeartbeat:
	default:
		return protocol.ProbeNo
	}
	if b[0] == frameBody {
		// Body frames carry no checkable header: only resynchronise on
		// the method or content header that announces a body.
		return protocol.ProbeNo
	}
	if len(b) < 7 {
		if n := min(len(b), 4); b[0] == 'A' && string(b[:n]) != "AMQP"[:n] {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	ok, complete := plausibleFrame(b)
	switch {
	case !ok:
		return protocol.ProbeNo
	case complete || len(b) >= protocol.MaxProbeBytes:
		return protocol.ProbeYes
	}
	return protocol.ProbeNeedMore
}

// plausibleFrame reports whether b starts with something that looks like a
// frame, and whether all of it is present.
func plausibleFrame(b []byte) (ok, complete bool) {
	if len(b) >= 4 && string(b[:4]) == "AMQP" {
		return true, len(b) >= 8
	}
	typ := b[0]
	size := binary.BigEndian.Uint32(b[3:7])
	switch typ {
	case frameMethod:
		if size < 4 || size > maxFrameSize {
			return false, false
		}
	case frameHeader:
		if size < 14 || size > maxFrameSize {
			return false, false
		}
	case frameHeartbeat:
		if size != 0 || b[1] != 0 || b[2] != 0 {
			return false, false
		}
	default:
		return false, false
	}
	if typ == frameMethod && len(b) >= 11 {
		id := binary.BigEndian.Uint32(b[7:11])
		if _, known := methods[id]; !known {
			return false, false
		}
	}
	total := int(size) + frameOverhead
	if len(b) < total {
		return true, false
	}
	return b[total-1] == frameEnd, true
}

// startBody begins a body frame of size bytes on channel chID.
func (c *connection) startBody(dir protocol.Dir, chID uint16, size int) {
	st := &c.dirs[dir]
	st.bodyMsg = nil
	if ch := c.channel(chID, false); ch != nil {
		if m := ch.content[dir]; m != nil && m.haveHeader {
			st.bodyMsg = m
		}
	}
	if st.bodyMsg == nil {
		c.p.stats.UnexpectedFrames.Add(1)
	}
	st.bodyLeft = size
	st.needEnd = size == 0
}

func (m *message) addBody(b []byte, cfg *settings) {
	m.bodyRecv += uint64(len(b))
	if m.keepBody {
		if room := cfg.maxBodyLength - len(m.body); room > 0 {
			m.body = append(m.body, b[:min(room, len(b))]...)
		}
	}
}

// method decodes a method frame and hands it to pairing.
func (c *connection) method(dir protocol.Dir, chID uint16, payload []byte, ts time.Time) {
	if len(payload) < 4 {
		c.p.stats.ParseErrors.Add(1)
		return
	}
	id := binary.BigEndian.Uint32(payload[:4])
	info, known := methods[id]
	if !known {
		c.p.stats.UnknownMethods.Add(1)
		return
	}
	c.p.stats.Methods.Add(1)
	cfg := c.p.cfg
	m := &message{ts: ts, dir: dir, channel: chID, id: id, info: info,
		frameBytes: int64(len(payload)) + frameOverhead,
		attrs:      make([]attr, 0, 8)} // most methods set up to 8 fields
	// One copy of the arguments per message: every string field points
	// into it.
	args := append([]byte(nil), payload[4:]...)
	c.scratch.KeepNull = cfg.common.KeepNull
	if !m.decodeArgs(args, cfg, &c.scratch) {
		c.p.stats.ParseErrors.Add(1)
		return
	}
	ch := c.channel(chID, true)
	if ch == nil {
		return
	}
	m.cost = len(args)
	if (info.kind == kindContent || info.kind == kindRequest) && c.held()+m.cost > maxHeldBytes {
		c.p.stats.StateOverflows.Add(1)
		return
	}
	switch info.kind {
	case kindContent:
		if old := ch.content[dir]; old != nil {
			// The previous message never completed: publish what we have.
			old.notes = append(old.notes, "Message content incomplete")
			c.publishContent(old)
		}
		if id == idBasicGetOk {
			if req := ch.pending[1-dir]; req != nil && req.id == idBasicGet {
				m.req = req
				ch.pending[1-dir] = nil
			}
		}
		m.keepBody = cfg.maxBodyLength > 0 &&
			((dir == protocol.FromClient && cfg.common.SendRequest) ||
				(dir == protocol.FromServer && cfg.common.SendResponse))
		ch.content[dir] = m
	case kindAsync:
		c.publish(m, nil)
	case kindRequest:
		if id == idChannelClose || id == idConnClose {
			c.orphan(dir, chID, id == idConnClose, ts)
		}
		if m.noWait {
			c.publish(m, nil)
			return
		}
		if old := ch.pending[dir]; old != nil {
			c.unmatched(old)
		}
		ch.pending[dir] = m
	case kindReply:
		req := ch.pending[1-dir]
		ch.pending[1-dir] = nil
		switch {
		case req == nil:
			c.p.stats.UnmatchedResponses.Add(1)
		case req.id>>16 != id>>16:
			// A reply of another class: the request's reply was lost.
			c.unmatched(req)
			c.p.stats.UnmatchedResponses.Add(1)
		default:
			c.publish(req, m)
		}
		switch id {
		case idChannelOk:
			c.dropChannel(chID)
		case idConnCloseOk:
			clear(c.chans)
			c.last = nil
		}
	}
}

// orphan ends the requests the other side was waiting on when a close
// arrives: their replies will never come. They are published as errors so
// the failing request (a queue.declare with conflicting arguments) is not
// lost; the close itself follows as its own event.
func (c *connection) orphan(dir protocol.Dir, chID uint16, all bool, ts time.Time) {
	end := func(ch *channel) {
		if req := ch.pending[1-dir]; req != nil {
			ch.pending[1-dir] = nil
			req.replyErr = true
			req.notes = append(req.notes, "No reply: the channel was closed by the peer")
			c.publish(req, nil)
		}
	}
	if !all {
		if ch := c.channel(chID, false); ch != nil {
			end(ch)
		}
		return
	}
	for _, ch := range c.chans {
		end(ch)
	}
}

// header decodes a content header frame.
func (c *connection) header(dir protocol.Dir, chID uint16, payload []byte, ts time.Time) {
	ch := c.channel(chID, false)
	var m *message
	if ch != nil {
		m = ch.content[dir]
	}
	if m == nil || m.haveHeader {
		c.p.stats.UnexpectedFrames.Add(1)
		return
	}
	r := reader{b: payload}
	r.u16() // class
	r.u16() // weight
	m.bodySize = r.u64()
	if r.bad {
		c.p.stats.ParseErrors.Add(1)
		return
	}
	m.haveHeader = true
	if m.keepBody {
		m.body = make([]byte, 0, min(m.bodySize, uint64(c.p.cfg.maxBodyLength)))
	}
	m.cost += cap(m.body) + len(payload)
	if c.held() > maxHeldBytes {
		ch.content[dir] = nil
		c.p.stats.StateOverflows.Add(1)
		return
	}
	if c.p.cfg.parseHeaders {
		props := append([]byte(nil), payload[12:]...)
		c.scratch.KeepNull = c.p.cfg.common.KeepNull
		if !m.decodeProperties(props, &c.scratch) {
			m.notes = append(m.notes, "Failed to parse content header properties")
		}
	}
	if m.bodySize == 0 {
		c.contentDone(dir, m, ts)
	}
}

// contentDone publishes a message whose body is complete.
func (c *connection) contentDone(dir protocol.Dir, m *message, _ time.Time) {
	if ch := c.channel(m.channel, false); ch != nil && ch.content[dir] == m {
		ch.content[dir] = nil
	}
	c.publishContent(m)
}

func (c *connection) publishContent(m *message) {
	if m.req != nil {
		c.publish(m.req, m)
		return
	}
	c.publish(m, nil)
}

// unmatched drops a request whose reply never came. Like Packetbeat, only
// error closes are worth an event on their own.
func (c *connection) unmatched(req *message) {
	if (req.id == idChannelClose || req.id == idConnClose) && req.replyErr {
		req.notes = append(req.notes, "Close-ok method not received by sender")
		c.publish(req, nil)
		return
	}
	c.p.stats.UnmatchedRequests.Add(1)
}

// Gap handles lost bytes. Inside a body frame the loss only shortens the
// body (noted); anywhere else the framing is lost and the direction
// resynchronises on the next plausible frame.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	st := &c.dirs[dir]
	if st.bodyLeft > 0 && n <= st.bodyLeft {
		if m := st.bodyMsg; m != nil {
			m.bodyRecv += uint64(n)
			if !m.bodyLost {
				m.bodyLost = true
				m.notes = append(m.notes, "Packet loss while capturing the message body")
			}
		}
		st.bodyLeft -= n
		st.needEnd = st.bodyLeft == 0
		return
	}
	c.p.stats.GapDrops.Add(1)
	c.lose(dir)
}

// Fin needs no action: AMQP messages are self-delimiting, and a close
// without close-ok is handled at Close.
func (c *connection) Fin(protocol.Dir, time.Time) {}

// Expire drops requests that waited longer than transaction_timeout
// (publishing error closes, whose close-ok is often never sent).
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for _, ch := range c.chans {
		for d := range ch.pending {
			if req := ch.pending[d]; req != nil && now.Sub(req.ts) > limit {
				ch.pending[d] = nil
				c.unmatched(req)
			}
		}
	}
}

// Close ends the connection: messages whose body was cut short are
// published with a note, error closes without close-ok are published,
// other requests still waiting are dropped.
func (c *connection) Close(ts time.Time) {
	for _, ch := range c.chans {
		for d := range ch.content {
			if m := ch.content[d]; m != nil {
				ch.content[d] = nil
				if m.haveHeader {
					m.notes = append(m.notes, "Connection closed before the end of the message")
					c.publishContent(m)
				}
			}
		}
		for d := range ch.pending {
			if req := ch.pending[d]; req != nil {
				ch.pending[d] = nil
				c.unmatched(req)
			}
		}
	}
	clear(c.chans)
	c.last = nil
}

// publish builds the event for a request (or one-sided message) and its
// reply, unless hide_connection_information hides it.
func (c *connection) publish(req, resp *message) {
	cfg := c.p.cfg
	if cfg.hideConnInfo {
		if req.info.connInfo {
			return
		}
		// Clean closes are connection housekeeping too.
		if (req.id == idChannelClose || req.id == idConnClose) && !req.replyErr {
			return
		}
	}
	c.p.pub.Publish(newEvent(cfg, &c.conn, req, resp))
}

// isText tells a body that can be written as text (Packetbeat's rule:
// a text or JSON content type and no content encoding).
func (m *message) isText() bool {
	return !m.contentEnc && (bytes.Contains(m.contentType, []byte("text")) || bytes.Contains(m.contentType, []byte("json")))
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"request_without_reply", s.UnmatchedRequests.Load(),
		"reply_without_request", s.UnmatchedResponses.Load(),
		"unknown_method", s.UnknownMethods.Load(),
		"gap", s.GapDrops.Load(),
		"frame_without_message", s.UnexpectedFrames.Load(),
		"channel_limit", s.ChannelOverflows.Load(),
		"connection_memory_limit", s.StateOverflows.Load(),
	), s.Resync.Drops()...)
}
