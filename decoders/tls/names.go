package tls

import "strconv"

// Names of TLS registry values as Packetbeat writes them: the IANA/RFC 8446
// identifiers, "(unknown:0x....)" for codes without one.

// isGrease reports the RFC 8701 reserved values (0x?A?A with equal bytes),
// which clients sprinkle in lists to keep servers tolerant. JA3 and the
// lists Packetbeat writes leave them out.
func isGrease(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

func unknown16(v uint16) string {
	const hex = "0123456789abcdef"
	b := []byte("(unknown:0x0000)")
	b[11], b[12], b[13], b[14] = hex[v>>12], hex[v>>8&0xf], hex[v>>4&0xf], hex[v&0xf]
	return string(b)
}

func unknown8(v uint8) string { return "(unknown:" + strconv.Itoa(int(v)) + ")" }

func cipherName(v uint16) string {
	if n, ok := cipherNames[v]; ok {
		return n
	}
	return unknown16(v)
}

// signatureSchemes: RFC 8446 section 4.2.3 and RFC 8734 (brainpool).
var signatureSchemes = map[uint16]string{
	0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1",
	0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
	0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
	0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519", 0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256", 0x080a: "rsa_pss_pss_sha384", 0x080b: "rsa_pss_pss_sha512",
	0x081a: "ecdsa_brainpoolP256r1tls13_sha256", 0x081b: "ecdsa_brainpoolP384r1tls13_sha384",
	0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
}

func signatureName(v uint16) string {
	if n, ok := signatureSchemes[v]; ok {
		return n
	}
	return unknown16(v)
}

// groupNames: the IANA Supported Groups registry (RFC 8422, 7919, 8446) and
// the hybrid post-quantum groups current clients offer.
var groupNames = map[uint16]string{
	1: "sect163k1", 2: "sect163r1", 3: "sect163r2", 4: "sect193r1", 5: "sect193r2",
	6: "sect233k1", 7: "sect233r1", 8: "sect239k1", 9: "sect283k1", 10: "sect283r1",
	11: "sect409k1", 12: "sect409r1", 13: "sect571k1", 14: "sect571r1", 15: "secp160k1",
	16: "secp160r1", 17: "secp160r2", 18: "secp192k1", 19: "secp192r1", 20: "secp224k1",
	21: "secp224r1", 22: "secp256k1", 23: "secp256r1", 24: "secp384r1", 25: "secp521r1",
	26: "brainpoolP256r1", 27: "brainpoolP384r1", 28: "brainpoolP512r1",
	29: "x25519", 30: "x448",
	31: "brainpoolP256r1tls13", 32: "brainpoolP384r1tls13", 33: "brainpoolP512r1tls13",
	34: "GC256A", 35: "GC256B", 36: "GC256C", 37: "GC256D", 38: "GC512A", 39: "GC512B", 40: "GC512C",
	41:     "curveSM2",
	0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096", 0x0103: "ffdhe6144", 0x0104: "ffdhe8192",
	0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
	0x11eb: "SecP256r1MLKEM768", 0x11ec: "X25519MLKEM768", 0x11ed: "SecP384r1MLKEM1024",
	0x6399: "X25519Kyber768Draft00",
	0xff01: "arbitrary_explicit_prime_curves", 0xff02: "arbitrary_explicit_char2_curves",
}

func groupName(v uint16) string {
	if n, ok := groupNames[v]; ok {
		return n
	}
	return unknown16(v)
}

func pointFormatName(v uint8) string {
	switch v {
	case 0:
		return "uncompressed"
	case 1:
		return "ansiX962_compressed_prime"
	case 2:
		return "ansiX962_compressed_char2"
	}
	return unknown8(v)
}

func compressionName(v uint8) string {
	switch v {
	case 0:
		return "NULL"
	case 1:
		return "DEFLATE"
	case 64:
		return "LZS"
	}
	return unknown8(v)
}

// alertNames: RFC 8446 section 6 plus the TLS 1.0-1.2 ones it retired.
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
	40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
	46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error",
	60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
	121: "ech_required",
}

func alertName(v uint8) string {
	if n, ok := alertNames[v]; ok {
		return n
	}
	return unknown8(v)
}

// version is a wire protocol version (major.minor: 3.1 is TLS 1.0).
type version uint16

// String is Packetbeat's tls.detailed.version form: "TLS 1.2", "SSL 3.0".
func (v version) String() string {
	major, minor := uint8(v>>8), uint8(v)
	if major == 3 {
		if minor == 0 {
			return "SSL 3.0"
		}
		return "TLS 1." + strconv.Itoa(int(minor)-1)
	}
	return "(raw " + strconv.Itoa(int(major)) + "." + strconv.Itoa(int(minor)) + ")"
}

// raw is the "3.3" form of the hello messages' version fields.
func (v version) raw() string {
	return strconv.Itoa(int(v>>8)) + "." + strconv.Itoa(int(v&0xff))
}

// protocol splits v into ECS tls.version_protocol and tls.version.
func (v version) protocol() (string, string) {
	major, minor := uint8(v>>8), uint8(v)
	if major == 3 {
		if minor == 0 {
			return "ssl", "3.0"
		}
		return "tls", "1." + strconv.Itoa(int(minor)-1)
	}
	return "unknown", v.raw()
}

// extension codes the decoder looks into.
const (
	extServerName       = 0
	extMaxFragment      = 1
	extStatusRequest    = 5
	extCertType         = 9
	extSupportedGroups  = 10
	extPointFormats     = 11
	extSRP              = 12
	extSignatureAlgs    = 13
	extALPN             = 16
	extSessionTicket    = 35
	extPreSharedKey     = 41
	extSupportedVersion = 43
	extKeyShare         = 51
	extRenegotiation    = 0xff01
)

// extensionLabels are the keys of tls.detailed.*_hello.extensions;
// extensions not listed are reported by number in _unparsed_.
var extensionLabels = map[uint16]string{
	0: "server_name_indication", 1: "max_fragment_length", 2: "client_certificate_url",
	3: "trusted_ca_keys", 4: "truncated_hmac", 5: "status_request", 6: "user_mapping",
	7: "client_authz", 8: "server_authz", 9: "cert_type", 10: "supported_groups",
	11: "ec_points_formats", 12: "srp", 13: "signature_algorithms",
	16: "application_layer_protocol_negotiation", 35: "session_ticket",
	43: "supported_versions", 51: "key_share", 0xff01: "renegotiation_info",
	// Not a Packetbeat label (it never sees QUIC): the RFC 9001 name.
	57: "quic_transport_parameters",
}

func extensionLabel(code uint16) string {
	if l, ok := extensionLabels[code]; ok {
		return l
	}
	return strconv.Itoa(int(code))
}
