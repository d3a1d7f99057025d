// Package h2 decodes the HTTP/2 framing layer (RFC 9113) of one cleartext
// connection into streams: request and response header lists (HPACK, RFC
// 7541), trailers, byte counts, timing, RST_STREAM and GOAWAY, and the gRPC
// message framing carried in DATA frames.
//
// It is a sub-package of decoders/http, not a protocol of its own: HTTP/2
// has no port of its own here (it is reached through http's ports, by prior
// knowledge or by an HTTP/1.1 Upgrade), and its streams become events of
// the http data stream under the same send_headers/redact_* options. So
// this package stops at streams and decoders/http turns them into events.
//
// Files: conn.go (frame loop, bounds, connection state), stream.go (per
// stream state and header handling), grpc.go (gRPC length-prefixed
// message counting).
//
// All state is bounded: frames other than DATA are parsed only whole and
// only up to Limits.MaxFrame; DATA payloads are consumed as they arrive and
// never buffered; open streams, header list sizes, header blocks spread over
// CONTINUATION frames, the HPACK dynamic table and the number of streams a
// connection may reset are capped. A connection that passes a bound, breaks
// the framing, or loses bytes is dropped from decoding (its open streams are
// published with a note, the drop is counted) and the rest of the
// connection's bytes are skipped.
package h2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Preface is the client connection preface (RFC 9113 3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Frame types (RFC 9113 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

const frameHeaderLen = 9

// Limits bound the state one connection may hold. The zero value of a
// field means its default.
type Limits struct {
	// MaxConcurrentStreams bounds the streams open at once. Servers
	// advertise 100 to 250; a connection past this is dropped.
	MaxConcurrentStreams int
	// MaxHeaderListSize bounds one decoded header list (RFC 9113 6.5.2
	// accounting: name + value + 32 per field). Past it the fields are
	// still decoded, to keep the HPACK table in step, but not kept.
	MaxHeaderListSize int
	// MaxHeaderBlock bounds the encoded bytes of one header block
	// (HEADERS or PUSH_PROMISE plus its CONTINUATION frames); past it the
	// connection is dropped (endless CONTINUATION).
	MaxHeaderBlock int
	// MaxFrame bounds a non-DATA frame's payload: such frames are parsed
	// whole.
	MaxFrame int
	// MaxTableSize caps the HPACK dynamic table a peer may ask for.
	MaxTableSize uint32
	// MaxResets bounds how many streams a connection may reset before
	// their response completed within ResetWindow, when they also
	// outnumber the streams that completed in it ("rapid reset" and other
	// stream-ID storms; a busy connection that cancels some calls is not
	// one).
	MaxResets int
	// MaxHeldHeaders bounds the decoded header bytes the open streams of
	// a connection hold together (MaxConcurrentStreams full header lists
	// would be 64 MB).
	MaxHeldHeaders int
	// MaxHeldBody bounds the kept body bytes (Conn.KeepBody) of the open
	// streams together; past it bodies are truncated, not the connection
	// dropped (keeping them is a choice of the configuration).
	MaxHeldBody int
}

// Defaults.
const (
	DefaultMaxConcurrentStreams = 1000
	DefaultMaxHeaderListSize    = 64 << 10
	DefaultMaxHeaderBlock       = 256 << 10
	DefaultMaxFrame             = 64 << 10
	DefaultMaxTableSize         = 64 << 10
	DefaultMaxResets            = 1000 // per ResetWindow
	DefaultMaxHeldHeaders       = 4 << 20
	DefaultMaxHeldBody          = 16 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxConcurrentStreams <= 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.MaxHeaderListSize <= 0 {
		l.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if l.MaxHeaderBlock <= 0 {
		l.MaxHeaderBlock = DefaultMaxHeaderBlock
	}
	if l.MaxFrame <= 0 {
		l.MaxFrame = DefaultMaxFrame
	}
	if l.MaxTableSize == 0 {
		l.MaxTableSize = DefaultMaxTableSize
	}
	if l.MaxResets <= 0 {
		l.MaxResets = DefaultMaxResets
	}
	if l.MaxHeldHeaders <= 0 {
		l.MaxHeldHeaders = DefaultMaxHeldHeaders
	}
	if l.MaxHeldBody <= 0 {
		l.MaxHeldBody = DefaultMaxHeldBody
	}
	return l
}

// Stats counts what the decoder saw and dropped. Shared by every
// connection of an instance; safe to read at any time.
type Stats struct {
	Connections         atomic.Int64 // connections decoded as HTTP/2
	Upgrades            atomic.Int64 // of which via HTTP/1.1 Upgrade: h2c
	Streams             atomic.Int64 // streams published
	Resets              atomic.Int64 // RST_STREAM frames
	GoAways             atomic.Int64 // GOAWAY frames
	InterimResponses    atomic.Int64 // 1xx header blocks skipped
	PushPromises        atomic.Int64 // PUSH_PROMISE frames
	HeaderListOverflows atomic.Int64 // header lists past MaxHeaderListSize (fields dropped)
	ProtocolErrors      atomic.Int64 // framing/HPACK errors: connection dropped
	BoundDrops          atomic.Int64 // connections dropped for passing a bound
	GapDrops            atomic.Int64 // connections dropped because bytes were lost
	GRPCCalls           atomic.Int64 // streams with a gRPC content-type
}

// Dir is the direction of a frame: 0 client to server, 1 server to client
// (protocol.FromClient and protocol.FromServer).
type Dir = uint8

// Conn decodes one HTTP/2 connection. Not safe for concurrent use (the
// engine calls one connection from one goroutine).
type Conn struct {
	// KeepBody, if set, is asked when a direction's header list is
	// complete how many DATA content bytes of it to keep in Message.Body
	// (0: none). Kept bodies of a connection's open streams are bounded
	// together by Limits.MaxHeldBody.
	KeepBody func(s *Stream, dir Dir) int

	lim     Limits
	stats   *Stats
	publish func(*Stream)

	dirs    [2]direction
	streams map[uint32]*Stream
	open    int

	lastClient uint32 // highest client-initiated stream ID seen
	lastPush   uint32 // highest server-initiated (pushed) stream ID seen
	// Streams reset before their response completed, and streams that
	// completed, since resetWindow began (packet time).
	resets, completed int
	resetWindow       time.Time
	held              int // header list bytes kept by open streams
	heldBody          int // body bytes kept by open streams

	goAway   bool
	dead     bool   // dropped from decoding: the rest is skipped
	deadNote string // why, added to streams still open
}

// direction is the state of one direction's frame stream.
type direction struct {
	prefaceLeft int // client: preface bytes still expected
	dec         *hpack.Decoder

	// DATA payload being consumed (frames are not buffered).
	dataLeft   int     // payload bytes of the current DATA frame still to come
	dataPad    int     // trailing padding within dataLeft
	dataStream *Stream // nil: the stream is not tracked
	dataEnd    bool    // the frame carries END_STREAM

	// Header block in progress (HEADERS/PUSH_PROMISE then CONTINUATION).
	block      *Stream // stream whose block is decoded (nil: decode and discard)
	blockID    uint32  // stream ID the CONTINUATIONs must carry
	blockBytes int
	blockEnd   bool // END_STREAM was on the HEADERS frame
	blockPush  bool // the block is a PUSH_PROMISE's request

	// Fields of the header list being decoded.
	fields   []hpack.HeaderField
	listSize int
	maxList  int // Limits.MaxHeaderListSize
	overflow bool
}

// NewConn starts decoding a connection. publish receives every stream
// when it completes (or at Close); it must not keep the *Stream past the
// call unless it owns it (it does: a Stream is never reused).
func NewConn(lim Limits, stats *Stats, publish func(*Stream)) *Conn {
	c := &Conn{lim: lim.withDefaults(), stats: stats, publish: publish, streams: map[uint32]*Stream{}}
	c.dirs[0].prefaceLeft = len(Preface)
	for i := range c.dirs {
		d := &c.dirs[i]
		d.maxList = c.lim.MaxHeaderListSize
		d.dec = hpack.NewDecoder(4096, d.emit)
		// A string may be as long as a header block: past the list
		// size it is still decoded (and dropped) so the table stays in
		// step with the peer's encoder.
		d.dec.SetMaxStringLength(c.lim.MaxHeaderBlock)
		d.dec.SetAllowedMaxDynamicTableSize(4096)
	}
	stats.Connections.Add(1)
	return c
}

// Upgraded seeds stream 1 with the HTTP/1.1 request that asked for
// Upgrade: h2c (RFC 7540 3.2): its response comes as HTTP/2 on stream 1.
// fields are the request as HTTP/2 would carry it (pseudo-headers first),
// size its wire bytes.
func (c *Conn) Upgraded(fields []hpack.HeaderField, size int64, ts time.Time) {
	c.stats.Upgrades.Add(1)
	s := c.newStream(1, ts)
	s.Upgraded = true
	s.Req.Fields = fields
	s.Req.Bytes = size
	s.Req.Start, s.Req.End = ts, ts
	s.Req.EndStream = true
	c.lastClient = 1
	s.setRequest()
}

// IsSettingsFrame reports whether data begins with the header of a
// SETTINGS frame (not an ACK) on stream 0, the first frame a server sends.
func IsSettingsFrame(data []byte) bool {
	if len(data) < frameHeaderLen {
		return false
	}
	length := int(data[0])<<16 | int(data[1])<<8 | int(data[2])
	return data[3] == frameSettings && data[4] == 0 && length%6 == 0 && length <= 6*16 &&
		binary.BigEndian.Uint32(data[5:9]) == 0
}

// Dead reports whether the connection was dropped from decoding.
func (c *Conn) Dead() bool { return c.dead }

var (
	errPreface     = errors.New("bad client connection preface")
	errFrameSize   = errors.New("frame size error")
	errPadding     = errors.New("padding exceeds the frame")
	errStreamID    = errors.New("invalid stream identifier")
	errContinue    = errors.New("CONTINUATION expected")
	errHeaderBlock = errors.New("header block exceeds the bound (endless CONTINUATION?)")
	errFrameBound  = errors.New("frame exceeds the bound")
	errConcurrent  = errors.New("open streams exceed the bound")
	errResets      = errors.New("reset streams exceed the bound (stream storm)")
	errHeld        = errors.New("header bytes held by open streams exceed the bound")
)

// boundError marks errors that come from our bounds, not from the peer
// breaking the protocol: they are counted apart.
type boundError struct{ error }

// Parse consumes frames of one direction and returns the bytes used. It
// returns less than len(data) only when a frame is incomplete.
func (c *Conn) Parse(dir Dir, data []byte, ts time.Time) int {
	d := &c.dirs[dir&1]
	off := 0
	for off < len(data) {
		if c.dead {
			return len(data)
		}
		n, err := c.step(dir&1, d, data[off:], ts)
		if err != nil {
			c.drop(err, ts)
			return len(data)
		}
		if n == 0 {
			break
		}
		off += n
	}
	return off
}

// step handles the element at the start of data: preface bytes, a piece
// of a DATA payload, or one whole frame.
func (c *Conn) step(dir Dir, d *direction, data []byte, ts time.Time) (int, error) {
	if d.prefaceLeft > 0 {
		done := len(Preface) - d.prefaceLeft
		n := min(len(data), d.prefaceLeft)
		if string(data[:n]) != Preface[done:done+n] {
			return 0, errPreface
		}
		d.prefaceLeft -= n
		return n, nil
	}
	if d.dataLeft > 0 {
		return c.dataPayload(d, data, ts), nil
	}
	if len(data) < frameHeaderLen {
		return 0, nil
	}
	length := int(data[0])<<16 | int(data[1])<<8 | int(data[2])
	typ, flags := data[3], data[4]
	id := binary.BigEndian.Uint32(data[5:9]) & 0x7fffffff
	if d.block != nil || d.blockID != 0 {
		if typ != frameContinuation || id != d.blockID {
			return 0, errContinue
		}
	}
	if typ == frameData {
		return c.dataFrame(dir, d, length, flags, id, ts)
	}
	if length > c.lim.MaxFrame {
		return 0, boundError{errFrameBound}
	}
	if len(data) < frameHeaderLen+length {
		return 0, nil
	}
	p := data[frameHeaderLen : frameHeaderLen+length]
	return frameHeaderLen + length, c.frame(dir, d, typ, flags, id, p, ts)
}

// dataFrame starts a DATA frame: its payload is then consumed piecewise.
func (c *Conn) dataFrame(dir Dir, d *direction, length int, flags uint8, id uint32, ts time.Time) (int, error) {
	if id == 0 {
		return 0, errStreamID
	}
	s := c.streams[id]
	if s != nil {
		s.msg(dir).Bytes += frameHeaderLen
		s.msg(dir).End = ts
	}
	d.dataStream, d.dataEnd, d.dataPad = s, flags&flagEndStream != 0, 0
	d.dataLeft = length
	if flags&flagPadded != 0 {
		// The pad length is the payload's first byte: take it when it
		// arrives (dataPad -1 means "not read yet").
		if length == 0 {
			return 0, errPadding
		}
		d.dataPad = -1
	}
	if length == 0 {
		c.endData(dir, d, ts)
	}
	return frameHeaderLen, nil
}

// dataPayload consumes up to the rest of the current DATA frame.
func (c *Conn) dataPayload(d *direction, data []byte, ts time.Time) int {
	n := min(len(data), d.dataLeft)
	chunk := data[:n]
	s := d.dataStream
	if d.dataPad == -1 {
		d.dataPad = int(chunk[0])
		if d.dataPad > d.dataLeft-1 {
			c.drop(errPadding, ts)
			return n
		}
		chunk = chunk[1:]
		d.dataLeft--
		if s != nil {
			s.msg(c.dirOf(d)).Bytes++
		}
	}
	payloadLeft := d.dataLeft - d.dataPad // content bytes still to come
	content := chunk[:min(len(chunk), max(payloadLeft, 0))]
	if s != nil {
		m := s.msg(c.dirOf(d))
		m.Bytes += int64(len(chunk))
		m.DataBytes += int64(len(content))
		if m.keep > 0 {
			c.keep(s, m, content)
		}
		if s.GRPC {
			m.grpc.feed(content)
		}
	}
	d.dataLeft -= len(chunk)
	if d.dataLeft == 0 {
		c.endData(c.dirOf(d), d, ts)
	}
	return n
}

// keepBody asks KeepBody for dir's limit once its header list is known.
func (c *Conn) keepBody(s *Stream, dir Dir) {
	if c.KeepBody != nil {
		s.msg(dir).keep = c.KeepBody(s, dir)
	}
}

// keep appends body content within the message's and the connection's
// bounds.
func (c *Conn) keep(s *Stream, m *Message, b []byte) {
	room := min(m.keep-len(m.Body), c.lim.MaxHeldBody-c.heldBody)
	if len(b) > room {
		b = b[:max(room, 0)]
		m.BodyTruncated = true
		m.keep = 0
	}
	m.Body = append(m.Body, b...)
	c.heldBody += len(b)
	s.heldBody += len(b)
}

func (c *Conn) dirOf(d *direction) Dir {
	if d == &c.dirs[0] {
		return 0
	}
	return 1
}

func (c *Conn) endData(dir Dir, d *direction, ts time.Time) {
	s, end := d.dataStream, d.dataEnd
	d.dataStream, d.dataEnd, d.dataPad, d.dataLeft = nil, false, 0, 0
	if s != nil && end {
		c.endStream(s, dir, ts)
	}
}

// frame handles one whole non-DATA frame.
func (c *Conn) frame(dir Dir, d *direction, typ, flags uint8, id uint32, p []byte, ts time.Time) error {
	switch typ {
	case frameHeaders:
		return c.headersFrame(dir, d, flags, id, p, ts)
	case frameContinuation:
		if d.blockID == 0 {
			return errContinue
		}
		if s := d.block; s != nil {
			s.msg(d.blockMsgDir(dir)).Bytes += int64(frameHeaderLen + len(p))
		}
		return c.fragment(dir, d, p, flags&flagEndHeaders != 0, ts)
	case framePushPromise:
		return c.pushPromise(dir, d, flags, id, p, ts)
	case frameRSTStream:
		if len(p) != 4 {
			return errFrameSize
		}
		if id == 0 {
			return errStreamID
		}
		c.stats.Resets.Add(1)
		if s := c.streams[id]; s != nil {
			s.Reset, s.ResetCode, s.ResetBy = true, binary.BigEndian.Uint32(p), dir
			if !s.Resp.EndStream {
				c.countReset(ts)
			}
			c.finish(s, ts)
			if c.resets > c.lim.MaxResets && c.resets > c.completed {
				return boundError{errResets}
			}
		}
	case frameSettings:
		if id != 0 || len(p)%6 != 0 || (flags&flagAck != 0 && len(p) != 0) {
			return errFrameSize
		}
		for ; len(p) >= 6; p = p[6:] {
			if binary.BigEndian.Uint16(p) == 0x1 { // SETTINGS_HEADER_TABLE_SIZE
				// What this side lets the other side's encoder use: it
				// bounds the decoder of the other direction.
				v := min(binary.BigEndian.Uint32(p[2:]), c.lim.MaxTableSize)
				c.dirs[dir^1].dec.SetAllowedMaxDynamicTableSize(v)
			}
		}
	case frameGoAway:
		if len(p) < 8 || id != 0 {
			return errFrameSize
		}
		c.stats.GoAways.Add(1)
		c.goAwayFrame(dir, binary.BigEndian.Uint32(p)&0x7fffffff, binary.BigEndian.Uint32(p[4:]), ts)
	case framePriority:
		if len(p) != 5 {
			return errFrameSize
		}
	case framePing:
		if len(p) != 8 || id != 0 {
			return errFrameSize
		}
	case frameWindowUpdate:
		// Flow control binds the peers, not an observer: a passive decoder
		// sees every byte that was sent whatever the windows were, so the
		// frame is checked and otherwise ignored.
		if len(p) != 4 {
			return errFrameSize
		}
	default:
		// Unknown frame types are ignored (RFC 9113 4.1).
	}
	return nil
}

// blockMsgDir is the message a header block fills: a PUSH_PROMISE, though
// sent by the server, carries the promised stream's request.
func (d *direction) blockMsgDir(dir Dir) Dir {
	if d.blockPush {
		return 0
	}
	return dir
}

// trimPadded removes the pad length byte and the padding.
func trimPadded(flags uint8, p []byte) ([]byte, error) {
	if flags&flagPadded == 0 {
		return p, nil
	}
	if len(p) < 1 || int(p[0]) > len(p)-1 {
		return nil, errPadding
	}
	return p[1 : len(p)-int(p[0])], nil
}

func (c *Conn) headersFrame(dir Dir, d *direction, flags uint8, id uint32, p []byte, ts time.Time) error {
	if id == 0 {
		return errStreamID
	}
	frameLen := int64(frameHeaderLen + len(p))
	p, err := trimPadded(flags, p)
	if err != nil {
		return err
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return errFrameSize
		}
		p = p[5:]
	}
	s := c.streams[id]
	if s == nil && dir == 0 {
		if id%2 == 0 || id <= c.lastClient {
			// A client opens odd streams in increasing order; anything
			// else on a stream we do not know is a closed stream's
			// trailers (ignored) or a broken peer.
			if id%2 == 0 {
				return errStreamID
			}
		} else {
			c.lastClient = id
			if c.open >= c.lim.MaxConcurrentStreams {
				return boundError{errConcurrent}
			}
			s = c.newStream(id, ts)
		}
	}
	if s != nil {
		m := s.msg(dir)
		m.Bytes += frameLen
		m.End = ts
		if m.Start.IsZero() {
			m.Start = ts
		}
	}
	d.block, d.blockID, d.blockBytes, d.blockEnd, d.blockPush = s, id, 0, flags&flagEndStream != 0, false
	return c.fragment(dir, d, p, flags&flagEndHeaders != 0, ts)
}

func (c *Conn) pushPromise(dir Dir, d *direction, flags uint8, id uint32, p []byte, ts time.Time) error {
	if dir != 1 || id == 0 {
		return errStreamID
	}
	frameLen := int64(frameHeaderLen + len(p))
	p, err := trimPadded(flags, p)
	if err != nil {
		return err
	}
	if len(p) < 4 {
		return errFrameSize
	}
	c.stats.PushPromises.Add(1)
	promised := binary.BigEndian.Uint32(p) & 0x7fffffff
	p = p[4:]
	if promised == 0 || promised%2 != 0 || promised <= c.lastPush {
		return errStreamID
	}
	c.lastPush = promised
	if c.open >= c.lim.MaxConcurrentStreams {
		return boundError{errConcurrent}
	}
	s := c.newStream(promised, ts)
	s.Pushed = true
	s.Req.Bytes = frameLen
	s.Req.Start, s.Req.End, s.Req.EndStream = ts, ts, true
	d.block, d.blockID, d.blockBytes, d.blockEnd, d.blockPush = s, id, 0, false, true
	return c.fragment(dir, d, p, flags&flagEndHeaders != 0, ts)
}

// fragment feeds a header block fragment to the direction's HPACK decoder.
// Fragments are decoded as they come (the decoder keeps a partial field),
// so a block is never assembled in memory.
func (c *Conn) fragment(dir Dir, d *direction, p []byte, endHeaders bool, ts time.Time) error {
	d.blockBytes += len(p)
	if d.blockBytes > c.lim.MaxHeaderBlock {
		return boundError{errHeaderBlock}
	}
	if _, err := d.dec.Write(p); err != nil {
		return fmt.Errorf("hpack: %w", err)
	}
	if !endHeaders {
		return nil
	}
	if err := d.dec.Close(); err != nil {
		return fmt.Errorf("hpack: %w", err)
	}
	s, end, push := d.block, d.blockEnd, d.blockPush
	fields, overflow, size := d.fields, d.overflow, d.listSize
	d.block, d.blockID, d.blockBytes, d.blockEnd, d.blockPush = nil, 0, 0, false, false
	d.fields, d.listSize, d.overflow = nil, 0, false
	if overflow {
		c.stats.HeaderListOverflows.Add(1)
	}
	if s == nil {
		return nil
	}
	if overflow {
		s.Notes = append(s.Notes, "HTTP/2 header list exceeds the bound: fields dropped")
	} else {
		s.held += size
		c.held += size
		if c.held > c.lim.MaxHeldHeaders {
			return boundError{errHeld}
		}
	}
	if push {
		s.Req.Fields = fields
		s.setRequest()
		return nil
	}
	c.headerList(s, dir, fields, end, ts)
	return nil
}

// emit collects one decoded field, within MaxHeaderListSize.
func (d *direction) emit(f hpack.HeaderField) {
	d.listSize += len(f.Name) + len(f.Value) + 32
	if d.overflow || d.block == nil {
		return
	}
	if d.listSize > d.maxList {
		d.overflow = true
		d.fields = nil
		return
	}
	if d.fields == nil {
		d.fields = make([]hpack.HeaderField, 0, 16) // one allocation for a typical list
	}
	d.fields = append(d.fields, f)
}

func (c *Conn) goAwayFrame(dir Dir, last, code uint32, ts time.Time) {
	c.goAway = true
	// Streams the sender of GOAWAY never processed: those the other side
	// initiated with a higher ID. They are finished now, marked.
	for id, s := range c.streams {
		initiatedByPeer := (id%2 == 1) == (dir == 1)
		if initiatedByPeer && id > last {
			s.GoAway, s.GoAwayCode = true, code
			s.Notes = append(s.Notes, "HTTP/2 GOAWAY: stream not processed")
			c.finish(s, ts)
		} else {
			s.GoAway, s.GoAwayCode = true, code
		}
	}
}

func (c *Conn) newStream(id uint32, ts time.Time) *Stream {
	s := &Stream{ID: id}
	s.Req.Start = ts
	c.streams[id] = s
	c.open++
	return s
}

// ResetWindow is the period over which stream resets are counted.
const ResetWindow = 10 * time.Second

func (c *Conn) countReset(ts time.Time) {
	if ts.Sub(c.resetWindow) > ResetWindow {
		c.resetWindow, c.resets, c.completed = ts, 0, 0
	}
	c.resets++
}

// endStream marks dir's half of s closed; the stream is published once
// both halves are.
func (c *Conn) endStream(s *Stream, dir Dir, ts time.Time) {
	m := s.msg(dir)
	m.EndStream = true
	m.End = ts
	if s.Req.EndStream && s.Resp.EndStream {
		c.completed++
		c.finish(s, ts)
	}
}

// finish publishes s and forgets it.
func (c *Conn) finish(s *Stream, ts time.Time) {
	if c.streams[s.ID] != s {
		return
	}
	delete(c.streams, s.ID)
	c.open--
	c.held -= s.held
	c.heldBody -= s.heldBody
	if s.Resp.End.IsZero() && s.Reset {
		s.Resp.End = ts
	}
	s.finishGRPC()
	c.stats.Streams.Add(1)
	c.publish(s)
}

// drop stops decoding the connection: open streams are published with the
// reason.
func (c *Conn) drop(err error, ts time.Time) {
	if c.dead {
		return
	}
	var be boundError
	if errors.As(err, &be) {
		c.stats.BoundDrops.Add(1)
	} else {
		c.stats.ProtocolErrors.Add(1)
	}
	c.dead = true
	c.deadNote = "HTTP/2 decoding stopped: " + err.Error()
	c.flush(c.deadNote, ts)
}

// Gap reports lost bytes: frame boundaries and the HPACK state are gone, so
// the connection is dropped from decoding.
func (c *Conn) Gap(dir Dir, n int, ts time.Time) {
	if c.dead {
		return
	}
	c.stats.GapDrops.Add(1)
	c.dead = true
	c.deadNote = "Packet loss: HTTP/2 decoding stopped"
	c.flush(c.deadNote, ts)
}

// Expire publishes streams that waited longer than timeout for their end,
// lowest ID first.
func (c *Conn) Expire(now time.Time, timeout time.Duration) {
	var ids []uint32
	for id, s := range c.streams {
		last := s.Req.End
		if s.Resp.End.After(last) {
			last = s.Resp.End
		}
		if now.Sub(last) > timeout {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := c.streams[id]
		s.Notes = append(s.Notes, "HTTP/2 stream timed out")
		c.finish(s, now)
	}
}

// Close publishes every stream still open.
func (c *Conn) Close(ts time.Time) {
	c.flush("Connection closed before the end of the HTTP/2 stream", ts)
}

func (c *Conn) flush(note string, ts time.Time) {
	// Lowest ID first, so events come out in the order streams began.
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := c.streams[id]
		if s == nil {
			continue
		}
		if !(s.Req.EndStream && s.Resp.EndStream) {
			s.Notes = append(s.Notes, note)
		}
		c.finish(s, ts)
	}
}
