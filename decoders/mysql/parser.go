package mysql

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"time"
)

// Command bytes (first payload byte of a client packet with sequence 0).
const (
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comStatistics       = 0x09
	comPing             = 0x0e
	comChangeUser       = 0x11
	comBinlogDump       = 0x12
	comRegisterSlave    = 0x15
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comBinlogDumpGTID   = 0x1e
	comLast             = 0x1f // COM_RESET_CONNECTION, the highest command
)

// Capability flags that change how the rest of the connection is framed.
const (
	capCompress     = 0x00000020
	capProtocol41   = 0x00000200
	capSSL          = 0x00000800
	capDeprecateEOF = 0x01000000
)

// Server status flag: another result set follows for the same command.
const statusMoreResults = 0x0008

// maxPayload is the largest payload of one packet: a packet this long is
// continued by the next one (the logical payload spans both).
const maxPayload = 0xffffff

var (
	errLenEnc    = errors.New("invalid length-encoded integer")
	errTruncated = errors.New("packet too short")
)

func le24(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// lenEnc reads a length-encoded integer. 0xfb (NULL in rows) and 0xff are
// not integers: the caller handles NULL before calling.
func lenEnc(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, errTruncated
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, nil
	case c == 0xfc:
		if len(b) < 3 {
			return 0, 0, errTruncated
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3, nil
	case c == 0xfd:
		if len(b) < 4 {
			return 0, 0, errTruncated
		}
		return uint64(le24(b[1:])), 4, nil
	case c == 0xfe:
		if len(b) < 9 {
			return 0, 0, errTruncated
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, nil
	}
	return 0, 0, errLenEnc
}

// lenEncSize is how many bytes the length-encoded integer at b[0] spans.
func lenEncSize(b []byte) int {
	switch b[0] {
	case 0xfc:
		return 3
	case 0xfd:
		return 4
	case 0xfe:
		return 9
	}
	return 1
}

// lenEncString reads a length-encoded string; it returns the bytes of the
// string that are present in b (a prefix when b was cut at maxInspect) and
// the total bytes the string spans on the wire.
func lenEncString(b []byte) (s []byte, n int, err error) {
	l, k, err := lenEnc(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(len(b)-k) {
		return b[k:], len(b), errTruncated
	}
	return b[k : k+int(l)], k + int(l), nil
}

// okPacket holds the fields of an OK packet (header 0x00, or 0xfe when it
// ends a result set under CLIENT_DEPRECATE_EOF).
type okPacket struct {
	affected, insertID uint64
	status             uint16
}

func parseOK(p []byte) (ok okPacket, err error) {
	off := 1
	var n int
	if ok.affected, n, err = lenEnc(p[off:]); err != nil {
		return ok, err
	}
	off += n
	if ok.insertID, n, err = lenEnc(p[off:]); err != nil {
		return ok, err
	}
	off += n
	if len(p) >= off+2 {
		ok.status = binary.LittleEndian.Uint16(p[off:])
	}
	return ok, nil
}

// isEOF reports whether a server packet is an EOF packet (0xfe, at most 5
// bytes: header, warnings, status) rather than a row or an OK-as-EOF.
func isEOF(p []byte, plen int) bool { return len(p) > 0 && p[0] == 0xfe && plen <= 5 }

// isTerminator reports whether a packet in the row section ends the result
// set: an EOF, or with CLIENT_DEPRECATE_EOF an OK packet with header 0xfe.
// A text row can only start with 0xfe when its first value is longer than
// 2^24 bytes, which makes the packet maxPayload long: that tells them apart.
func isTerminator(p []byte, plen int) bool { return len(p) > 0 && p[0] == 0xfe && plen < maxPayload }

// terminatorStatus returns the server status of an EOF or OK-as-EOF packet.
func terminatorStatus(p []byte, plen int) uint16 {
	if plen <= 5 {
		if len(p) >= 5 {
			return binary.LittleEndian.Uint16(p[3:])
		}
		return 0
	}
	ok, err := parseOK(p)
	if err != nil {
		return 0
	}
	return ok.status
}

// errPacket parses an ERR packet: 0xff, code, then with protocol 4.1 a '#'
// and a five-character SQL state before the message.
func errPacket(p []byte) (code uint16, state, msg []byte) {
	if len(p) < 3 {
		return 0, nil, nil
	}
	code = binary.LittleEndian.Uint16(p[1:])
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		return code, rest[1:6], rest[6:]
	}
	return code, nil, rest
}

// columnTable returns schema, table and column name of a column definition
// (protocol 4.1: catalog, schema, table alias, org_table, name alias, ...).
// The table is org_table, the real one, unless it is empty (a derived
// table), then the alias.
func columnTable(p []byte) (schema, table, name []byte, err error) {
	var n int
	off := 0
	for i := 0; i < 5; i++ {
		var s []byte
		s, n, err = lenEncString(p[off:])
		if err != nil {
			return
		}
		off += n
		switch i {
		case 1:
			schema = s
		case 2:
			table = s
		case 3:
			if len(s) > 0 {
				table = s
			}
		case 4:
			name = s
		}
	}
	return
}

// Binary protocol type codes of prepared-statement parameters.
const (
	typeDecimal    = 0x00
	typeTiny       = 0x01
	typeShort      = 0x02
	typeLong       = 0x03
	typeFloat      = 0x04
	typeDouble     = 0x05
	typeNull       = 0x06
	typeTimestamp  = 0x07
	typeLongLong   = 0x08
	typeInt24      = 0x09
	typeDate       = 0x0a
	typeTime       = 0x0b
	typeDateTime   = 0x0c
	typeYear       = 0x0d
	typeNewDate    = 0x0e
	typeVarchar    = 0x0f
	typeBit        = 0x10
	typeTimestamp2 = 0x11
	typeDateTime2  = 0x12
	typeTime2      = 0x13
	typeJSON       = 0xf5
	typeNewDecimal = 0xf6
	typeEnum       = 0xf7
	typeSet        = 0xf8
	typeTinyBlob   = 0xf9
	typeMediumBlob = 0xfa
	typeLongBlob   = 0xfb
	typeBlob       = 0xfc
	typeVarString  = 0xfd
	typeString     = 0xfe
	typeGeometry   = 0xff
)

// parseExecute renders the parameters of a COM_STMT_EXECUTE payload. types
// holds the (type, flags) pairs bound earlier; it is updated when the packet
// binds new ones. On malformed input it returns what it decoded so far.
func parseExecute(p []byte, numParams int, types []byte) (params []string, newTypes []byte, err error) {
	// cmd(1) stmt_id(4) flags(1) iteration_count(4)
	off := 10
	if numParams == 0 {
		return nil, types, nil
	}
	nullLen := (numParams + 7) / 8
	if len(p) < off+nullLen+1 {
		return nil, types, errTruncated
	}
	nulls := p[off : off+nullLen]
	off += nullLen
	bound := p[off]
	off++
	if bound == 1 {
		if len(p) < off+2*numParams {
			return nil, types, errTruncated
		}
		types = append(types[:0], p[off:off+2*numParams]...)
		off += 2 * numParams
	}
	if len(types) != 2*numParams {
		return nil, types, errors.New("parameter types unknown")
	}
	params = make([]string, 0, numParams)
	for i := 0; i < numParams; i++ {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			params = append(params, "NULL")
			continue
		}
		v, n, err := paramValue(p[off:], types[2*i], types[2*i+1]&0x80 != 0)
		if err != nil {
			return params, types, err
		}
		params = append(params, v)
		off += n
	}
	return params, types, nil
}

func paramValue(b []byte, typ byte, unsigned bool) (string, int, error) {
	fixed := func(n int) ([]byte, error) {
		if len(b) < n {
			return nil, errTruncated
		}
		return b[:n], nil
	}
	switch typ {
	case typeTiny:
		v, err := fixed(1)
		if err != nil {
			return "", 0, err
		}
		if unsigned {
			return strconv.FormatUint(uint64(v[0]), 10), 1, nil
		}
		return strconv.FormatInt(int64(int8(v[0])), 10), 1, nil
	case typeShort, typeYear:
		v, err := fixed(2)
		if err != nil {
			return "", 0, err
		}
		x := binary.LittleEndian.Uint16(v)
		if unsigned || typ == typeYear {
			return strconv.FormatUint(uint64(x), 10), 2, nil
		}
		return strconv.FormatInt(int64(int16(x)), 10), 2, nil
	case typeLong, typeInt24:
		v, err := fixed(4)
		if err != nil {
			return "", 0, err
		}
		x := binary.LittleEndian.Uint32(v)
		if unsigned {
			return strconv.FormatUint(uint64(x), 10), 4, nil
		}
		return strconv.FormatInt(int64(int32(x)), 10), 4, nil
	case typeLongLong:
		v, err := fixed(8)
		if err != nil {
			return "", 0, err
		}
		x := binary.LittleEndian.Uint64(v)
		if unsigned {
			return strconv.FormatUint(x, 10), 8, nil
		}
		return strconv.FormatInt(int64(x), 10), 8, nil
	case typeFloat:
		v, err := fixed(4)
		if err != nil {
			return "", 0, err
		}
		return strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(v))), 'g', -1, 32), 4, nil
	case typeDouble:
		v, err := fixed(8)
		if err != nil {
			return "", 0, err
		}
		return strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(v)), 'g', -1, 64), 8, nil
	case typeNull:
		return "NULL", 0, nil
	case typeDate, typeDateTime, typeTimestamp, typeNewDate, typeDateTime2, typeTimestamp2:
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return "", 0, errTruncated
		}
		return formatDateTime(b[1 : 1+int(b[0])]), 1 + int(b[0]), nil
	case typeTime, typeTime2:
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return "", 0, errTruncated
		}
		return formatTime(b[1 : 1+int(b[0])]), 1 + int(b[0]), nil
	case typeDecimal, typeNewDecimal, typeVarchar, typeBit, typeJSON, typeEnum, typeSet,
		typeTinyBlob, typeMediumBlob, typeLongBlob, typeBlob, typeVarString, typeString, typeGeometry:
		s, n, err := lenEncString(b)
		if err != nil {
			return "", 0, err
		}
		if len(s) > maxParamLength {
			s = s[:maxParamLength]
		}
		return string(s), n, nil
	}
	return "", 0, errors.New("unknown parameter type " + strconv.Itoa(int(typ)))
}

// formatDateTime renders a binary DATE/DATETIME/TIMESTAMP value (length 0,
// 4, 7 or 11) as "YYYY-MM-DD[ HH:MM:SS[.ffffff]]".
func formatDateTime(v []byte) string {
	if len(v) < 4 {
		return "0000-00-00 00:00:00"
	}
	t := time.Date(int(binary.LittleEndian.Uint16(v)), time.Month(v[2]), int(v[3]), 0, 0, 0, 0, time.UTC)
	if len(v) < 7 {
		return t.Format("2006-01-02")
	}
	t = t.Add(time.Duration(v[4])*time.Hour + time.Duration(v[5])*time.Minute + time.Duration(v[6])*time.Second)
	if len(v) >= 11 {
		t = t.Add(time.Duration(binary.LittleEndian.Uint32(v[7:])) * time.Microsecond)
		return t.Format("2006-01-02 15:04:05.000000")
	}
	return t.Format("2006-01-02 15:04:05")
}

// formatTime renders a binary TIME value: sign, days, h, m, s[, µs].
func formatTime(v []byte) string {
	if len(v) < 8 {
		return "00:00:00"
	}
	h := int(binary.LittleEndian.Uint32(v[1:]))*24 + int(v[5])
	s := strconv.Itoa(h) + ":" + two(v[6]) + ":" + two(v[7])
	if len(v) >= 12 {
		s += "." + strconv.Itoa(int(binary.LittleEndian.Uint32(v[8:])))
	}
	if v[0] == 1 {
		s = "-" + s
	}
	return s
}

func two(b byte) string {
	return string([]byte{'0' + b/10%10, '0' + b%10})
}
