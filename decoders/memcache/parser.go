package memcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// message is one parsed request or response. Multi-part text responses
// (VALUE... END, STAT... END) and binary Stat responses (one per statistic,
// ended by an empty one) are merged into one message, as Packetbeat does,
// so a transaction is always one request and one response.
type message struct {
	ts        time.Time // first byte
	endTS     time.Time // last byte (multi-part responses)
	isRequest bool
	binary    bool
	text      *textCmd // text protocol command (nil for binary)
	bin       *binCmd  // binary opcode (nil for text)
	size      int64    // wire bytes
	next      *message // pending-request queue

	// text
	noreply  bool
	line     string // UNKNOWN commands, or the request line for send_request
	rawArgs  string
	errorMsg string

	// binary header
	opcode  uint8
	status  uint16
	vbucket uint16
	opaque  uint32

	keys      []string
	flags     uint32
	exptime   uint32
	cas       uint64
	value     uint64 // delta, counter result, verbosity, sleep_us, tocrawl, automove
	initial   uint64
	srcClass  int64
	dstClass  int64
	version   string
	bytes     int64 // value bytes (declared for text, received for binary)
	lost      int64 // value bytes lost to capture gaps
	count     int   // values seen
	values    [][]byte
	stats     []stat
	kept      int  // bytes of values kept
	truncated bool // keys/stats beyond the bounds were dropped
	// gapInValue: capture loss inside the value in progress; what was kept
	// of it is not the value, so it is counted but not published.
	gapInValue bool

	// scratch for the value being received: what is kept of it.
	data    []byte
	keepCap int
	statKey string // binary Stat: the name whose value is in data
	notes   []string
}

type stat struct{ name, value string }

func (m *message) typ() string {
	if m.bin != nil {
		return m.bin.typ
	}
	return m.text.typ
}

func (m *message) command() string {
	if m.bin != nil {
		return m.bin.command
	}
	return m.text.name
}

// expectsResponse reports whether the server answers this request. Quiet
// binary requests may still be answered (a GetQ hit, an error); they stay
// queued and are published alone when a later answer passes them.
func (m *message) expectsResponse() bool {
	if m.binary {
		return m.opcode != opcodeQuitQ
	}
	return !m.noreply && m.text.name != "quit"
}

func (m *message) quiet() bool {
	return m.binary && m.bin.quiet
}

var (
	errLineTooLong = errors.New("memcache: text line too long")
	errUnknownCmd  = errors.New("memcache: unknown command")
	errBadArgs     = errors.New("memcache: malformed command arguments")
	errDataTerm    = errors.New("memcache: data block not terminated by CRLF")
	errBadMagic    = errors.New("memcache: binary magic does not match the direction")
	errBadLength   = errors.New("memcache: binary body length smaller than extras + key")
	errExpectedEnd = errors.New("memcache: multi-part response interrupted")
	errWrongSide   = errors.New("memcache: text message on the wrong side")
	errEmptyLine   = errors.New("memcache: empty command line")
	errTruncated   = errors.New("memcache: datagram ends inside a message")
)

// parse states of one direction.
const (
	stStart    uint8 = iota // at a message (or response part) boundary
	stData                  // inside a value block, remaining bytes to go
	stDataCRLF              // text: the CRLF after a value block
)

// What a binary message's value is.
const (
	valData    uint8 = iota // an item's data: counted, kept per maxvalues
	valCounter              // incr/decr result (8 bytes)
	valVersion              // version string
	valStat                 // one statistic's value
	valError                // the text of an error status ("Not found")
)

// stream is the parser state of one direction.
type stream struct {
	state     uint8
	kind      uint8    // binary: what the value in progress is (val*)
	cur       *message // message in progress (data pending or multi-part)
	remaining int64    // value bytes still expected
}

// reset drops what is in progress.
func (st *stream) reset() {
	st.state, st.cur, st.remaining = stStart, nil, 0
}

// step parses one protocol element at the start of data. It returns the
// bytes consumed (0 with a nil error: need more data), a message when one
// completed, or an error (the caller drops the buffered bytes and the
// message in progress, and restarts at the next segment).
func (st *stream) step(cfg *settings, data []byte, ts time.Time, fromClient bool) (int, *message, error) {
	switch st.state {
	case stData:
		m := st.cur
		n := int(min(int64(len(data)), st.remaining))
		if room := m.keepCap - len(m.data); room > 0 {
			m.data = append(m.data, data[:min(n, room)]...)
		}
		st.remaining -= int64(n)
		m.size += int64(n)
		if st.remaining > 0 {
			return n, nil, nil
		}
		if m.binary {
			return n, st.finishBinaryValue(cfg, ts, true), nil
		}
		st.state = stDataCRLF
		return n, nil, nil
	case stDataCRLF:
		if len(data) < 2 {
			return 0, nil, nil
		}
		if data[0] != '\r' || data[1] != '\n' {
			return 0, nil, errDataTerm
		}
		m := st.cur
		m.size += 2
		m.endTS = ts
		st.state = stStart
		m.addValue(cfg)
		if m.isRequest {
			st.cur = nil
			return 2, m, nil
		}
		return 2, nil, nil // VALUE: more values or END follow
	}
	if len(data) == 0 {
		return 0, nil, nil
	}
	if data[0] == magicRequest || data[0] == magicResponse {
		if st.cur != nil && !st.cur.binary {
			return 0, nil, errExpectedEnd
		}
		return st.parseBinary(cfg, data, ts, fromClient)
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > maxLineBytes {
			return 0, nil, errLineTooLong
		}
		return 0, nil, nil
	}
	if i > maxLineBytes {
		return 0, nil, errLineTooLong
	}
	line := data[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if fromClient {
		m, err := parseTextRequest(cfg, line, ts)
		if err != nil {
			return 0, nil, err
		}
		m.size = int64(i + 1)
		if m.text.args == argsStore || m.text.args == argsCas {
			st.cur, st.state, st.remaining = m, stData, m.bytes
			m.keepCap = valueCap(cfg, m)
			return i + 1, nil, nil
		}
		return i + 1, m, nil
	}
	m, err := st.parseTextResponse(cfg, line, ts)
	if err != nil {
		return 0, nil, err
	}
	if m != nil {
		m.size += int64(i + 1)
	} else {
		st.cur.size += int64(i + 1)
	}
	return i + 1, m, nil
}

// valueCap is how much of the next value of m is kept: none beyond
// maxvalues, at most maxbytespervalue, and never more than maxKeptBytes per
// message in all (a multi-get of many large values).
func valueCap(cfg *settings, m *message) int {
	if !cfg.keepValue(m.count) {
		return 0
	}
	return max(0, min(cfg.maxBytesPerValue, maxKeptBytes-m.kept))
}

// addValue accounts a completely received value and keeps what was copied.
func (m *message) addValue(cfg *settings) {
	if cfg.keepValue(m.count) && !m.gapInValue {
		m.values = append(m.values, m.data)
		m.kept += len(m.data)
	}
	m.count++
	m.data, m.gapInValue = nil, false
}

// nextField splits the first space-separated field off s.
func nextField(s []byte) (field, rest []byte) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	i := bytes.IndexByte(s, ' ')
	if i < 0 {
		return s, nil
	}
	return s[:i], s[i+1:]
}

func parseUint(b []byte, bits int) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if bits < 64 && v >= 1<<bits {
		return 0, false
	}
	return v, true
}

func parseTextRequest(cfg *settings, line []byte, ts time.Time) (*message, error) {
	name, rest := nextField(line)
	if len(name) == 0 {
		return nil, errEmptyLine
	}
	if name[0] < 'a' || name[0] > 'z' {
		return nil, errWrongSide
	}
	cmd := textRequests[string(name)]
	if cmd != nil && cmd.args == argsSub {
		var sub []byte
		sub, rest = nextField(rest)
		table := slabsCommands
		if cmd.name == "lru_crawler" {
			table = lruCrawlerCommands
		}
		cmd = table[string(sub)]
	}
	m := &message{ts: ts, endTS: ts, isRequest: true}
	if cfg.common.SendRequest {
		m.line = string(line)
	}
	if cmd == nil {
		// A command this decoder does not know, which memcached answers
		// with ERROR: without parseunknown its line is not kept, but it
		// still makes a request, so the ERROR pairs with it rather than
		// standing alone. A line that cannot be a command is garbage.
		if !cfg.parseUnknown && !commandLine(line) {
			return nil, errUnknownCmd
		}
		m.text = cmdUnknown
		if cfg.parseUnknown {
			m.line = string(line)
		}
		return m, nil
	}
	m.text = cmd
	if !m.parseArgs(cmd.args, rest) {
		return nil, errBadArgs
	}
	return m, nil
}

// commandLine reports whether a request line has the shape of a text
// command: a lower-case word of letters, digits and '_', then printable
// ASCII arguments.
func commandLine(line []byte) bool {
	word := true
	for _, c := range line {
		switch {
		case c == ' ':
			word = false
		case c < 0x20 || c > 0x7e:
			return false
		case word && !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'):
			return false
		}
	}
	return true
}

// parseArgs fills m from the arguments of a text line.
func (m *message) parseArgs(kind argKind, rest []byte) bool {
	var f []byte
	var ok bool
	num := func(bits int) (uint64, bool) {
		f, rest = nextField(rest)
		return parseUint(f, bits)
	}
	key := func() bool {
		f, rest = nextField(rest)
		if len(f) == 0 {
			return false
		}
		m.keys = append(m.keys, string(f))
		return true
	}
	noreply := func() bool {
		f, rest = nextField(rest)
		switch {
		case len(f) == 0:
			return true
		case string(f) == "noreply":
			m.noreply = true
			return true
		}
		return false
	}
	switch kind {
	case argsNone:
		return true
	case argsMultiKeys:
		for len(rest) > 0 {
			f, rest = nextField(rest)
			if len(f) == 0 {
				break
			}
			if len(m.keys) == maxKeys {
				m.truncated = true
				continue
			}
			m.keys = append(m.keys, string(f))
		}
		return len(m.keys) > 0
	case argsStore, argsCas:
		var v uint64
		if !key() {
			return false
		}
		if v, ok = num(32); !ok {
			return false
		}
		m.flags = uint32(v)
		if v, ok = num(32); !ok {
			return false
		}
		m.exptime = uint32(v)
		if v, ok = num(32); !ok {
			return false
		}
		m.bytes = int64(v)
		if kind == argsCas {
			if m.cas, ok = num(64); !ok {
				return false
			}
		}
		return noreply()
	case argsCounter:
		if !key() {
			return false
		}
		if m.value, ok = num(64); !ok {
			return false
		}
		return noreply()
	case argsTouch:
		if !key() {
			return false
		}
		v, ok := num(32)
		m.exptime = uint32(v)
		return ok && noreply()
	case argsDelete:
		// "delete <key> 0" (a legacy time argument) is accepted by memcached.
		if !key() {
			return false
		}
		f, r := nextField(rest)
		if string(f) == "0" {
			rest = r
		}
		return noreply()
	case argsFlush:
		f, r := nextField(rest)
		if len(f) > 0 && f[0] >= '0' && f[0] <= '9' {
			v, ok := parseUint(f, 32)
			if !ok {
				return false
			}
			m.exptime = uint32(v)
			rest = r
		}
		return noreply()
	case argsRaw:
		m.rawArgs = string(bytes.TrimSpace(rest))
		return true
	case argsValue:
		f, rest = nextField(rest)
		switch string(f) { // slabs automove also takes words in memcached 1.6
		case "standby":
			m.value = 0
			return true
		case "slow":
			m.value = 1
			return true
		case "aggressive":
			m.value = 2
			return true
		}
		m.value, ok = parseUint(f, 64)
		return ok
	case argsClasses:
		var a, b int64
		var err error
		f, rest = nextField(rest)
		if a, err = strconv.ParseInt(string(f), 10, 64); err != nil {
			return false
		}
		f, rest = nextField(rest)
		if b, err = strconv.ParseInt(string(f), 10, 64); err != nil {
			return false
		}
		m.srcClass, m.dstClass = a, b
		return true
	case argsNoreply:
		return noreply()
	}
	return false
}

// parseTextResponse handles one response line. It returns the completed
// message, or nil while a multi-part response (VALUE/STAT ... END) goes on
// in st.cur.
func (st *stream) parseTextResponse(cfg *settings, line []byte, ts time.Time) (*message, error) {
	name, rest := nextField(line)
	if len(name) == 0 {
		return nil, errEmptyLine
	}
	cmd := textResponses[string(name)]
	if cmd == nil && name[0] >= '0' && name[0] <= '9' {
		cmd = cmdCounter
	}
	if cmd == nil && name[0] >= 'a' && name[0] <= 'z' {
		return nil, errWrongSide
	}
	if cur := st.cur; cur != nil {
		switch {
		case cmd == cmdEnd:
			cur.endTS = ts
			st.cur = nil
			return cur, nil
		case cmd == cur.text && (cmd == cmdValue || cmd == cmdStat):
			cur.endTS = ts
			return nil, cur.partArgs(cfg, st, cmd, rest)
		}
		return nil, errExpectedEnd
	}
	m := &message{ts: ts, endTS: ts}
	if cmd == nil {
		if !cfg.parseUnknown {
			return nil, errUnknownCmd
		}
		m.text = cmdUnknown
		m.line = string(line)
		return m, nil
	}
	m.text = cmd
	switch cmd.args {
	case argsNone:
		if cmd == cmdCounter {
			v, ok := parseUint(name, 64)
			if !ok {
				return nil, errBadArgs
			}
			m.value = v
		}
		return m, nil
	case argsErrorMsg:
		m.errorMsg = string(bytes.TrimSpace(rest))
		return m, nil
	case argsVersion:
		m.version = string(bytes.TrimSpace(rest))
		return m, nil
	}
	// VALUE or STAT: the first part of a multi-part response.
	st.cur = m
	if err := m.partArgs(cfg, st, cmd, rest); err != nil {
		st.cur = nil
		return nil, err
	}
	return nil, nil
}

// partArgs adds one VALUE header or STAT line to the multi-part response m.
func (m *message) partArgs(cfg *settings, st *stream, cmd *textCmd, rest []byte) error {
	if cmd == cmdStat {
		name, r := nextField(rest)
		if len(name) == 0 {
			return errBadArgs
		}
		if len(m.stats) == maxStats {
			m.truncated = true
			return nil
		}
		m.stats = append(m.stats, stat{string(name), string(bytes.TrimSpace(r))})
		return nil
	}
	key, r := nextField(rest)
	if len(key) == 0 {
		return errBadArgs
	}
	f, r := nextField(r)
	flags, ok := parseUint(f, 32)
	if !ok {
		return errBadArgs
	}
	f, r = nextField(r)
	n, ok := parseUint(f, 32)
	if !ok {
		return errBadArgs
	}
	if f, _ = nextField(r); len(f) > 0 {
		if m.cas, ok = parseUint(f, 64); !ok {
			return errBadArgs
		}
	}
	if len(m.keys) < maxKeys {
		m.keys = append(m.keys, string(key))
	} else {
		m.truncated = true
	}
	if m.count == 0 {
		m.flags = uint32(flags)
	}
	m.bytes += int64(n)
	m.keepCap = valueCap(cfg, m)
	st.state, st.remaining = stData, int64(n)
	return nil
}

// parseBinary parses a binary header with its extras and key; the value,
// if any, follows in stData.
func (st *stream) parseBinary(cfg *settings, data []byte, ts time.Time, fromClient bool) (int, *message, error) {
	if (data[0] == magicRequest) != fromClient {
		return 0, nil, errBadMagic
	}
	if len(data) < binHeaderLen {
		return 0, nil, nil
	}
	opcode := data[1]
	keyLen := int(binary.BigEndian.Uint16(data[2:]))
	extLen := int(data[4])
	total := int64(binary.BigEndian.Uint32(data[8:]))
	if total < int64(keyLen+extLen) {
		return 0, nil, errBadLength
	}
	hdrLen := binHeaderLen + extLen + keyLen
	if len(data) < hdrLen {
		return 0, nil, nil
	}
	cmd := binCommands[opcode]
	if cmd == nil {
		cmd = cmdBinUnknown
	}
	opaque := binary.BigEndian.Uint32(data[12:])
	key := data[binHeaderLen+extLen : hdrLen]

	// Stat responses come one per statistic with the request's opaque;
	// they merge into the message in progress.
	var m *message
	if cur := st.cur; cur != nil {
		if cur.opcode != opcodeStat || opcode != opcodeStat || cur.opaque != opaque {
			return 0, nil, errExpectedEnd
		}
		m = cur
	} else {
		m = &message{ts: ts, isRequest: fromClient, binary: true, bin: cmd, opcode: opcode, opaque: opaque}
		if fromClient {
			m.vbucket = binary.BigEndian.Uint16(data[6:])
		} else {
			m.status = binary.BigEndian.Uint16(data[6:])
		}
		m.cas = binary.BigEndian.Uint64(data[16:])
		m.parseExtras(cmd, data[binHeaderLen:binHeaderLen+extLen])
	}
	m.endTS = ts
	m.size += int64(hdrLen)
	valueLen := total - int64(extLen+keyLen)
	st.kind = valData
	switch {
	case !fromClient && opcode == opcodeStat:
		if keyLen == 0 { // the empty terminator
			st.cur = nil
			return hdrLen, m, nil
		}
		m.statKey = string(key)
		st.kind = valStat
	case !fromClient && m.status != 0:
		st.kind = valError
	case !fromClient && cmd.typ == typCounter:
		st.kind = valCounter
	case !fromClient && opcode == opcodeVersion:
		st.kind = valVersion
	}
	if keyLen > 0 && st.kind != valStat {
		if len(m.keys) < maxKeys {
			m.keys = append(m.keys, string(key))
		}
	}
	switch st.kind {
	case valData:
		m.keepCap = valueCap(cfg, m)
		m.bytes += valueLen
	case valCounter:
		m.keepCap = 8
	default:
		m.keepCap = maxScalarBytes
	}
	m.data = m.data[:0]
	st.cur = m
	if valueLen == 0 {
		return hdrLen, st.finishBinaryValue(cfg, ts, false), nil
	}
	st.state, st.remaining = stData, valueLen
	return hdrLen, nil, nil
}

func (m *message) parseExtras(cmd *binCmd, ex []byte) {
	kind := cmd.resp
	if m.isRequest {
		kind = cmd.req
	}
	switch kind {
	case exFlags:
		if len(ex) >= 4 {
			m.flags = binary.BigEndian.Uint32(ex)
		}
	case exStore:
		if len(ex) >= 8 {
			m.flags = binary.BigEndian.Uint32(ex)
			m.exptime = binary.BigEndian.Uint32(ex[4:])
		}
	case exCounter:
		if len(ex) >= 20 {
			m.value = binary.BigEndian.Uint64(ex)
			m.initial = binary.BigEndian.Uint64(ex[8:])
			m.exptime = binary.BigEndian.Uint32(ex[16:])
		}
	case exExptime:
		if len(ex) >= 4 {
			m.exptime = binary.BigEndian.Uint32(ex)
		}
	case exVerbosity:
		if len(ex) >= 4 {
			m.value = uint64(binary.BigEndian.Uint32(ex))
		}
	}
}

// finishBinaryValue completes a binary message once its value (if any) is
// in: the value becomes a counter result, a version, a statistic or a
// data value, by what parseBinary decided.
func (st *stream) finishBinaryValue(cfg *settings, ts time.Time, hadValue bool) *message {
	m := st.cur
	st.state, st.remaining = stStart, 0
	m.endTS = ts
	switch st.kind {
	case valStat:
		if len(m.stats) < maxStats {
			m.stats = append(m.stats, stat{m.statKey, string(m.data)})
		} else {
			m.truncated = true
		}
		m.statKey = ""
		m.data = m.data[:0]
		return nil // more statistics follow until the empty one
	case valVersion:
		m.version = string(m.data)
	case valError:
		m.errorMsg = string(m.data)
	case valCounter:
		if len(m.data) == 8 {
			m.value = binary.BigEndian.Uint64(m.data)
		}
	case valData:
		if hadValue {
			m.addValue(cfg)
		}
	}
	m.data = nil
	st.cur = nil
	return m
}
