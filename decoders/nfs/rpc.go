package nfs

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// ONC RPC (RFC 5531) constants.
const (
	msgCall  = 0
	msgReply = 1

	rpcVersion = 2
	nfsProgram = 100003

	authNone   = 0
	authUnix   = 1
	rpcsecGSS  = 6
	maxAuthLen = 400 // RFC 5531: opaque_auth bodies are at most 400 bytes

	lastFragment = 0x80000000
	sizeMask     = 0x7fffffff

	maxGids = 16 // AUTH_UNIX carries at most 16 supplementary groups
)

var (
	errShort   = errors.New("truncated RPC header")
	errNotRPC  = errors.New("not an ONC RPC message")
	errBadAuth = errors.New("malformed RPC credentials")
)

// xdr reads big-endian XDR items from a byte slice without copying. Reads
// past the end set err and return zeros, so a decoder checks once at the
// end instead of after every item.
type xdr struct {
	b   []byte
	off int
	err error
}

func (x *xdr) u32() uint32 {
	if x.err != nil || len(x.b)-x.off < 4 {
		x.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(x.b[x.off:])
	x.off += 4
	return v
}

// opaque returns a variable-length opaque's bytes (aliasing the input),
// or nil with err set when it is longer than max or than what is left.
func (x *xdr) opaque(max int) []byte {
	n := x.u32()
	if x.err != nil {
		return nil
	}
	if n > uint32(max) {
		x.err = errNotRPC
		return nil
	}
	padded := (int(n) + 3) &^ 3
	if len(x.b)-x.off < padded {
		x.err = errShort
		return nil
	}
	v := x.b[x.off : x.off+int(n)]
	x.off += padded
	return v
}

// skip advances n bytes (rounded up to 4).
func (x *xdr) skip(n int) {
	padded := (n + 3) &^ 3
	if x.err != nil || n < 0 || len(x.b)-x.off < padded {
		x.err = errShort
		return
	}
	x.off += padded
}

// header is what one RPC message's first bytes tell: enough to build or
// complete a transaction. Byte slices alias the parse buffer and are only
// valid until Parse returns: the transaction copies what it keeps.
type header struct {
	xid   uint32
	mtype uint32

	// Call.
	prog, vers, proc uint32
	flavor           uint32
	cred             unixCred
	hasCred          bool
	machine          []byte
	gssService       uint32 // RPCSEC_GSS: 1 none, 2 integrity, 3 privacy
	gssProc          uint32 // RPCSEC_GSS: 0 data, else context control
	args             []byte // procedure arguments (as far as decoded)

	// Reply.
	replyStat  uint32 // 0 accepted, 1 denied
	acceptStat uint32
	rejectStat uint32
	nfsStatus  uint32
	hasStatus  bool
}

type unixCred struct {
	stamp, uid, gid uint32
	gids            [maxGids]uint32
	ngids           uint8
}

// decodeHeader decodes the RPC header at the start of a message (b is
// the first fragment, or its first headLimit bytes). A reply's header
// fits in 28 bytes plus its verifier; a call's in the fixed part plus two
// opaque_auth: a short first fragment that cuts one is reported errShort.
func decodeHeader(b []byte, h *header) error {
	*h = header{}
	x := xdr{b: b}
	h.xid = x.u32()
	h.mtype = x.u32()
	if x.err != nil {
		return x.err
	}
	switch h.mtype {
	case msgCall:
		if x.u32() != rpcVersion && x.err == nil {
			return errNotRPC
		}
		h.prog, h.vers, h.proc = x.u32(), x.u32(), x.u32()
		h.flavor = x.u32()
		body := x.opaque(maxAuthLen)
		x.u32() // verifier flavor
		x.opaque(maxAuthLen)
		if x.err != nil {
			return x.err
		}
		switch h.flavor {
		case authUnix:
			h.hasCred = decodeUnixCred(body, h) == nil
		case rpcsecGSS:
			// rpc_gss_cred_vers_1_t: version, gss_proc, seq_num, service, handle.
			c := xdr{b: body}
			c.u32()
			h.gssProc = c.u32()
			c.u32()
			h.gssService = c.u32()
		}
		h.args = b[x.off:]
	case msgReply:
		h.replyStat = x.u32()
		switch h.replyStat {
		case 0: // MSG_ACCEPTED
			x.u32() // verifier
			x.opaque(maxAuthLen)
			h.acceptStat = x.u32()
			if x.err != nil {
				return x.err
			}
			if h.acceptStat == 0 {
				// Every NFS result (v3 procedures, v4 COMPOUND) starts
				// with its status; NULL has none (checked when paired).
				h.nfsStatus = x.u32()
				h.hasStatus = x.err == nil
			}
		case 1: // MSG_DENIED
			h.rejectStat = x.u32()
		default:
			return errNotRPC
		}
		if x.err != nil && !h.hasStatus && h.replyStat == 1 {
			return x.err
		}
	default:
		return errNotRPC
	}
	return nil
}

// decodeUnixCred decodes authsys_parms: stamp, machinename<255>, uid, gid,
// gids<16>.
func decodeUnixCred(body []byte, h *header) error {
	c := xdr{b: body}
	h.cred.stamp = c.u32()
	h.machine = c.opaque(255)
	h.cred.uid = c.u32()
	h.cred.gid = c.u32()
	n := c.u32()
	if c.err != nil || n > maxGids {
		return errBadAuth
	}
	for i := range n {
		h.cred.gids[i] = c.u32()
	}
	h.cred.ngids = uint8(n)
	if c.err != nil {
		return errBadAuth
	}
	return nil
}

// Framing states of one direction.
const (
	stMarker = iota // expecting a 4-byte record mark
	stHead          // expecting the decodable start of a first fragment
	stSkip          // counting the rest of a fragment
	stSync          // framing lost: looking for a plausible message start
)

// stream frames one direction of a connection into RPC messages: record
// marks, fragments, and the header of each message's first fragment. It
// keeps no payload: the engine holds unconsumed bytes, and the parser asks
// for at most headLimit+4 of them at a time.
type stream struct {
	// rs searches for the next record start in stSync (resyncProbe).
	rs       protocol.Resync
	state    int
	first    bool // the next fragment starts a message
	last     bool // the current fragment ends the message
	fragLeft int64
	size     int64 // message bytes so far, record marks excluded (Packetbeat's call_size/reply_size)
	start    time.Time
	ok       bool // hdr holds a decoded header for the current message
	skipMsg  bool // current message is not decodable (counted, framing kept)
	hdr      header
	cur      *Event // the call being received, published or queued at its end
}

func (s *stream) reset() {
	s.state, s.first, s.fragLeft, s.size, s.ok, s.skipMsg, s.cur = stMarker, true, 0, 0, false, false, nil
}

// resyncProbe is plausibleStart as a protocol.Probe for protocol.Resync:
// the record mark is checked as soon as its 4 bytes are there, so most
// offsets are refused at once. Calls and replies carry their xid, so
// pairing stays exact after a resynchronisation; a call whose reply was
// lost times out as NO_REPLY.
func resyncProbe(_ protocol.Dir, b []byte) protocol.ProbeResult {
	if len(b) >= 4 {
		mark := binary.BigEndian.Uint32(b)
		if n := mark & sizeMask; mark&lastFragment == 0 || n < 24 || n > 1<<26 {
			return protocol.ProbeNo
		}
	}
	if len(b) < 16 {
		return protocol.ProbeNeedMore
	}
	if plausibleStart(b) {
		return protocol.ProbeYes
	}
	return protocol.ProbeNo
}

// plausibleStart reports whether b starts like a record mark followed by
// an RPC call or reply: used to resynchronise after lost bytes.
func plausibleStart(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	mark := binary.BigEndian.Uint32(b)
	n := mark & sizeMask
	if mark&lastFragment == 0 || n < 24 || n > 1<<26 {
		return false
	}
	switch binary.BigEndian.Uint32(b[8:]) {
	case msgCall:
		return binary.BigEndian.Uint32(b[12:]) == rpcVersion
	case msgReply:
		return binary.BigEndian.Uint32(b[12:]) <= 1
	}
	return false
}
