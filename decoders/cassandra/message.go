package cassandra

import (
	"encoding/hex"
	"time"
)

// message is one decoded frame: its header and the body fields Packetbeat
// publishes. Allocated per frame that becomes part of a transaction.
type message struct {
	h    header
	ts   time.Time
	size int64 // header + body bytes on the wire

	query string // QUERY, PREPARE

	resultType string // RESULT kind
	rowsSet    bool
	numRows    int64
	rowsMeta   metadata
	keyspace   string // set_keyspace
	schema     schemaChange
	preparedID string
	reqMeta    metadata
	respMeta   metadata
	supported  [][2]any // SUPPORTED: name, []string
	authClass  string
	warnings   []string
	eventType  string
	evChange   string
	evHost     string
	evPort     int64
	evPortSet  bool
	errCode    int64
	errSet     bool
	errMsg     string
	errType    string
	errDetails errDetails
	compressed bool // body left undecoded (no compressor configured)
	bodyErr    bool // body shorter than its fields
}

type errDetails struct {
	set                              bool
	consistency                      string
	required, alive, received, block int64
	has                              uint16 // which ints are set (bits below)
	writeType                        string
	dataPresent                      *bool
	keyspace, table, stmtID          string
	numFailures                      string
	function                         string
	argTypes                         []string
}

const (
	hasRequired = 1 << iota
	hasAlive
	hasReceived
	hasBlock
)

// decodeBody fills m from a (decompressed) body.
func (m *message) decodeBody(body []byte) {
	r := reader{b: body}
	h := &m.h
	if h.flags&flagTracing != 0 && h.version >= 3 && h.op == opResult {
		r.take(16) // tracing session id (responses only)
	}
	if h.flags&flagWarning != 0 && h.version >= 4 {
		m.warnings = r.strList()
	}
	if h.flags&flagCustomPayload != 0 && h.version >= 4 {
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			r.str()
			r.bytesVal()
		}
	}
	switch h.op {
	case opQuery, opPrepare:
		m.query = r.longStr(maxQueryBytes)
	case opResult:
		m.decodeResult(&r)
	case opError:
		m.decodeError(&r)
	case opSupported:
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			k := r.str()
			m.supported = append(m.supported, [2]any{k, r.strList()})
		}
	case opAuthenticate:
		m.authClass = r.str()
	case opEvent:
		m.eventType = r.str()
		switch m.eventType {
		case "TOPOLOGY_CHANGE", "STATUS_CHANGE":
			m.evChange = r.str()
			m.evHost, m.evPort = r.inet()
			m.evPortSet = true
		case "SCHEMA_CHANGE":
			m.schema = r.schemaChange(h.version)
		}
	}
	m.bodyErr = r.err != nil
}

func (m *message) decodeResult(r *reader) {
	v := m.h.version
	switch r.i32() {
	case 1:
		m.resultType = "void"
	case 2:
		m.resultType = "rows"
		m.rowsSet = true
		m.rowsMeta = r.metadata(v, false)
		m.numRows = int64(r.i32())
	case 3:
		m.resultType = "set_keyspace"
		m.keyspace = r.str()
	case 4:
		m.resultType = "prepared"
		m.preparedID = hex.EncodeToString(r.shortBytes())
		if v >= 5 {
			r.shortBytes() // result metadata id
		}
		m.reqMeta = r.metadata(v, true)
		m.respMeta = r.metadata(v, false)
	case 5:
		m.resultType = "schemaChanged"
		m.schema = r.schemaChange(v)
	}
}

// skipType skips an [option] type spec, recursing into collections.
func skipType(r *reader, depth int) {
	if depth > 16 {
		r.err = errShort
		return
	}
	switch id := r.u16(); id {
	case 0x0000: // custom: class name
		r.str()
	case 0x0020, 0x0022: // list, set
		skipType(r, depth+1)
	case 0x0021: // map
		skipType(r, depth+1)
		skipType(r, depth+1)
	case 0x0030: // UDT
		r.str()
		r.str()
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			r.str()
			skipType(r, depth+1)
		}
	case 0x0031: // tuple
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			skipType(r, depth+1)
		}
	}
}

func (m *message) decodeError(r *reader) {
	code := r.i32()
	m.errSet = true
	m.errCode = int64(code)
	m.errMsg = r.str()
	if n, ok := errNames[code]; ok {
		m.errType = n
	} else {
		m.errType = "ErrUnknown"
	}
	d := &m.errDetails
	cl := func() string { return consistencyName(r.u16()) }
	switch code {
	case 0x1000:
		d.set = true
		d.consistency, d.required, d.alive = cl(), int64(r.i32()), int64(r.i32())
		d.has = hasRequired | hasAlive
	case 0x1100:
		d.set = true
		d.consistency, d.received, d.block = cl(), int64(r.i32()), int64(r.i32())
		d.writeType = r.str()
		d.has = hasReceived | hasBlock
	case 0x1200, 0x1300:
		d.set = true
		d.consistency, d.received, d.block = cl(), int64(r.i32()), int64(r.i32())
		if code == 0x1300 {
			d.numFailures = itoa(r.i32())
		}
		p := r.u8() != 0
		d.dataPresent = &p
		d.has = hasReceived | hasBlock
	case 0x1500:
		d.set = true
		d.consistency, d.received, d.block = cl(), int64(r.i32()), int64(r.i32())
		d.numFailures = itoa(r.i32())
		d.writeType = r.str()
		d.has = hasReceived | hasBlock
	case 0x1400:
		d.set = true
		d.keyspace, d.function = r.str(), r.str()
		d.argTypes = r.strList()
	case 0x2400:
		d.set = true
		d.keyspace, d.table = r.str(), r.str()
	case 0x2500:
		d.set = true
		d.stmtID = hex.EncodeToString(r.shortBytes())
	}
}

func itoa(i int32) string {
	var b [12]byte
	n := len(b)
	neg := i < 0
	u := int64(i)
	if neg {
		u = -u
	}
	for {
		n--
		b[n] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
