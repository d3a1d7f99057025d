package dns

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// HeaderLen is the size of the fixed DNS header (RFC 1035 4.1.1).
const HeaderLen = 12

// Header flag bits.
const (
	flagQR = 0x8000
	flagAA = 0x0400
	flagTC = 0x0200
	flagRD = 0x0100
	flagRA = 0x0080
	flagAD = 0x0020
	flagCD = 0x0010
)

// Limits that bound the work one message can cause.
const (
	// maxNameWire is the longest uncompressed name on the wire (RFC 1035 2.3.4).
	maxNameWire = 255
	// maxPointers bounds compression pointer hops per name. A valid name has
	// at most 127 labels, so more hops than that means a loop.
	maxPointers = 127
	// maxRecords bounds the records parsed per message. A 64 KiB message
	// cannot legitimately hold more (each RR takes at least 11 bytes).
	maxRecords = 65535 / 11
)

// Errors returned by the parser. They are fixed values so garbage costs no
// allocation.
var (
	ErrShort       = errors.New("dns: message shorter than the 12-byte header")
	ErrTruncated   = errors.New("dns: message truncated")
	ErrNameLoop    = errors.New("dns: too many compression pointers (loop)")
	ErrNameTooLong = errors.New("dns: name longer than 255 bytes")
	ErrLabelType   = errors.New("dns: reserved label type")
	ErrPointer     = errors.New("dns: compression pointer beyond the message")
	ErrEmpty       = errors.New("dns: message has neither questions nor records")
	ErrTooMany     = errors.New("dns: more records than fit in a message")
)

// Header is the fixed part of a message.
type Header struct {
	ID                                 uint16
	Flags                              uint16
	QDCount, ANCount, NSCount, ARCount uint16
}

// ParseHeader reads the header at the start of msg.
func ParseHeader(msg []byte) (Header, error) {
	if len(msg) < HeaderLen {
		return Header{}, ErrShort
	}
	return Header{
		ID:      binary.BigEndian.Uint16(msg[0:]),
		Flags:   binary.BigEndian.Uint16(msg[2:]),
		QDCount: binary.BigEndian.Uint16(msg[4:]),
		ANCount: binary.BigEndian.Uint16(msg[6:]),
		NSCount: binary.BigEndian.Uint16(msg[8:]),
		ARCount: binary.BigEndian.Uint16(msg[10:]),
	}, nil
}

// Response reports the QR bit.
func (h Header) Response() bool { return h.Flags&flagQR != 0 }

// Opcode is the 4-bit operation code.
func (h Header) Opcode() uint8 { return uint8(h.Flags>>11) & 0xF }

// Rcode is the 4-bit response code of the header (EDNS may extend it).
func (h Header) Rcode() uint8 { return uint8(h.Flags & 0xF) }

// Flag accessors.
func (h Header) AA() bool { return h.Flags&flagAA != 0 }
func (h Header) TC() bool { return h.Flags&flagTC != 0 }
func (h Header) RD() bool { return h.Flags&flagRD != 0 }
func (h Header) RA() bool { return h.Flags&flagRA != 0 }
func (h Header) AD() bool { return h.Flags&flagAD != 0 }
func (h Header) CD() bool { return h.Flags&flagCD != 0 }

// Check walks a whole message without decoding it: every name (following
// compression pointers, bounded), every record header and record length
// must fit. It allocates nothing, so the per-packet path can tell DNS from
// garbage before it spends anything on the message. A message that passes
// Check always parses with Parse.
func Check(msg []byte) (Header, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return h, err
	}
	off := HeaderLen
	for i := 0; i < int(h.QDCount); i++ {
		if off, err = skipName(msg, off); err != nil {
			return h, err
		}
		if off+4 > len(msg) {
			return h, ErrTruncated
		}
		off += 4
	}
	n := int(h.ANCount) + int(h.NSCount) + int(h.ARCount)
	if n > maxRecords {
		return h, ErrTooMany
	}
	for i := 0; i < n; i++ {
		if off, err = skipName(msg, off); err != nil {
			return h, err
		}
		if off+10 > len(msg) {
			return h, ErrTruncated
		}
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10 + rdlen
		if off > len(msg) {
			return h, ErrTruncated
		}
	}
	if h.QDCount == 0 && n == 0 {
		return h, ErrEmpty
	}
	return h, nil
}

// skipName validates the name at off and returns the offset after it in
// place (after the first pointer if compressed).
func skipName(msg []byte, off int) (int, error) {
	next, hops, wire := -1, 0, 0
	for {
		if off >= len(msg) {
			return 0, ErrTruncated
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				return next, nil
			}
			wire += c + 1
			if wire >= maxNameWire {
				return 0, ErrNameTooLong
			}
			off += 1 + c
			if off > len(msg) {
				return 0, ErrTruncated
			}
		case 0xC0:
			if off+2 > len(msg) {
				return 0, ErrTruncated
			}
			if next < 0 {
				next = off + 2
			}
			if hops++; hops > maxPointers {
				return 0, ErrNameLoop
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3FFF)
			if off >= len(msg) {
				return 0, ErrPointer
			}
		default:
			return 0, ErrLabelType
		}
	}
}

// appendName appends the presentation form of the name at off to dst (with
// the trailing dot; the root is "."), escaping label bytes as the usual
// zone-file tools do, and returns the offset after the name in place.
func appendName(dst, msg []byte, off int) ([]byte, int, error) {
	next, hops, wire := -1, 0, 0
	start := len(dst)
	for {
		if off >= len(msg) {
			return dst, 0, ErrTruncated
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(dst) == start {
					dst = append(dst, '.')
				}
				return dst, next, nil
			}
			wire += c + 1
			if wire >= maxNameWire {
				return dst, 0, ErrNameTooLong
			}
			if off+1+c > len(msg) {
				return dst, 0, ErrTruncated
			}
			dst = appendLabel(dst, msg[off+1:off+1+c])
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return dst, 0, ErrTruncated
			}
			if next < 0 {
				next = off + 2
			}
			if hops++; hops > maxPointers {
				return dst, 0, ErrNameLoop
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3FFF)
			if off >= len(msg) {
				return dst, 0, ErrPointer
			}
		default:
			return dst, 0, ErrLabelType
		}
	}
}

func appendLabel(dst, label []byte) []byte {
	for _, b := range label {
		switch {
		case b == '.' || b == ' ' || b == '\'' || b == '@' || b == ';' ||
			b == '(' || b == ')' || b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b < ' ' || b > '~':
			dst = appendDDD(dst, b)
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, '.')
}

func appendDDD(dst []byte, b byte) []byte {
	return append(dst, '\\', '0'+b/100, '0'+b/10%10, '0'+b%10)
}

// Question is one entry of the question section.
type Question struct {
	Name        string // presentation form without the trailing dot ("." for the root)
	Type, Class uint16
}

// Field is one type-specific member of a record (MX preference, SOA
// serial, RRSIG signer, ...). Numbers stay numbers in the JSON document.
type Field struct {
	Key   string
	Str   string
	Num   uint64
	IsNum bool
}

// RR is one resource record, rendered as Packetbeat renders it.
type RR struct {
	Name        string // without the trailing dot
	Type, Class uint16
	TTL         uint32
	Data        string
	Fields      []Field
	// IP is the address of A and AAAA records (for dns.resolved_ip).
	IP netip.Addr
}

// OPT is the EDNS pseudo-record (RFC 6891).
type OPT struct {
	UDPSize  uint16
	ExtRcode uint8 // upper 8 bits of the extended response code
	Version  uint8
	DO       bool
	// Options are the known EDNS options as text (cookie, nsid, subnet, ...).
	Options []Field
}

// Message is a decoded DNS message.
type Message struct {
	Header
	Questions   []Question
	Answers     []RR
	Authorities []RR
	Additionals []RR // without the OPT record
	// AdditionalsCount is the additional section's size less the OPT record,
	// as Packetbeat counts it.
	AdditionalsCount int
	OPT              *OPT
	Len              int // message length in bytes

	// Inline storage for the common case (one question, one OPT), so a
	// message costs fewer allocations.
	q1  [1]Question
	opt OPT
}

// maxNameText bounds the presentation form of a name: 255 wire bytes, each
// escaped as \DDD at worst.
const maxNameText = 4 * maxNameWire

// Parse decodes msg completely. It allocates the strings of the result; the
// transaction layer calls it once per published event, never per packet.
func Parse(msg []byte) (*Message, error) { return parse(msg, false) }

// parseSummary decodes what a query contributes to a paired event: header,
// questions and EDNS. Its records are skipped.
func parseSummary(msg []byte) (*Message, error) { return parse(msg, true) }

func parse(msg []byte, summary bool) (*Message, error) {
	m := new(Message)
	if err := parseInto(m, msg, summary, ""); err != nil {
		return nil, err
	}
	return m, nil
}

// parseInto decodes msg into *m (the event embeds its messages, which saves
// their allocations). last is a name string the message probably repeats
// (the query's question, for its response): equal names reuse it.
func parseInto(m *Message, msg []byte, summary bool, last string) error {
	h, err := Check(msg)
	if err != nil {
		return err
	}
	*m = Message{Header: h, Len: len(msg)}
	var buf [maxNameText]byte
	name := buf[:0]
	// last is the previous owner name: records usually repeat the question
	// name (compression makes that cheap on the wire), so reuse its string.
	off := HeaderLen
	switch {
	case h.QDCount == 1:
		m.Questions = m.q1[:0]
	case h.QDCount > 1:
		m.Questions = make([]Question, 0, h.QDCount)
	}
	for i := 0; i < int(h.QDCount); i++ {
		name, off, err = appendName(name[:0], msg, off)
		if err != nil {
			return err
		}
		m.Questions = append(m.Questions, Question{
			Name:  nameString(name, &last),
			Type:  binary.BigEndian.Uint16(msg[off:]),
			Class: binary.BigEndian.Uint16(msg[off+2:]),
		})
		off += 4
	}
	counts := [3]int{int(h.ANCount), int(h.NSCount), int(h.ARCount)}
	var all []RR // one backing array for the three sections
	if n := counts[0] + counts[1] + counts[2]; n > 0 && !summary {
		all = make([]RR, 0, n)
	}
	for s, n := range counts {
		first := len(all)
		for i := 0; i < n; i++ {
			name, off, err = appendName(name[:0], msg, off)
			if err != nil {
				return err
			}
			typ := binary.BigEndian.Uint16(msg[off:])
			class := binary.BigEndian.Uint16(msg[off+2:])
			ttl := binary.BigEndian.Uint32(msg[off+4:])
			rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
			rdStart := off + 10
			off = rdStart + rdlen
			if typ == TypeOPT && s == 2 {
				if m.OPT == nil {
					m.OPT = &m.opt
					rd := msg[rdStart:off]
					if summary {
						rd = nil // presence and flags are enough
					}
					parseOPT(m.OPT, class, ttl, rd)
				}
				continue
			}
			if summary {
				continue
			}
			rr := RR{Name: nameString(name, &last), Type: typ, Class: class, TTL: ttl}
			parseRData(&rr, msg, rdStart, off)
			all = append(all, rr)
		}
		if len(all) == first {
			continue
		}
		sec := all[first:len(all):len(all)]
		switch s {
		case 0:
			m.Answers = sec
		case 1:
			m.Authorities = sec
		case 2:
			m.Additionals = sec
		}
	}
	m.AdditionalsCount = int(h.ARCount)
	if m.OPT != nil {
		m.AdditionalsCount--
	}
	return nil
}

// nameString returns the name without its trailing dot as a string,
// reusing *last when equal.
func nameString(name []byte, last *string) string {
	if len(name) > 1 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if string(name) != *last {
		*last = string(name)
	}
	return *last
}

// trimDot drops the trailing dot of a presentation name, except for the root.
func trimDot(s string) string {
	if len(s) > 1 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// Rcode returns the full response code, EDNS extension included.
func (m *Message) Rcode() int {
	rc := int(m.Header.Rcode())
	if m.OPT != nil {
		rc |= int(m.OPT.ExtRcode) << 4
	}
	return rc
}

func parseOPT(o *OPT, class uint16, ttl uint32, rd []byte) {
	*o = OPT{
		UDPSize:  class,
		ExtRcode: uint8(ttl >> 24),
		Version:  uint8(ttl >> 16),
		DO:       ttl&0x8000 != 0,
	}
	for len(rd) >= 4 {
		code := binary.BigEndian.Uint16(rd)
		n := int(binary.BigEndian.Uint16(rd[2:]))
		if 4+n > len(rd) {
			break
		}
		data := rd[4 : 4+n]
		rd = rd[4+n:]
		key, val := ednsOption(code, data)
		if key != "" {
			o.setOption(key, val)
		}
	}
}

// setOption keeps one value per key (the last, as a map would), so the
// document never repeats a key.
func (o *OPT) setOption(key, val string) {
	for i := range o.Options {
		if o.Options[i].Key == key {
			o.Options[i].Str = val
			return
		}
	}
	o.Options = append(o.Options, Field{Key: key, Str: val})
}

// ednsOption renders the options Packetbeat reports, under its keys.
// Padding, TCP keepalive and extended errors are not reported; options
// with unassigned codes go under "local" as code:0xhex.
func ednsOption(code uint16, d []byte) (key, val string) {
	switch code {
	case 1: // LLQ: version opcode error id lease
		if len(d) != 18 {
			return "", ""
		}
		return "llq", strconv.Itoa(int(binary.BigEndian.Uint16(d))) + " " +
			strconv.Itoa(int(binary.BigEndian.Uint16(d[2:]))) + " " +
			strconv.Itoa(int(binary.BigEndian.Uint16(d[4:]))) + " " +
			strconv.FormatUint(binary.BigEndian.Uint64(d[6:]), 10) + " " +
			strconv.FormatUint(uint64(binary.BigEndian.Uint32(d[14:])), 10)
	case 2: // update lease
		if len(d) < 4 {
			return "", ""
		}
		return "ul", strconv.FormatUint(uint64(binary.BigEndian.Uint32(d)), 10)
	case 3:
		return "nsid", hex.EncodeToString(d)
	case 5, 6, 7: // DAU, DHU, N3U: algorithm lists
		key, names := "dau", algorithmNames
		if code == 6 {
			key, names = "dhu", hashNames
		} else if code == 7 {
			key, names = "n3u", hashNames
		}
		var b strings.Builder
		for i, a := range d {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(nameOr(names, a))
		}
		return key, b.String()
	case 8: // client subnet: address/source/scope
		if len(d) < 4 {
			return "", ""
		}
		family := binary.BigEndian.Uint16(d)
		src, scope := d[2], d[3]
		addr := d[4:]
		var s string
		switch family {
		case 1:
			var a [4]byte
			copy(a[:], addr)
			s = netip.AddrFrom4(a).String()
		case 2:
			var a [16]byte
			copy(a[:], addr)
			s = "[" + netip.AddrFrom16(a).String() + "]"
		default:
			s = "<nil>"
		}
		return "subnet", s + "/" + strconv.Itoa(int(src)) + "/" + strconv.Itoa(int(scope))
	case 9: // EXPIRE: Packetbeat files it under "local"
		if len(d) < 4 {
			return "local", ""
		}
		return "local", strconv.FormatUint(uint64(binary.BigEndian.Uint32(d)), 10)
	case 10:
		return "cookie", hex.EncodeToString(d)
	case 11, 12, 15: // TCP keepalive, padding, extended error
		return "", ""
	}
	return "local", strconv.Itoa(int(code)) + ":0x" + hex.EncodeToString(d)
}

// parseRData renders rdata msg[start:end] into rr. Types Packetbeat decodes
// get their fields; any other type, or a record whose rdata does not decode,
// gets its raw bytes as escaped text, which is what Packetbeat shows for
// them (CAA, HTTPS, SVCB, ...).
func parseRData(rr *RR, msg []byte, start, end int) {
	rd := msg[start:end]
	ok := true
	switch rr.Type {
	case TypeA:
		if ok = len(rd) == 4; ok {
			rr.IP = netip.AddrFrom4([4]byte(rd))
			rr.Data = rr.IP.String()
		}
	case TypeAAAA:
		if ok = len(rd) == 16; ok {
			rr.IP = netip.AddrFrom16([16]byte(rd))
			rr.Data = rr.IP.String()
		}
	case TypeCNAME, TypeNS, TypePTR:
		rr.Data, ok = rdName(msg, start, end, true)
	case TypeMX:
		if ok = len(rd) > 2; ok {
			rr.Fields = []Field{{Key: "preference", Num: uint64(binary.BigEndian.Uint16(rd)), IsNum: true}}
			rr.Data, ok = rdName(msg, start+2, end, true)
		}
	case TypeSOA:
		var mname, rname [256]byte
		m, off, err := appendName(mname[:0], msg, start)
		if ok = err == nil && off < end; !ok {
			break
		}
		r, off, err := appendName(rname[:0], msg, off)
		if ok = err == nil && off+20 == end; !ok {
			break
		}
		rr.Fields = make([]Field, 0, 6)
		rr.Fields = append(rr.Fields, Field{Key: "rname", Str: trimDot(string(r))})
		for i, k := range [...]string{"serial", "refresh", "retry", "expire", "minimum"} {
			v := binary.BigEndian.Uint32(msg[off+4*i:])
			rr.Fields = append(rr.Fields, Field{Key: k, Num: uint64(v), IsNum: true})
		}
		rr.Data = trimDot(string(m))
	case TypeSRV:
		if ok = len(rd) > 6; ok {
			rr.Fields = []Field{
				{Key: "priority", Num: uint64(binary.BigEndian.Uint16(rd)), IsNum: true},
				{Key: "weight", Num: uint64(binary.BigEndian.Uint16(rd[2:])), IsNum: true},
				{Key: "port", Num: uint64(binary.BigEndian.Uint16(rd[4:])), IsNum: true},
			}
			rr.Data, ok = rdName(msg, start+6, end, true)
		}
	case TypeTXT:
		rr.Data, ok = txtData(rd)
	case TypeDS:
		if ok = len(rd) >= 4; ok {
			rr.Fields = []Field{
				{Key: "key_tag", Str: strconv.Itoa(int(binary.BigEndian.Uint16(rd)))},
				{Key: "algorithm", Str: nameOr(algorithmNames, rd[2])},
				{Key: "digest_type", Str: nameOr(hashNames, rd[3])},
			}
			rr.Data = strings.ToUpper(hex.EncodeToString(rd[4:]))
		}
	case TypeDNSKEY:
		if ok = len(rd) >= 4; ok {
			rr.Fields = []Field{
				{Key: "flags", Str: strconv.Itoa(int(binary.BigEndian.Uint16(rd)))},
				{Key: "protocol", Str: strconv.Itoa(int(rd[2]))},
				{Key: "algorithm", Str: nameOr(algorithmNames, rd[3])},
			}
			rr.Data = base64.StdEncoding.EncodeToString(rd[4:])
		}
	case TypeRRSIG:
		if ok = len(rd) > 18; !ok {
			break
		}
		signer, off, err := appendName(nil, msg, start+18)
		if ok = err == nil && off <= end; !ok {
			break
		}
		rr.Fields = []Field{
			{Key: "type_covered", Str: TypeString(binary.BigEndian.Uint16(rd))},
			{Key: "algorithm", Str: nameOr(algorithmNames, rd[2])},
			{Key: "labels", Str: strconv.Itoa(int(rd[3]))},
			{Key: "original_ttl", Str: strconv.FormatUint(uint64(binary.BigEndian.Uint32(rd[4:])), 10)},
			{Key: "expiration", Str: sigTime(binary.BigEndian.Uint32(rd[8:]))},
			{Key: "inception", Str: sigTime(binary.BigEndian.Uint32(rd[12:]))},
			{Key: "key_tag", Str: strconv.Itoa(int(binary.BigEndian.Uint16(rd[16:])))},
			{Key: "signer_name", Str: trimDot(string(signer))},
		}
		rr.Data = base64.StdEncoding.EncodeToString(msg[off:end])
	case TypeNSEC:
		next, off, err := appendName(nil, msg, start)
		if ok = err == nil && off <= end; !ok {
			break
		}
		var bits string
		if bits, ok = typeBitmap(msg[off:end]); ok {
			rr.Fields = []Field{{Key: "type_bits", Str: bits}}
			rr.Data = string(next) // Packetbeat keeps the trailing dot here
		}
	case TypeNSEC3, TypeNSEC3PARAM:
		if ok = len(rd) >= 5; !ok {
			break
		}
		saltEnd := 5 + int(rd[4])
		if ok = saltEnd <= len(rd); !ok {
			break
		}
		rr.Fields = []Field{
			{Key: "hash", Str: nameOr(hashNames, rd[0])},
			{Key: "flags", Str: strconv.Itoa(int(rd[1]))},
			{Key: "iterations", Str: strconv.Itoa(int(binary.BigEndian.Uint16(rd[2:])))},
		}
		salt := "-"
		if saltEnd > 5 {
			salt = strings.ToUpper(hex.EncodeToString(rd[5:saltEnd]))
		}
		if rr.Type == TypeNSEC3PARAM {
			rr.Data = salt
			break
		}
		if ok = saltEnd < len(rd) && saltEnd+1+int(rd[saltEnd]) <= len(rd); !ok {
			break
		}
		hashEnd := saltEnd + 1 + int(rd[saltEnd])
		var bits string
		if bits, ok = typeBitmap(rd[hashEnd:]); ok {
			rr.Fields = append(rr.Fields, Field{Key: "salt", Str: salt}, Field{Key: "type_bits", Str: bits})
			rr.Data = base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(rd[saltEnd+1 : hashEnd])
		}
	default:
		ok = false
	}
	if !ok {
		rr.Fields = nil
		rr.IP = netip.Addr{}
		rr.Data = rawText(rd)
	}
}

// rdName decodes a name inside rdata that must end exactly at end.
func rdName(msg []byte, start, end int, trim bool) (string, bool) {
	var buf [256]byte
	name, off, err := appendName(buf[:0], msg, start)
	if err != nil || off != end {
		return "", false
	}
	if trim {
		return trimDot(string(name)), true
	}
	return string(name), true
}

// txtData joins the character-strings of a TXT record with spaces,
// escaping quotes, backslashes and unprintable bytes.
func txtData(rd []byte) (string, bool) {
	var b []byte
	for i := 0; len(rd) > 0; i++ {
		n := int(rd[0])
		if 1+n > len(rd) {
			return "", false
		}
		if i > 0 {
			b = append(b, ' ')
		}
		for _, c := range rd[1 : 1+n] {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ' || c > '~':
				b = appendDDD(b, c)
			default:
				b = append(b, c)
			}
		}
		rd = rd[1+n:]
	}
	return string(b), true
}

// rawText shows rdata Packetbeat does not decode: printable bytes as they
// are, quotes and backslashes escaped, tab/CR/LF as \t \r \n, the rest \DDD.
func rawText(rd []byte) string {
	b := make([]byte, 0, len(rd)+8)
	for _, c := range rd {
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			if c < 32 || c >= 127 {
				b = appendDDD(b, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return string(b)
}

// typeBitmap lists the types of an NSEC/NSEC3 window bitmap, space separated.
func typeBitmap(b []byte) (string, bool) {
	var out []byte
	for len(b) > 0 {
		if len(b) < 2 {
			return "", false
		}
		window, n := int(b[0]), int(b[1])
		if n == 0 || n > 32 || 2+n > len(b) {
			return "", false
		}
		for i, octet := range b[2 : 2+n] {
			for bit := 0; bit < 8; bit++ {
				if octet&(0x80>>bit) != 0 {
					if len(out) > 0 {
						out = append(out, ' ')
					}
					out = append(out, TypeString(uint16(window<<8|i*8+bit))...)
				}
			}
		}
		b = b[2+n:]
	}
	return string(out), true
}

// sigTime renders an RRSIG time as YYYYMMDDHHmmSS (UTC).
func sigTime(t uint32) string {
	return time.Unix(int64(t), 0).UTC().Format("20060102150405")
}
