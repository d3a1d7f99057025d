package dns

import "strconv"

// Record types the parser decodes specially.
const (
	TypeA          uint16 = 1
	TypeNS         uint16 = 2
	TypeCNAME      uint16 = 5
	TypeSOA        uint16 = 6
	TypePTR        uint16 = 12
	TypeMX         uint16 = 15
	TypeTXT        uint16 = 16
	TypeAAAA       uint16 = 28
	TypeSRV        uint16 = 33
	TypeOPT        uint16 = 41
	TypeDS         uint16 = 43
	TypeRRSIG      uint16 = 46
	TypeNSEC       uint16 = 47
	TypeDNSKEY     uint16 = 48
	TypeNSEC3      uint16 = 50
	TypeNSEC3PARAM uint16 = 51
	TypeSVCB       uint16 = 64
	TypeHTTPS      uint16 = 65
	TypeCAA        uint16 = 257
)

// typeNames are the IANA mnemonics (the set zone-file tools know).
var typeNames = map[uint16]string{
	0: "None", 1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB",
	8: "MG", 9: "MR", 10: "NULL", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX",
	16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 23: "NSAPPTR",
	24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT",
	31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT",
	39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
	46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM",
	52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK",
	59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
	64: "SVCB", 65: "HTTPS", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID",
	103: "UNSPEC", 104: "NID", 105: "L32", 106: "L64", 107: "LP", 108: "EUI48",
	109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB",
	254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA", 258: "AVC", 259: "AMTRELAY",
	32768: "TA", 32769: "DLV", 65535: "Reserved",
}

var classNames = map[uint16]string{1: "IN", 2: "CS", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}

var rcodeNames = map[int]string{
	0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
	6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
	16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 19: "BADMODE", 20: "BADNAME",
	21: "BADALG", 22: "BADTRUNC", 23: "BADCOOKIE",
}

var opcodeNames = map[uint8]string{0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}

var algorithmNames = map[uint8]string{
	1: "RSAMD5", 2: "DH", 3: "DSA", 5: "RSASHA1", 6: "DSA-NSEC3-SHA1",
	7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256", 10: "RSASHA512", 12: "ECC-GOST",
	13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448",
	252: "INDIRECT", 253: "PRIVATEDNS", 254: "PRIVATEOID",
}

var hashNames = map[uint8]string{1: "SHA1", 2: "SHA256", 3: "GOST94", 4: "SHA384", 5: "SHA512"}

// TypeString names a record type, or gives its number.
func TypeString(t uint16) string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return strconv.Itoa(int(t))
}

// ClassString names a class, or gives its number.
func ClassString(c uint16) string {
	if s, ok := classNames[c]; ok {
		return s
	}
	return strconv.Itoa(int(c))
}

// RcodeString names a response code; unknown ones read "Unknown N" as in
// Packetbeat.
func RcodeString(rc int) string {
	if s, ok := rcodeNames[rc]; ok {
		return s
	}
	return "Unknown " + strconv.Itoa(rc)
}

// OpcodeString names an opcode, or gives its number.
func OpcodeString(op uint8) string {
	if s, ok := opcodeNames[op]; ok {
		return s
	}
	return strconv.Itoa(int(op))
}

func nameOr(names map[uint8]string, v uint8) string {
	if s, ok := names[v]; ok {
		return s
	}
	return strconv.Itoa(int(v))
}
