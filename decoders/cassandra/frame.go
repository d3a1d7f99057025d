package cassandra

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Opcodes (native protocol spec, section 2.4).
const (
	opError         = 0x00
	opStartup       = 0x01
	opReady         = 0x02
	opAuthenticate  = 0x03
	opOptions       = 0x05
	opSupported     = 0x06
	opQuery         = 0x07
	opResult        = 0x08
	opPrepare       = 0x09
	opExecute       = 0x0A
	opRegister      = 0x0B
	opEvent         = 0x0C
	opBatch         = 0x0D
	opAuthChallenge = 0x0E
	opAuthResponse  = 0x0F
	opAuthSuccess   = 0x10
)

var opNames = [...]string{
	opError: "ERROR", opStartup: "STARTUP", opReady: "READY", opAuthenticate: "AUTHENTICATE",
	0x04: "", opOptions: "OPTIONS", opSupported: "SUPPORTED", opQuery: "QUERY", opResult: "RESULT",
	opPrepare: "PREPARE", opExecute: "EXECUTE", opRegister: "REGISTER", opEvent: "EVENT",
	opBatch: "BATCH", opAuthChallenge: "AUTH_CHALLENGE", opAuthResponse: "AUTH_RESPONSE",
	opAuthSuccess: "AUTH_SUCCESS",
}

func opName(op uint8) string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return "UNKNOWN_OP_" + strconv.Itoa(int(op))
}

func opByName(s string) (uint8, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for i, n := range opNames {
		if n != "" && n == s {
			return uint8(i), true
		}
	}
	return 0, false
}

// Header flags.
const (
	flagCompress      = 0x01
	flagTracing       = 0x02
	flagCustomPayload = 0x04
	flagWarning       = 0x08
)

// flagsName names the header flags as Packetbeat does: one name for a
// single flag, UnknownFlag_N for combinations.
func flagsName(f uint8) string {
	switch f {
	case 0:
		return "Default"
	case flagCompress:
		return "Compress"
	case flagTracing:
		return "Tracing"
	case flagCustomPayload:
		return "CustomPayload"
	case flagWarning:
		return "Warning"
	}
	return "UnknownFlag_" + strconv.Itoa(int(f))
}

// header is a decoded frame header.
type header struct {
	version uint8 // without the direction bit
	flags   uint8
	stream  int16
	op      uint8
	length  int32
	size    int // header bytes: 9 for v3+, 8 for v1/v2
}

var (
	errNotCQL   = errors.New("not a CQL frame header")
	errTooLarge = errors.New("frame body over 256 MiB")
	errShort    = errors.New("truncated frame body")
)

// parseHeader decodes a frame header. It returns ok=false when more bytes
// are needed, and an error when the bytes cannot start a frame (checked
// strictly, so a resynchronisation after a gap does not lock onto noise).
func parseHeader(b []byte, dir uint8) (h header, ok bool, err error) {
	if len(b) < 1 {
		return h, false, nil
	}
	v := b[0]
	if v>>7 != dir {
		return h, false, errNotCQL
	}
	h.version = v & 0x7F
	switch {
	case h.version >= 3 && h.version <= 5, h.version == 0x41, h.version == 0x42: // 0x41/0x42: DSE v1/v2
		h.size = 9
	case h.version == 1 || h.version == 2:
		h.size = 8
	default:
		return h, false, errNotCQL
	}
	if len(b) < h.size {
		return h, false, nil
	}
	h.flags = b[1]
	if h.size == 9 {
		h.stream = int16(binary.BigEndian.Uint16(b[2:]))
		h.op = b[4]
		h.length = int32(binary.BigEndian.Uint32(b[5:]))
	} else {
		h.stream = int16(int8(b[2]))
		h.op = b[3]
		h.length = int32(binary.BigEndian.Uint32(b[4:]))
	}
	if h.op > opAuthSuccess || h.op == 0x04 || h.flags&0xE0 != 0 {
		return h, false, errNotCQL
	}
	if h.length < 0 || h.length > maxFrameBody {
		return h, false, errTooLarge
	}
	return h, true, nil
}

// reader decodes protocol notation ([int], [string], ...) with bounds
// checks: a short body sets err and yields zero values, never a panic.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.err = errShort
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() uint8 {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.take(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (r *reader) i32() int32 {
	if s := r.take(4); s != nil {
		return int32(binary.BigEndian.Uint32(s))
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

func (r *reader) longStr(max int) string {
	n := int(r.i32())
	s := r.take(n)
	if len(s) > max {
		s = s[:max]
	}
	return string(s)
}

// bytesVal reads [bytes]; a negative length is null.
func (r *reader) bytesVal() []byte {
	n := r.i32()
	if n < 0 {
		return nil
	}
	return r.take(int(n))
}

func (r *reader) shortBytes() []byte { return r.take(int(r.u16())) }

func (r *reader) count() int {
	n := int(r.u16())
	if n > maxListItems {
		r.err = errShort
		return 0
	}
	return n
}

func (r *reader) strList() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.str())
	}
	return out
}

func (r *reader) inet() (string, int64) {
	n := int(r.u8())
	ip := r.take(n)
	port := r.i32()
	if a, ok := netip.AddrFromSlice(ip); ok && r.err == nil {
		return a.Unmap().String(), int64(port)
	}
	return "", int64(port)
}

var consistencies = [...]string{"ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE"}

func consistencyName(c uint16) string {
	if int(c) < len(consistencies) {
		return consistencies[c]
	}
	return "UNKNOWN_CONS_0x" + strconv.FormatUint(uint64(c), 16)
}

// Error codes (spec section 9) and Packetbeat's names for them.
var errNames = map[int32]string{
	0x0000: "errServer", 0x000A: "errProtocol", 0x0100: "errCredentials", 0x1000: "errUnavailable",
	0x1001: "errOverloaded", 0x1002: "errBootstrapping", 0x1003: "errTruncate", 0x1100: "errWriteTimeout",
	0x1200: "errReadTimeout", 0x1300: "errReadFailure", 0x1400: "errFunctionFailure", 0x1500: "errWriteFailure",
	0x2000: "errSyntax", 0x2100: "errUnauthorized", 0x2200: "errInvalid", 0x2300: "errConfig",
	0x2400: "errAlreadyExists", 0x2500: "errUnprepared",
}

// metadata is a rows or prepared metadata block.
type metadata struct {
	set         bool
	flags       string
	colCount    int64
	pkeys       []int64
	pkeysSet    bool
	pagingState string
	keyspace    string
	table       string
}

// rowFlagsName names rows metadata flags as Packetbeat does.
func rowFlagsName(f int32) string {
	switch f {
	case 0x01:
		return "GlobalTableSpec"
	case 0x02:
		return "HasMorePages"
	case 0x04:
		return "NoMetaData"
	}
	return "FLAG_" + strconv.Itoa(int(f))
}

func (r *reader) metadata(version uint8, prepared bool) metadata {
	var m metadata
	flags := r.i32()
	m.set = true
	m.flags = rowFlagsName(flags)
	cols := r.i32()
	m.colCount = int64(cols)
	if prepared && version >= 4 {
		n := r.i32()
		if n < 0 || n > maxListItems {
			r.err = errShort
			return m
		}
		m.pkeysSet = true
		m.pkeys = make([]int64, 0, n)
		for i := int32(0); i < n && r.err == nil; i++ {
			m.pkeys = append(m.pkeys, int64(r.u16()))
		}
	}
	if flags&0x02 != 0 {
		m.pagingState = strings.ToUpper(hex.EncodeToString(r.bytesVal()))
	}
	if flags&0x04 != 0 {
		return m
	}
	global := flags&0x01 != 0
	if global {
		m.keyspace = r.str()
		m.table = r.str()
	}
	// Column specs are not published, but what follows them is.
	if cols < 0 || cols > maxListItems {
		r.err = errShort
		return m
	}
	for i := int32(0); i < cols && r.err == nil; i++ {
		if !global {
			r.str()
			r.str()
		}
		r.str()
		skipType(r, 0)
	}
	return m
}

// schemaChange is a SCHEMA_CHANGE result or event body.
type schemaChange struct {
	set                                           bool
	change, keyspace, table, object, target, name string
	args                                          []string
}

func (r *reader) schemaChange(version uint8) schemaChange {
	s := schemaChange{set: true}
	s.change = r.str()
	if version < 3 {
		s.keyspace, s.table = r.str(), r.str()
		return s
	}
	s.target = r.str()
	switch s.target {
	case "KEYSPACE":
		s.keyspace = r.str()
	case "TABLE", "TYPE":
		s.keyspace, s.object = r.str(), r.str()
	case "FUNCTION", "AGGREGATE":
		s.keyspace, s.name = r.str(), r.str()
		s.args = r.strList()
	}
	return s
}
