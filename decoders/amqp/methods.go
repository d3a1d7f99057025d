package amqp

import (
	"strconv"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Classes (AMQP 0-9-1 section 1).
const (
	classConnection = 10
	classChannel    = 20
	classExchange   = 40
	classQueue      = 50
	classBasic      = 60
	classConfirm    = 85
	classTx         = 90
)

// kind says how a method takes part in transactions.
type kind uint8

const (
	kindRequest kind = iota + 1 // synchronous: waits for its -ok on the same channel
	kindReply                   // answers the other side's pending request
	kindAsync                   // one-sided (ack, nack, reject, recover-async, blocked)
	kindContent                 // carries a message: header and body frames follow
)

// methodInfo describes one method.
type methodInfo struct {
	name string
	kind kind
	// connInfo methods are dropped from the output with
	// hide_connection_information (as Packetbeat does).
	connInfo bool
}

// methods maps class<<16|method to its description.
var methods = map[uint32]methodInfo{
	10<<16 | 10:  {"connection.start", kindRequest, true},
	10<<16 | 11:  {"connection.start-ok", kindReply, true},
	10<<16 | 20:  {"connection.secure", kindRequest, true},
	10<<16 | 21:  {"connection.secure-ok", kindReply, true},
	10<<16 | 30:  {"connection.tune", kindRequest, true},
	10<<16 | 31:  {"connection.tune-ok", kindReply, true},
	10<<16 | 40:  {"connection.open", kindRequest, true},
	10<<16 | 41:  {"connection.open-ok", kindReply, true},
	10<<16 | 50:  {"connection.close", kindRequest, false},
	10<<16 | 51:  {"connection.close-ok", kindReply, false},
	10<<16 | 60:  {"connection.blocked", kindAsync, true},
	10<<16 | 61:  {"connection.unblocked", kindAsync, true},
	10<<16 | 70:  {"connection.update-secret", kindRequest, true},
	10<<16 | 71:  {"connection.update-secret-ok", kindReply, true},
	20<<16 | 10:  {"channel.open", kindRequest, true},
	20<<16 | 11:  {"channel.open-ok", kindReply, true},
	20<<16 | 20:  {"channel.flow", kindRequest, true},
	20<<16 | 21:  {"channel.flow-ok", kindReply, true},
	20<<16 | 40:  {"channel.close", kindRequest, false},
	20<<16 | 41:  {"channel.close-ok", kindReply, false},
	40<<16 | 10:  {"exchange.declare", kindRequest, false},
	40<<16 | 11:  {"exchange.declare-ok", kindReply, false},
	40<<16 | 20:  {"exchange.delete", kindRequest, false},
	40<<16 | 21:  {"exchange.delete-ok", kindReply, false},
	40<<16 | 30:  {"exchange.bind", kindRequest, false},
	40<<16 | 31:  {"exchange.bind-ok", kindReply, false},
	40<<16 | 40:  {"exchange.unbind", kindRequest, false},
	40<<16 | 51:  {"exchange.unbind-ok", kindReply, false},
	50<<16 | 10:  {"queue.declare", kindRequest, false},
	50<<16 | 11:  {"queue.declare-ok", kindReply, false},
	50<<16 | 20:  {"queue.bind", kindRequest, false},
	50<<16 | 21:  {"queue.bind-ok", kindReply, false},
	50<<16 | 30:  {"queue.purge", kindRequest, false},
	50<<16 | 31:  {"queue.purge-ok", kindReply, false},
	50<<16 | 40:  {"queue.delete", kindRequest, false},
	50<<16 | 41:  {"queue.delete-ok", kindReply, false},
	50<<16 | 50:  {"queue.unbind", kindRequest, false},
	50<<16 | 51:  {"queue.unbind-ok", kindReply, false},
	60<<16 | 10:  {"basic.qos", kindRequest, true},
	60<<16 | 11:  {"basic.qos-ok", kindReply, true},
	60<<16 | 20:  {"basic.consume", kindRequest, false},
	60<<16 | 21:  {"basic.consume-ok", kindReply, false},
	60<<16 | 30:  {"basic.cancel", kindRequest, false},
	60<<16 | 31:  {"basic.cancel-ok", kindReply, false},
	60<<16 | 40:  {"basic.publish", kindContent, false},
	60<<16 | 50:  {"basic.return", kindContent, false},
	60<<16 | 60:  {"basic.deliver", kindContent, false},
	60<<16 | 70:  {"basic.get", kindRequest, false},
	60<<16 | 71:  {"basic.get-ok", kindContent, false}, // also the reply to basic.get
	60<<16 | 72:  {"basic.get-empty", kindReply, false},
	60<<16 | 80:  {"basic.ack", kindAsync, false},
	60<<16 | 90:  {"basic.reject", kindAsync, false},
	60<<16 | 100: {"basic.recover-async", kindAsync, false},
	60<<16 | 110: {"basic.recover", kindRequest, false},
	60<<16 | 111: {"basic.recover-ok", kindReply, false},
	60<<16 | 120: {"basic.nack", kindAsync, false},
	85<<16 | 10:  {"confirm.select", kindRequest, false},
	85<<16 | 11:  {"confirm.select-ok", kindReply, false},
	90<<16 | 10:  {"tx.select", kindRequest, false},
	90<<16 | 11:  {"tx.select-ok", kindReply, false},
	90<<16 | 20:  {"tx.commit", kindRequest, false},
	90<<16 | 21:  {"tx.commit-ok", kindReply, false},
	90<<16 | 30:  {"tx.rollback", kindRequest, false},
	90<<16 | 31:  {"tx.rollback-ok", kindReply, false},
}

// Method ids the transaction logic looks at.
const (
	idBasicGet     = 60<<16 | 70
	idBasicGetOk   = 60<<16 | 71
	idBasicGetEmpt = 60<<16 | 72
	idBasicReturn  = 60<<16 | 50
	idBasicReject  = 60<<16 | 90
	idChannelClose = 20<<16 | 40
	idChannelOk    = 20<<16 | 41
	idConnClose    = 10<<16 | 50
	idConnCloseOk  = 10<<16 | 51
)

// attrKind is the JSON shape of one amqp.* field.
type attrKind uint8

const (
	aStr  attrKind = iota // v as a string
	aUint                 // u
	aBool                 // u != 0
	aRaw                  // v is encoded JSON (tables)
)

// attr is one amqp.* field. key is a constant; v points into the
// message's own copy of its frames (or a rendered table).
type attr struct {
	key  string
	kind attrKind
	v    []byte
	u    uint64
}

// message is one decoded method, with its content when it carries one.
type message struct {
	ts       time.Time
	dir      protocol.Dir
	channel  uint16
	id       uint32 // class<<16 | method
	info     methodInfo
	noWait   bool
	replyErr bool // close with reply-code >= 300, basic.return

	attrs []attr
	// reqText is Packetbeat's request suffix ("queue exchange", ...).
	reqText [2][]byte
	reqN    int
	notes   []string
	// frameBytes is the method frame size (Packetbeat's bytes for
	// synchronous methods: arguments + 12).
	frameBytes int64

	// Content (basic.publish, deliver, return, get-ok).
	haveHeader  bool
	bodySize    uint64
	bodyRecv    uint64
	keepBody    bool
	body        []byte
	contentType []byte
	contentEnc  bool
	bodyLost    bool
	req         *message // basic.get answered by this get-ok
	cost        int      // bytes held for this message (maxHeldBytes)
}

func (m *message) str(key string, v []byte) {
	m.attrs = append(m.attrs, attr{key: key, kind: aStr, v: v})
}

func (m *message) num(key string, u uint64) {
	m.attrs = append(m.attrs, attr{key: key, kind: aUint, u: u})
}

func (m *message) flag(key string, bits uint8, bit uint) {
	m.attrs = append(m.attrs, attr{key: key, kind: aBool, u: uint64(bits>>bit) & 1})
}

func (m *message) request(parts ...[]byte) {
	m.reqN = copy(m.reqText[:], parts)
}

// table renders an arguments/properties table into an attribute; a table
// that does not parse leaves a note instead, as Packetbeat does.
func (m *message) table(w *ecsmap.Writer, key string, tbl []byte, note string) {
	if len(tbl) == 0 {
		return
	}
	raw, err := renderTable(w, tbl)
	if err != nil {
		m.notes = append(m.notes, note)
		return
	}
	m.attrs = append(m.attrs, attr{key: key, kind: aRaw, v: raw})
}

// decodeArgs reads a method's arguments into attributes. args is the
// message's own copy. It reports false when the arguments are too short
// for the method.
func (m *message) decodeArgs(args []byte, cfg *settings, w *ecsmap.Writer) bool {
	r := reader{b: args}
	arguments := func() {
		// The arguments table closes the method; Packetbeat tolerates
		// clients that leave it out.
		if r.atEnd() || !cfg.parseArguments {
			return
		}
		tbl := r.longStr()
		if !r.bad {
			m.table(w, "arguments", tbl, "Failed to parse additional arguments")
		}
	}
	switch m.id {
	case 10<<16 | 10: // connection.start
		major, minor := r.u8(), r.u8()
		props := r.longStr()
		mech, loc := r.longStr(), r.longStr()
		if r.bad {
			return false
		}
		m.num("version-major", uint64(major))
		m.num("version-minor", uint64(minor))
		m.str("mechanisms", mech)
		m.str("locales", loc)
		m.table(w, "server-properties", props, "Failed to parse server properties")
	case 10<<16 | 11: // connection.start-ok; the SASL response holds credentials: never read
		props := r.longStr()
		mech := r.shortStr()
		r.longStr()
		loc := r.shortStr()
		if r.bad {
			return false
		}
		m.str("mechanism", mech)
		m.str("locale", loc)
		m.table(w, "client-properties", props, "Failed to parse client properties")
	case 10<<16 | 31: // connection.tune-ok
		cm, fm, hb := r.u16(), r.u32(), r.u16()
		if r.bad {
			return false
		}
		m.num("channel-max", uint64(cm))
		m.num("frame-max", uint64(fm))
		m.num("heartbeat", uint64(hb))
	case 10<<16 | 40: // connection.open
		vh := r.shortStr()
		if r.bad {
			return false
		}
		m.str("virtual-host", vh)
	case idConnClose, idChannelClose:
		code := r.u16()
		text := r.shortStr()
		cls, mid := r.u16(), r.u16()
		if r.bad {
			return false
		}
		m.num("reply-code", uint64(code))
		m.str("reply-text", text)
		m.num("class-id", uint64(cls))
		m.num("method-id", uint64(mid))
		m.replyErr = code >= 300
	case 20<<16 | 21: // channel.flow-ok
		b := r.u8()
		if r.bad {
			return false
		}
		m.flag("active", b, 0)
	case 40<<16 | 10: // exchange.declare
		r.u16()
		ex, typ := r.shortStr(), r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		if len(typ) == 0 {
			typ = []byte("direct")
		}
		m.str("exchange", ex)
		m.str("exchange-type", typ)
		m.flag("passive", b, 0)
		m.flag("durable", b, 1)
		m.flag("auto-delete", b, 2)
		m.flag("no-wait", b, 4)
		m.noWait = b&16 != 0
		m.request(ex)
		arguments()
	case 40<<16 | 20: // exchange.delete
		r.u16()
		ex := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("exchange", ex)
		m.flag("if-unused", b, 0)
		m.flag("no-wait", b, 1)
		m.noWait = b&2 != 0
		m.request(ex)
	case 40<<16 | 30, 40<<16 | 40: // exchange.bind, exchange.unbind (RabbitMQ)
		r.u16()
		dst, src, rk := r.shortStr(), r.shortStr(), r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("destination", dst)
		m.str("source", src)
		m.str("routing-key", rk)
		m.flag("no-wait", b, 0)
		m.noWait = b&1 != 0
		m.request(src, dst)
		arguments()
	case 50<<16 | 10: // queue.declare
		r.u16()
		q := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.flag("passive", b, 0)
		m.flag("durable", b, 1)
		m.flag("exclusive", b, 2)
		m.flag("auto-delete", b, 3)
		m.flag("no-wait", b, 4)
		m.noWait = b&16 != 0
		m.request(q)
		arguments()
	case 50<<16 | 11: // queue.declare-ok
		q := r.shortStr()
		mc, cc := r.u32(), r.u32()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.num("message-count", uint64(mc))
		m.num("consumer-count", uint64(cc))
	case 50<<16 | 20, 50<<16 | 50: // queue.bind, queue.unbind
		r.u16()
		q, ex, rk := r.shortStr(), r.shortStr(), r.shortStr()
		var b uint8
		if m.id == 50<<16|20 {
			b = r.u8()
		}
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.str("routing-key", rk)
		if len(ex) > 0 {
			m.str("exchange", ex)
		}
		if m.id == 50<<16|20 {
			m.flag("no-wait", b, 0)
			m.noWait = b&1 != 0
		}
		m.request(q, ex)
		arguments()
	case 50<<16 | 30: // queue.purge
		r.u16()
		q := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.flag("no-wait", b, 0)
		m.noWait = b&1 != 0
		m.request(q)
	case 50<<16 | 31, 50<<16 | 41: // queue.purge-ok, queue.delete-ok
		mc := r.u32()
		if r.bad {
			return false
		}
		m.num("message-count", uint64(mc))
	case 50<<16 | 40: // queue.delete
		r.u16()
		q := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.flag("if-unused", b, 0)
		m.flag("if-empty", b, 1)
		m.flag("no-wait", b, 2)
		m.noWait = b&4 != 0
		m.request(q)
	case 60<<16 | 10: // basic.qos
		size, count := r.u32(), r.u16()
		b := r.u8()
		if r.bad {
			return false
		}
		m.num("prefetch-size", uint64(size))
		m.num("prefetch-count", uint64(count))
		m.flag("global", b, 0)
	case 60<<16 | 20: // basic.consume
		r.u16()
		q, tag := r.shortStr(), r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.str("consumer-tag", tag)
		m.flag("no-local", b, 0)
		m.flag("no-ack", b, 1)
		m.flag("exclusive", b, 2)
		m.flag("no-wait", b, 3)
		m.noWait = b&8 != 0
		m.request(q)
		arguments()
	case 60<<16 | 21, 60<<16 | 31: // basic.consume-ok, basic.cancel-ok
		tag := r.shortStr()
		if r.bad {
			return false
		}
		m.str("consumer-tag", tag)
	case 60<<16 | 30: // basic.cancel
		tag := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("consumer-tag", tag)
		m.flag("no-wait", b, 0)
		m.noWait = b&1 != 0
		m.request(tag)
	case 60<<16 | 40: // basic.publish
		r.u16()
		ex, rk := r.shortStr(), r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		if len(ex) > 0 { // the default exchange has no name
			m.str("exchange", ex)
		}
		m.str("routing-key", rk)
		m.flag("mandatory", b, 0)
		m.flag("immediate", b, 1)
	case idBasicReturn:
		code := r.u16()
		text := r.shortStr()
		ex, rk := r.shortStr(), r.shortStr()
		if r.bad {
			return false
		}
		m.num("reply-code", uint64(code))
		m.str("reply-text", text)
		m.str("exchange", ex)
		m.str("routing-key", rk)
		m.replyErr = true
	case 60<<16 | 60: // basic.deliver
		tag := r.shortStr()
		dt := r.u64()
		b := r.u8()
		ex, rk := r.shortStr(), r.shortStr()
		if r.bad {
			return false
		}
		m.str("consumer-tag", tag)
		m.num("delivery-tag", dt)
		m.flag("redelivered", b, 0)
		if len(ex) > 0 {
			m.str("exchange", ex)
		}
		m.str("routing-key", rk)
	case idBasicGet:
		r.u16()
		q := r.shortStr()
		b := r.u8()
		if r.bad {
			return false
		}
		m.str("queue", q)
		m.flag("no-ack", b, 0)
		m.request(q)
	case idBasicGetOk:
		dt := r.u64()
		b := r.u8()
		ex, rk := r.shortStr(), r.shortStr()
		mc := r.u32()
		if r.bad {
			return false
		}
		m.num("delivery-tag", dt)
		m.flag("redelivered", b, 0)
		if len(ex) > 0 {
			m.str("exchange", ex)
		}
		m.str("routing-key", rk)
		m.num("message-count", uint64(mc))
	case 60<<16 | 80: // basic.ack
		dt := r.u64()
		b := r.u8()
		if r.bad {
			return false
		}
		m.num("delivery-tag", dt)
		m.flag("multiple", b, 0)
	case idBasicReject:
		dt := r.u64()
		b := r.u8()
		if r.bad {
			return false
		}
		m.num("delivery-tag", dt)
		m.flag("requeue", b, 0)
		m.replyErr = true
		m.request(strconv.AppendUint(nil, dt, 10))
	case 60<<16 | 120: // basic.nack
		dt := r.u64()
		b := r.u8()
		if r.bad {
			return false
		}
		m.num("delivery-tag", dt)
		m.flag("multiple", b, 0)
		m.flag("requeue", b, 1)
	case 60<<16 | 100, 60<<16 | 110: // basic.recover-async, basic.recover
		b := r.u8()
		if r.bad {
			return false
		}
		m.flag("requeue", b, 0)
	case 85<<16 | 10: // confirm.select
		b := r.u8()
		if r.bad {
			return false
		}
		m.flag("no-wait", b, 0)
		m.noWait = b&1 != 0
	}
	return true
}

// Content header property flags (section 4.2.6.1), most significant first.
const (
	propContentType     = 1 << 15
	propContentEncoding = 1 << 14
	propHeaders         = 1 << 13
	propDeliveryMode    = 1 << 12
	propPriority        = 1 << 11
	propCorrelationID   = 1 << 10
	propReplyTo         = 1 << 9
	propExpiration      = 1 << 8
	propMessageID       = 1 << 7
	propTimestamp       = 1 << 6
	propType            = 1 << 5
	propUserID          = 1 << 4
	propAppID           = 1 << 3
	propClusterID       = 1 << 2
)

// decodeProperties reads the basic class properties of a content header
// (props is the message's own copy, after class, weight and body size).
func (m *message) decodeProperties(props []byte, w *ecsmap.Writer) bool {
	r := reader{b: props}
	flags := r.u16()
	// Bit 0 announces another flags word; basic defines 14 properties, so
	// further words carry nothing we know.
	for f := flags; f&1 == 1 && !r.bad; {
		f = r.u16()
	}
	str := func(bit uint16, key string) {
		if flags&bit != 0 {
			v := r.shortStr()
			if !r.bad {
				m.str(key, v)
			}
		}
	}
	str(propContentType, "content-type")
	if flags&propContentType != 0 && !r.bad {
		m.contentType = m.attrs[len(m.attrs)-1].v
	}
	if flags&propContentEncoding != 0 {
		v := r.shortStr()
		if !r.bad {
			m.str("content-encoding", v)
			m.contentEnc = len(v) > 0
		}
	}
	if flags&propHeaders != 0 {
		tbl := r.longStr()
		if !r.bad {
			m.table(w, "headers", tbl, "Failed to parse headers")
		}
	}
	if flags&propDeliveryMode != 0 {
		switch r.u8() {
		case 1:
			m.str("delivery-mode", []byte("non-persistent"))
		case 2:
			m.str("delivery-mode", []byte("persistent"))
		}
	}
	if flags&propPriority != 0 {
		p := r.u8()
		if !r.bad {
			m.num("priority", uint64(p))
		}
	}
	str(propCorrelationID, "correlation-id")
	str(propReplyTo, "reply-to")
	str(propExpiration, "expiration")
	str(propMessageID, "message-id")
	if flags&propTimestamp != 0 {
		t := r.u64()
		if !r.bad {
			m.str("timestamp", appendTime(nil, t))
		}
	}
	str(propType, "type")
	str(propUserID, "user-id")
	str(propAppID, "app-id")
	return !r.bad
}
