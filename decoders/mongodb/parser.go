package mongodb

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// Wire protocol opcodes.
const (
	opReply       = 1
	opUpdate      = 2001
	opInsert      = 2002
	opQuery       = 2004
	opGetMore     = 2005
	opDelete      = 2006
	opKillCursors = 2007
	opCompressed  = 2012
	opMsg         = 2013
)

const (
	headerLen = 16
	// maxMessage is MongoDB's maxMessageSizeBytes: a larger length means
	// we are not at a message boundary.
	maxMessage = 48000000
	// maxParsed bounds the messages we decode; larger ones (bulk inserts,
	// big batches) are published from their header alone and skipped as
	// they stream past, so the engine never holds more than this.
	maxParsed = 1 << 20

	msgChecksumPresent = 1 << 0
	msgMoreToCome      = 1 << 1
)

var (
	errHeader   = errors.New("mongodb: bad message header")
	errOpcode   = errors.New("mongodb: unknown opcode")
	errBody     = errors.New("mongodb: malformed message body")
	errChecksum = errors.New("mongodb: OP_MSG checksum mismatch")
)

// header is the standard message header.
type header struct {
	length     int
	requestID  int32
	responseTo int32
	opCode     int32
}

func parseHeader(b []byte) (header, error) {
	h := header{
		length:     int(int32(binary.LittleEndian.Uint32(b))),
		requestID:  int32(binary.LittleEndian.Uint32(b[4:])),
		responseTo: int32(binary.LittleEndian.Uint32(b[8:])),
		opCode:     int32(binary.LittleEndian.Uint32(b[12:])),
	}
	if h.length < headerLen || h.length > maxMessage {
		return h, errHeader
	}
	switch h.opCode {
	case opReply, opUpdate, opInsert, opQuery, opGetMore, opDelete, opKillCursors, opCompressed, opMsg:
		return h, nil
	}
	return h, errOpcode
}

// message is one decoded request or response, its texts already rendered
// (the byte slice it came from is only valid during Parse).
type message struct {
	header
	ts time.Time

	// Request side.
	method, resource string
	fullName         string // legacy opcodes' fullCollectionName
	params           string // command arguments for the query text
	fullParams       string // everything, for send_request
	query            string // mongodb.query: the query or command document
	returnFields     string
	selector, update string
	numberToSkip     int64
	numberToReturn   int64
	hasSkip          bool
	expectsReply     bool

	// Response side (and OP_GET_MORE's cursor).
	isResponse     bool
	hasReply       bool // OP_REPLY fields or a cursor reply present
	cursorID       int64
	hasCursor      bool
	startingFrom   int64
	numberReturned int64
	errMsg         string
	docs           []string // rendered documents, send_response only
	moreDocs       bool     // more documents than max_docs

	notes []string
}

// decoder turns message bodies into messages under the configured bounds.
type decoder struct {
	cfg *settings
}

// decode parses a complete message b (header included).
func (d *decoder) decode(h header, b []byte, ts time.Time) (*message, error) {
	m := &message{header: h, ts: ts}
	body := b[headerLen:]
	var err error
	switch h.opCode {
	case opReply:
		m.isResponse = true
		err = d.reply(m, body)
	case opMsg:
		err = d.msg(m, body)
	case opQuery:
		err = d.opQuery(m, body)
	case opGetMore:
		err = d.getMore(m, body)
	case opInsert:
		err = d.insert(m, body)
	case opUpdate, opDelete:
		err = d.updateDelete(m, body)
	case opKillCursors:
		m.method = "killCursors"
	}
	return m, err
}

func le32(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }

// u32 reads the legacy count fields as Packetbeat reports them: unsigned,
// so OP_QUERY's numberToReturn -1 ("one document, close the cursor") shows
// as 4294967295.
func u32(b []byte) int64 { return int64(binary.LittleEndian.Uint32(b)) }

// docText renders doc for a field bounded by max_doc_length.
func (d *decoder) docText(doc []byte, skip ...string) string {
	s, _ := renderDoc(doc, d.cfg.maxDocLength, skip...)
	return s
}

// addDoc keeps a rendered response document, up to max_docs.
func (d *decoder) addDoc(m *message, doc []byte) {
	if !d.cfg.common.SendResponse {
		return
	}
	if d.cfg.maxDocs > 0 && len(m.docs) >= d.cfg.maxDocs {
		m.moreDocs = true
		return
	}
	m.docs = append(m.docs, d.docText(doc))
}

// errorOf finds the error a reply document reports: $err (legacy query
// failures), ok: 0 with errmsg (commands), writeErrors (write commands).
func (d *decoder) errorOf(doc []byte) string {
	if e, ok := lookup(doc, "$err"); ok && e.typ == 0x02 {
		return string(str(e.val))
	}
	if e, ok := lookup(doc, "ok"); ok {
		if v, isNum := asInt(e); isNum && v == 0 {
			msg := "command failed"
			if m, ok := lookup(doc, "errmsg"); ok && m.typ == 0x02 {
				msg = string(str(m.val))
			}
			if c, ok := lookup(doc, "code"); ok {
				if n, ok := asInt(c); ok {
					msg += " (code " + strconv.FormatInt(n, 10) + ")"
				}
			}
			return msg
		}
	}
	if e, ok := lookup(doc, "writeErrors"); ok && e.typ == 0x04 {
		r := renderer{limit: d.cfg.maxDocLength}
		if r.doc(e.val, true, 0) == nil {
			return r.finish()
		}
	}
	return ""
}

// --- OP_REPLY ---------------------------------------------------------------

func (d *decoder) reply(m *message, b []byte) error {
	if len(b) < 20 {
		return errBody
	}
	m.hasReply, m.hasCursor = true, true
	m.cursorID = int64(binary.LittleEndian.Uint64(b[4:]))
	m.startingFrom = u32(b[12:])
	m.numberReturned = u32(b[16:])
	b = b[20:]
	for i := 0; len(b) > 0; i++ {
		n, err := docLen(b)
		if err != nil {
			return err
		}
		if i == 0 {
			m.errMsg = d.errorOf(b[:n])
		}
		d.addDoc(m, b[:n])
		b = b[n:]
	}
	return nil
}

// --- OP_MSG -----------------------------------------------------------------

type sequence struct {
	ident []byte
	docs  []byte
}

func (d *decoder) msg(m *message, b []byte) error {
	if len(b) < 5 {
		return errBody
	}
	flags := binary.LittleEndian.Uint32(b)
	sections := b[4:]
	if flags&msgChecksumPresent != 0 {
		if len(sections) < 4 {
			return errBody
		}
		sections = sections[:len(sections)-4]
	}
	m.expectsReply = flags&msgMoreToCome == 0
	var body []byte
	var seqs [4]sequence // drivers send one or two; more are counted, not kept
	nseq := 0
	for len(sections) > 0 {
		kind := sections[0]
		sections = sections[1:]
		switch kind {
		case 0:
			n, err := docLen(sections)
			if err != nil {
				return err
			}
			body = sections[:n]
			sections = sections[n:]
		case 1:
			if len(sections) < 4 {
				return errBody
			}
			size := int(le32(sections))
			if size < 5 || size > len(sections) {
				return errBody
			}
			ident, docs, ok := cstring(sections[4:size])
			if !ok {
				return errBody
			}
			if nseq < len(seqs) {
				seqs[nseq] = sequence{ident: ident, docs: docs}
				nseq++
			}
			sections = sections[size:]
		default:
			return errBody
		}
	}
	if body == nil {
		return errBody
	}
	if m.responseTo != 0 {
		m.isResponse = true
		return d.msgReply(m, body)
	}
	return d.msgRequest(m, body, seqs[:nseq])
}

// checksumOK verifies an OP_MSG CRC-32C (Castagnoli) over the whole message.
func checksumOK(b []byte) bool {
	if len(b) < headerLen+8 {
		return true
	}
	flags := binary.LittleEndian.Uint32(b[headerLen:])
	if flags&msgChecksumPresent == 0 {
		return true
	}
	want := binary.LittleEndian.Uint32(b[len(b)-4:])
	return crc32.Checksum(b[:len(b)-4], castagnoli) == want
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// payloadKeys hold the data of write commands: left out of the query text
// (as Packetbeat does) but kept in the request text.
var payloadKeys = []string{"documents", "updates", "deletes", "update"}

func (d *decoder) msgRequest(m *message, body []byte, seqs []sequence) error {
	it := newIter(body)
	first, ok := it.next()
	if !ok {
		if it.err != nil {
			return it.err
		}
		return errBody
	}
	m.method = string(first.key)
	db := "admin"
	if e, ok := lookup(body, "$db"); ok && e.typ == 0x02 {
		db = string(str(e.val))
	}
	// The command's value names the collection for collection commands;
	// getMore carries it in "collection".
	m.resource = db + ".$cmd"
	switch {
	case first.typ == 0x02:
		m.resource = db + "." + string(str(first.val))
	case m.method == "getMore":
		if c, ok := lookup(body, "collection"); ok && c.typ == 0x02 {
			m.resource = db + "." + string(str(c.val))
		}
		if id, ok := asInt(first); ok {
			m.cursorID, m.hasCursor = id, true
		}
	}
	skip := append([]string{m.method, "$db"}, payloadKeys...)
	m.params = d.docText(body, skip...)
	if e, ok := lookup(body, "skip"); ok {
		m.numberToSkip, m.hasSkip = asInt(e)
	}
	if e, ok := lookup(body, "limit"); ok {
		m.numberToReturn, _ = asInt(e)
	}
	m.query = d.docText(body)
	if d.cfg.common.SendRequest {
		r := renderer{limit: d.cfg.maxDocLength}
		if err := r.doc(body, false, 0, m.method, "$db"); err != nil && !r.full {
			return err
		}
		// Kind 1 sequences become arrays of the command, as the driver
		// would have put them in the body.
		if !r.full && len(seqs) > 0 && len(r.out) > 0 {
			r.out = r.out[:len(r.out)-1] // drop '}'
			for _, s := range seqs {
				if len(r.out) > 1 {
					r.out = append(r.out, ',')
				}
				r.quote(s.ident)
				r.out = append(r.out, ':', '[')
				docs := s.docs
				for i := 0; len(docs) > 0 && !r.over(); i++ {
					n, err := docLen(docs)
					if err != nil {
						return err
					}
					if i > 0 {
						r.out = append(r.out, ',')
					}
					if err := r.doc(docs[:n], false, 1); err != nil {
						return err
					}
					docs = docs[n:]
				}
				r.out = append(r.out, ']')
			}
			r.out = append(r.out, '}')
		}
		m.fullParams = r.finish()
	}
	return nil
}

func (d *decoder) msgReply(m *message, body []byte) error {
	m.errMsg = d.errorOf(body)
	// Cursor replies (find, aggregate, getMore): the batch is the result.
	if c, ok := lookup(body, "cursor"); ok && c.typ == 0x03 {
		m.hasReply = true
		if id, ok := lookup(c.val, "id"); ok {
			m.cursorID, m.hasCursor = asInt(id)
		}
		batch, ok := lookup(c.val, "firstBatch")
		if !ok {
			batch, ok = lookup(c.val, "nextBatch")
		}
		if ok && batch.typ == 0x04 {
			it := newIter(batch.val)
			for {
				e, ok := it.next()
				if !ok {
					break
				}
				m.numberReturned++
				if e.typ == 0x03 {
					d.addDoc(m, e.val)
				}
			}
			return it.err
		}
		return nil
	}
	d.addDoc(m, body)
	return nil
}

// --- legacy opcodes ---------------------------------------------------------

func (d *decoder) opQuery(m *message, b []byte) error {
	if len(b) < 4 {
		return errBody
	}
	ns, rest, ok := cstring(b[4:])
	if !ok || len(rest) < 8 {
		return errBody
	}
	m.expectsReply = true
	m.fullName = string(ns)
	m.numberToSkip, m.hasSkip = u32(rest), true
	m.numberToReturn = u32(rest[4:])
	rest = rest[8:]
	n, err := docLen(rest)
	if err != nil {
		return err
	}
	q := rest[:n]
	if len(rest) > n {
		if n2, err := docLen(rest[n:]); err == nil {
			m.returnFields = d.docText(rest[n : n+n2])
		}
	}
	m.query = d.docText(q)
	// Drivers wrap commands with read preferences in $query.
	inner := q
	if e, ok := lookup(q, "$query"); ok && e.typ == 0x03 {
		inner = e.val
	}
	m.resource = m.fullName
	if db, ok := strings.CutSuffix(m.fullName, ".$cmd"); ok {
		it := newIter(inner)
		first, ok := it.next()
		if !ok {
			m.method = "otherCommand"
		} else {
			m.method = string(first.key)
			if first.typ == 0x02 {
				m.resource = db + "." + string(str(first.val))
			}
		}
		skip := append([]string{m.method}, payloadKeys...)
		m.params = d.docText(inner, skip...)
		if d.cfg.common.SendRequest {
			m.fullParams = d.docText(inner, m.method)
		}
		return nil
	}
	m.method = "find"
	m.params = d.docText(inner)
	m.fullParams = m.params
	return nil
}

func (d *decoder) getMore(m *message, b []byte) error {
	if len(b) < 4 {
		return errBody
	}
	ns, rest, ok := cstring(b[4:])
	if !ok || len(rest) < 12 {
		return errBody
	}
	m.method, m.expectsReply = "getMore", true
	m.fullName, m.resource = string(ns), string(ns)
	m.numberToReturn = u32(rest)
	m.cursorID, m.hasCursor = int64(binary.LittleEndian.Uint64(rest[4:])), true
	return nil
}

func (d *decoder) insert(m *message, b []byte) error {
	if len(b) < 4 {
		return errBody
	}
	ns, rest, ok := cstring(b[4:])
	if !ok {
		return errBody
	}
	m.method = "insert"
	m.fullName, m.resource = string(ns), string(ns)
	if d.cfg.common.SendRequest {
		r := renderer{limit: d.cfg.maxDocLength}
		r.out = append(r.out, `{"documents":[`...)
		for i := 0; len(rest) > 0 && !r.over(); i++ {
			n, err := docLen(rest)
			if err != nil {
				return err
			}
			if i > 0 {
				r.out = append(r.out, ',')
			}
			if err := r.doc(rest[:n], false, 1); err != nil {
				return err
			}
			rest = rest[n:]
		}
		r.out = append(r.out, "]}"...)
		m.fullParams = r.finish()
	}
	return nil
}

// updateDelete parses OP_UPDATE (selector, update) and OP_DELETE (selector).
func (d *decoder) updateDelete(m *message, b []byte) error {
	if len(b) < 4 {
		return errBody
	}
	ns, rest, ok := cstring(b[4:])
	if !ok || len(rest) < 4 {
		return errBody
	}
	m.fullName, m.resource = string(ns), string(ns)
	rest = rest[4:]
	n, err := docLen(rest)
	if err != nil {
		return err
	}
	m.selector = d.docText(rest[:n])
	m.method = "delete"
	if m.opCode == opUpdate {
		m.method = "update"
		n2, err := docLen(rest[n:])
		if err != nil {
			return err
		}
		m.update = d.docText(rest[n : n+n2])
	}
	return nil
}

// queryText is the root query field: resource.method(params) with
// .skip(n) and .limit(n) when set, as Packetbeat writes it.
func queryText(m *message, full bool) string {
	p := m.params
	if full {
		p = m.fullParams
	}
	if p == "{}" {
		p = ""
	}
	var sb strings.Builder
	sb.Grow(len(m.resource) + len(m.method) + len(p) + 24)
	sb.WriteString(m.resource)
	sb.WriteByte('.')
	sb.WriteString(m.method)
	sb.WriteByte('(')
	sb.WriteString(p)
	sb.WriteByte(')')
	if m.numberToSkip > 0 {
		sb.WriteString(".skip(")
		sb.WriteString(strconv.FormatInt(m.numberToSkip, 10))
		sb.WriteByte(')')
	}
	if m.numberToReturn > 0 && m.numberToReturn < 0x7fffffff {
		sb.WriteString(".limit(")
		sb.WriteString(strconv.FormatInt(m.numberToReturn, 10))
		sb.WriteByte(')')
	}
	return sb.String()
}
