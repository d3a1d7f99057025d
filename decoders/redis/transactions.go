package redis

import (
	"bytes"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what was parsed, skipped or could not be paired. Counters
// are shared by every connection of an instance and safe to read any time.
type Stats struct {
	Requests, Responses atomic.Int64 // complete messages parsed
	Pushes              atomic.Int64 // pub/sub messages and extra (un)subscribe confirmations: not replies
	UnmatchedRequests   atomic.Int64 // published without a reply (timeout, close, lost replies)
	UnmatchedResponses  atomic.Int64 // replies without a command (MONITOR output, capture started mid-stream), dropped
	NoReplyRequests     atomic.Int64 // commands under CLIENT REPLY OFF/SKIP, and commands Redis ignores
	Evicted             atomic.Int64 // commands dropped by queue_max_bytes / queue_max_messages
	SkippedResponses    atomic.Int64 // replies to evicted, expired or lost commands, dropped
	ParseErrors         atomic.Int64 // invalid RESP: the rest of the segment is skipped
	Gaps                atomic.Int64 // lost bytes reported by the stream
	Truncated           atomic.Int64 // messages whose text was cut at maxTextBytes
	// Resync counts the searches for the next command after client-side
	// gaps, and what pairing gave up to stay right.
	Resync protocol.ResyncStats
}

// Protocol is one configured redis instance.
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
	cn.parsers[protocol.FromClient].isReq = true
	return cn
}

// request is a command waiting for its reply.
type request struct {
	ts       time.Time
	size     int64
	method   string // upper case, two words for container commands ("CONFIG GET")
	resource string
	query    string // text clipped to maxFieldBytes (a keyword field)
	text     string // the whole rendering when send_request, else query
	argc     int64
	next     *request
}

// connection pairs the commands and replies of one TCP connection. Redis
// answers commands in order, one reply each (with the exceptions handled
// below: pub/sub pushes, CLIENT REPLY OFF/SKIP, multi-channel subscribes),
// which is what makes pipelining decodable.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	parsers [2]parser
	// rs searches the client's bytes for the next command after lost
	// framing (the probe: "*<n>\r\n$<len>\r\n"); guard holds pairing
	// off while commands may have vanished in a gap.
	rs    protocol.Resync
	guard protocol.PairGuard

	head, tail *request
	queued     int
	queueBytes int64
	// skip counts replies still to come for commands that left the queue
	// without one (evicted or expired): they must not pair with later ones.
	skip int

	// Reply suppression by CLIENT REPLY.
	replyOff, replySkip bool

	// Pub/sub: subscribed switches RESP2 arrays starting with "message"
	// to pushes; absorb* swallow the extra confirmations of a command
	// naming several channels (one reply per channel).
	subscribed bool
	absorbWord string
	absorbLeft int // -1: until a confirmation counts 0 subscriptions
}

// Parse consumes complete messages (and bulk content as it arrives).
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	p := &c.parsers[dir]
	off := 0
	for off < len(data) {
		if dir == protocol.FromClient && c.rs.Active() {
			skip, found := c.rs.Scan(dir, data[off:], probe, &c.p.stats.Resync)
			off += skip
			if !found {
				return off
			}
		}
		n, done, err := p.parse(data[off:], ts)
		off += n
		if err != nil {
			// Framing is lost. Commands: search for the next one from the
			// byte after the bad one. Replies: drop this segment's bytes,
			// as Packetbeat does, and retry at the next one (which
			// usually starts a message again).
			c.p.stats.ParseErrors.Add(1)
			// Every command seen so far, this instant's included, may be
			// answered by the unparsable bytes.
			c.desync(dir, ts.Add(1))
			if dir == protocol.FromClient {
				return max(off, 1)
			}
			return len(data)
		}
		if done {
			c.onMessage(dir, &p.msg)
			p.reset()
			continue
		}
		if n == 0 {
			break
		}
	}
	return off
}

// desync handles lost framing in dir at ts (for replies: commands seen
// before ts lose their pairing): a partial message is dropped;
// the queue cannot be trusted to line up any more on the affected side.
func (c *connection) desync(dir protocol.Dir, ts time.Time) {
	p := &c.parsers[dir]
	p.reset()
	if dir == protocol.FromServer {
		// Replies to every command seen before the loss may be in the
		// lost bytes. A command that came with the packet revealing the
		// loss was sent after it: its reply is still to come.
		c.flushBefore(ts, "Response lost (gap or unparsable data)")
		return
	}
	// Any number of whole commands may be gone with the bytes: search for
	// the next one, and pair nothing until a clean turn shows which
	// replies answer what (protocol.PairGuard).
	c.rs.Lost()
	c.guard.RequestGap(ts)
}

func (c *connection) onMessage(dir protocol.Dir, m *message) {
	if m.truncated {
		c.p.stats.Truncated.Add(1)
	}
	if dir == protocol.FromClient {
		c.onRequest(m)
	} else {
		c.onResponse(m)
	}
}

func (c *connection) onRequest(m *message) {
	if m.noop {
		c.p.stats.NoReplyRequests.Add(1)
		return
	}
	c.p.stats.Requests.Add(1)
	req := &request{ts: m.ts, size: m.size, argc: m.argc}
	req.text, req.query = texts(m.text, c.p.cfg.common.SendRequest)
	method, rest := commandName(m)
	req.method = method
	if rest < m.argc && rest < int64(len(m.elems)) {
		// A substring of the text: no copy.
		sp := m.elems[rest]
		if end := min(sp.end, len(req.text)); sp.start < end {
			req.resource = req.text[sp.start:end]
			req.resource = req.resource[:clipUTF8(req.resource, maxFieldBytes)]
		}
	}

	// CLIENT REPLY OFF|SKIP get no reply themselves, and silence the
	// following commands (all, or one).
	if method == "CLIENT REPLY" {
		switch arg := upperArg(m.elem(2)); arg {
		case "OFF", "SKIP":
			c.replyOff, c.replySkip = arg == "OFF", arg == "SKIP"
			c.p.stats.NoReplyRequests.Add(1)
			return
		case "ON":
			c.replyOff, c.replySkip = false, false
		}
	}
	if c.replyOff || c.replySkip {
		c.replySkip = false
		c.p.stats.NoReplyRequests.Add(1)
		return
	}
	if !c.guard.Request(c.head == nil && c.skip == 0 && !c.parsers[protocol.FromServer].inMessage()) {
		c.p.stats.Resync.UnpairedReqs.Add(1)
		c.publishUnmatched(req, "Unmatched request")
		return
	}
	c.push(req)
}

// push queues a command, evicting the oldest beyond the bounds. Their
// replies are still coming: skip counts them so they pair with nothing.
func (c *connection) push(r *request) {
	size := int64(len(r.text))
	cfg := c.p.cfg
	for c.head != nil && (c.queued >= cfg.maxMsgs || c.queueBytes+size > cfg.maxBytes) {
		c.pop()
		c.skip++
		c.p.stats.Evicted.Add(1)
	}
	if c.tail == nil {
		c.head = r
	} else {
		c.tail.next = r
	}
	c.tail = r
	c.queued++
	c.queueBytes += size
}

func (c *connection) pop() *request {
	r := c.head
	if r == nil {
		return nil
	}
	c.head = r.next
	if c.head == nil {
		c.tail = nil
	}
	r.next = nil
	c.queued--
	c.queueBytes -= int64(len(r.text))
	return r
}

// Pub/sub reply kinds, from the first element of an array or push.
const (
	notPubSub = iota
	pubsubMessage
	pubsubConfirm
)

func pubsubKind(m *message) (int, string) {
	if m.top != '*' && m.top != '>' || m.argc < 2 {
		return notPubSub, ""
	}
	w := m.elem(0)
	if len(w) > 12 {
		return notPubSub, ""
	}
	var buf [12]byte
	for i, ch := range w {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	switch string(buf[:len(w)]) {
	case "message", "pmessage", "smessage":
		return pubsubMessage, ""
	case "subscribe":
		return pubsubConfirm, "SUBSCRIBE"
	case "psubscribe":
		return pubsubConfirm, "PSUBSCRIBE"
	case "ssubscribe":
		return pubsubConfirm, "SSUBSCRIBE"
	case "unsubscribe":
		return pubsubConfirm, "UNSUBSCRIBE"
	case "punsubscribe":
		return pubsubConfirm, "PUNSUBSCRIBE"
	case "sunsubscribe":
		return pubsubConfirm, "SUNSUBSCRIBE"
	}
	return notPubSub, ""
}

func (c *connection) onResponse(m *message) {
	c.p.stats.Responses.Add(1)
	kind, word := pubsubKind(m)
	switch {
	case kind == pubsubConfirm && (m.top == '>' || c.subscribed || c.head != nil && c.head.method == word):
		c.confirm(word, m)
		return
	case m.top == '>' || kind == pubsubMessage && c.subscribed:
		// Out-of-band: a published message, or a RESP3 push of any kind
		// (client tracking invalidations): no command asked for it.
		c.p.stats.Pushes.Add(1)
		return
	}
	c.reply(m)
}

// confirm handles a (un)subscribe confirmation: the reply to the command
// when it is the first for it, otherwise one of the per-channel extras.
func (c *connection) confirm(word string, m *message) {
	count := m.span(m.last)
	zero := len(count) == 1 && count[0] == '0'
	if c.absorbLeft != 0 && word == c.absorbWord && !(c.absorbLeft < 0 && c.head != nil && c.head.method == word) {
		if c.absorbLeft > 0 {
			c.absorbLeft--
		} else if zero {
			c.absorbLeft = 0
		}
		c.subscribed = !zero
		c.p.stats.Pushes.Add(1)
		return
	}
	if c.head == nil || c.head.method != word {
		c.p.stats.Pushes.Add(1)
		c.subscribed = !zero
		return
	}
	channels := int(c.head.argc - 1)
	c.absorbWord = word
	switch {
	case channels > 0:
		c.absorbLeft = channels - 1
	case zero:
		c.absorbLeft = 0 // unsubscribe from nothing: one reply
	default:
		c.absorbLeft = -1 // unsubscribe from all: one reply per subscription
	}
	c.subscribed = !zero
	c.reply(m)
}

// reply pairs a reply with the oldest command waiting.
func (c *connection) reply(m *message) {
	if c.skip > 0 {
		c.skip--
		c.p.stats.SkippedResponses.Add(1)
		return
	}
	if c.head != nil && c.head.ts.After(m.ts) {
		// The reply started before the command was seen: it answers
		// something lost (its remainder after a gap, typically), not it.
		c.p.stats.UnmatchedResponses.Add(1)
		return
	}
	req := c.pop()
	switch {
	case req == nil && c.guard.Unanswered(m.ts):
		c.p.stats.Resync.UnpairedResps.Add(1)
	case req == nil:
		c.p.stats.UnmatchedResponses.Add(1)
	default:
		c.publish(req, m)
	}
}

// Gap reports lost bytes. Inside bulk content of known length the message
// survives (its text misses the lost part); anywhere else framing is lost.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	p := &c.parsers[dir]
	if p.state == stBulk && int64(n) < p.bulkLeft {
		p.bulkLeft -= int64(n)
		p.msg.size += int64(n)
		p.msg.truncated = true
		return
	}
	c.desync(dir, ts)
}

// Fin: a message cut short by the close is dropped with the stream.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {
	if c.parsers[dir].inMessage() {
		c.desync(dir, ts)
	}
}

// Expire publishes commands that waited longer than transaction_timeout.
// A blocking command (BLPOP 0) may still be answered later: skip keeps
// that late reply from pairing with the next command.
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for c.head != nil && now.Sub(c.head.ts) > limit {
		r := c.pop()
		c.skip++
		c.publishUnmatched(r, "Unmatched request")
	}
}

// Close publishes every command still waiting, alone.
func (c *connection) Close(ts time.Time) {
	c.flushUnmatched("Unmatched request")
}

// flushBefore publishes alone the commands seen before ts.
func (c *connection) flushBefore(ts time.Time, note string) {
	for c.head != nil && c.head.ts.Before(ts) {
		c.publishUnmatched(c.pop(), note)
	}
	if c.head == nil {
		c.skip = 0
	}
}

func (c *connection) flushUnmatched(note string) {
	for c.head != nil {
		c.publishUnmatched(c.pop(), note)
	}
	c.skip = 0
}

func (c *connection) publishUnmatched(r *request, note string) {
	c.p.stats.UnmatchedRequests.Add(1)
	c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, r, nil, note))
}

func (c *connection) publish(req *request, m *message) {
	c.p.pub.Publish(newEvent(c.p.cfg, &c.conn, req, m, ""))
}

// commandName returns the command's name in upper case and the index of
// the argument that is its resource (usually the key). Container commands
// (CONFIG GET, CLIENT LIST, ...) are named by their first two words, as
// Packetbeat names them.
func commandName(m *message) (string, int64) {
	first := m.elem(0)
	if len(first) == 0 {
		return "", 1
	}
	var buf [64]byte
	up := upperInto(buf[:0], first)
	if containers[string(up)] && m.argc > 1 {
		second := m.elem(1)
		if len(second) > 0 && len(second) <= 32 && isWord(second) {
			up = append(up, ' ')
			up = upperInto(up, second)
			return intern(up), 2
		}
	}
	return intern(up), 1
}

func upperInto(dst, b []byte) []byte {
	for _, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	return dst
}

func upperArg(b []byte) string {
	var buf [8]byte
	if len(b) > len(buf) {
		return ""
	}
	return string(upperInto(buf[:0], b))
}

func isWord(b []byte) bool {
	for _, ch := range b {
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// intern returns a shared string for known command names, so the common
// case does not allocate.
func intern(b []byte) string {
	if s, ok := known[string(b)]; ok {
		return s
	}
	return string(b)
}

// containers are the commands whose first argument is a subcommand.
var containers = map[string]bool{
	"ACL": true, "CLIENT": true, "CLUSTER": true, "COMMAND": true, "CONFIG": true,
	"DEBUG": true, "FUNCTION": true, "LATENCY": true, "MEMORY": true, "MODULE": true,
	"OBJECT": true, "PUBSUB": true, "SCRIPT": true, "SLOWLOG": true, "XGROUP": true, "XINFO": true,
}

// actions holds event.action ("redis.get") of the known commands.
var actions = map[string]string{}

// action returns "redis." + the lower-cased command.
func action(method string) string {
	if a, ok := actions[method]; ok {
		return a
	}
	return "redis." + strings.ToLower(method)
}

var known = func() map[string]string {
	names := bytes.Fields([]byte(`APPEND AUTH BGREWRITEAOF BGSAVE BITCOUNT BITFIELD BITOP BITPOS BLMOVE BLPOP BRPOP
BRPOPLPUSH BZPOPMAX BZPOPMIN COPY DBSIZE DECR DECRBY DEL DISCARD DUMP ECHO EVAL EVALSHA EXEC EXISTS
EXPIRE EXPIREAT FLUSHALL FLUSHDB GEOADD GEODIST GEOSEARCH GET GETBIT GETDEL GETEX GETRANGE GETSET
HDEL HELLO HEXISTS HGET HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET HSCAN HSET HSETNX HVALS
INCR INCRBY INCRBYFLOAT INFO KEYS LASTSAVE LINDEX LINSERT LLEN LMOVE LPOP LPUSH LPUSHX LRANGE LREM
LSET LTRIM MGET MIGRATE MONITOR MOVE MSET MSETNX MULTI PERSIST PEXPIRE PEXPIREAT PFADD PFCOUNT
PFMERGE PING PSETEX PSUBSCRIBE PTTL PUBLISH PUNSUBSCRIBE QUIT RANDOMKEY RENAME RENAMENX RESET
RESTORE RPOP RPOPLPUSH RPUSH RPUSHX SADD SAVE SCAN SCARD SDIFF SDIFFSTORE SELECT SET SETBIT SETEX
SETNX SETRANGE SHUTDOWN SINTER SINTERSTORE SISMEMBER SMEMBERS SMOVE SORT SPOP SPUBLISH SRANDMEMBER
SREM SSCAN SSUBSCRIBE STRLEN SUBSCRIBE SUNION SUNIONSTORE SUNSUBSCRIBE SWAPDB TIME TOUCH TTL TYPE
UNLINK UNSUBSCRIBE UNWATCH WAIT WATCH XACK XADD XCLAIM XDEL XLEN XPENDING XRANGE XREAD XREADGROUP
XREVRANGE XTRIM ZADD ZCARD ZCOUNT ZINCRBY ZINTERSTORE ZLEXCOUNT ZPOPMAX ZPOPMIN ZRANGE
ZRANGEBYLEX ZRANGEBYSCORE ZRANK ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE
ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE ZUNIONSTORE
CLIENT CONFIG COMMAND SCRIPT CLUSTER ACL DEBUG OBJECT MEMORY SLOWLOG LATENCY PUBSUB FUNCTION
CLIENT_GETNAME CLIENT_ID CLIENT_INFO CLIENT_KILL CLIENT_LIST CLIENT_PAUSE CLIENT_REPLY
CLIENT_SETNAME CLIENT_SETINFO CLIENT_TRACKING CONFIG_GET CONFIG_SET CONFIG_RESETSTAT
CONFIG_REWRITE COMMAND_DOCS COMMAND_COUNT COMMAND_INFO SCRIPT_LOAD SCRIPT_EXISTS SCRIPT_FLUSH
OBJECT_ENCODING OBJECT_FREQ OBJECT_IDLETIME MEMORY_USAGE SLOWLOG_GET PUBSUB_CHANNELS`))
	m := make(map[string]string, len(names))
	for _, n := range names {
		s := string(bytes.ReplaceAll(n, []byte("_"), []byte(" ")))
		m[s] = s
		actions[s] = "redis." + strings.ToLower(s)
	}
	return m
}()

// texts returns the rendering of a message as kept: the whole text (up to
// maxTextBytes) when it goes to request/response (text fields), and its
// first maxFieldBytes for query/return_value/error, keyword fields that
// Elasticsearch does not index beyond 1024 characters. The short one is a
// prefix of the long one: one allocation.
func texts(b []byte, whole bool) (full, short string) {
	n := clipUTF8(b, maxFieldBytes)
	if !whole {
		b = b[:n]
	}
	full = string(b)
	return full, full[:n]
}

// clipUTF8 returns a length <= max that does not split a UTF-8 sequence.
func clipUTF8[T string | []byte](b T, max int) int {
	if len(b) <= max {
		return len(b)
	}
	n := max
	for n > 0 && n > max-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"reply_without_command", s.UnmatchedResponses.Load(),
		"queue_limit", s.Evicted.Load(),
		"reply_to_dropped_command", s.SkippedResponses.Load(),
	), s.Resync.Drops()...)
}
