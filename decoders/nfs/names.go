package nfs

import "strconv"

// v3Procs names the NFSv3 procedures (RFC 1813) as Packetbeat does,
// including its spellings SYM_LINK, MKNODE and PATHINFO (PATHCONF).
var v3Procs = [...]string{
	"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ", "WRITE",
	"CREATE", "MKDIR", "SYM_LINK", "MKNODE", "REMOVE", "RMDIR", "RENAME", "LINK",
	"READDIR", "READDIRPLUS", "FSSTAT", "FSINFO", "PATHINFO", "COMMIT",
}

func v3Opcode(proc uint32) string {
	if int(proc) < len(v3Procs) {
		return v3Procs[proc]
	}
	return "ILLEGAL"
}

// NFSv4 operation numbers (RFC 7530, 8881, 7862) used by the main-op scan.
const (
	opGetattr   = 9
	opGetfh     = 10
	opLookup    = 15
	opLookupp   = 16
	opNverify   = 17
	opPutfh     = 22
	opPutpubfh  = 23
	opPutrootfh = 24
	opRenew     = 30
	opRestorefh = 31
	opSavefh    = 32
	opSecinfo   = 33
	opVerify    = 37
	opSequence  = 53
	opIllegal   = 10044
)

// v4Ops names operations 3..71 (index = opcode - 3).
var v4Ops = [...]string{
	"ACCESS", "CLOSE", "COMMIT", "CREATE", "DELEGPURGE", "DELEGRETURN", "GETATTR", "GETFH",
	"LINK", "LOCK", "LOCKT", "LOCKU", "LOOKUP", "LOOKUPP", "NVERIFY", "OPEN", "OPENATTR",
	"OPEN_CONFIRM", "OPEN_DOWNGRADE", "PUTFH", "PUTPUBFH", "PUTROOTFH", "READ", "READDIR",
	"READLINK", "REMOVE", "RENAME", "RENEW", "RESTOREFH", "SAVEFH", "SECINFO", "SETATTR",
	"SETCLIENTID", "SETCLIENTID_CONFIRM", "VERIFY", "WRITE", "RELEASE_LOCKOWNER",
	"BACKCHANNEL_CTL", "BIND_CONN_TO_SESSION", "EXCHANGE_ID", "CREATE_SESSION",
	"DESTROY_SESSION", "FREE_STATEID", "GET_DIR_DELEGATION", "GETDEVICEINFO", "GETDEVICELIST",
	"LAYOUTCOMMIT", "LAYOUTGET", "LAYOUTRETURN", "SECINFO_NO_NAME", "SEQUENCE", "SET_SSV",
	"TEST_STATEID", "WANT_DELEGATION", "DESTROY_CLIENTID", "RECLAIM_COMPLETE", "ALLOCATE",
	"COPY", "COPY_NOTIFY", "DEALLOCATE", "IO_ADVISE", "LAYOUTERROR", "LAYOUTSTATS",
	"OFFLOAD_CANCEL", "OFFLOAD_STATUS", "READ_PLUS", "SEEK", "WRITE_SAME", "CLONE",
}

func v4OpName(op uint32) (string, bool) {
	if op >= 3 && int(op-3) < len(v4Ops) {
		return v4Ops[op-3], true
	}
	if op == opIllegal {
		return "ILLEGAL", true
	}
	return "", false
}

// mainOp finds the operation a COMPOUND is about, as Packetbeat does: the
// first "first class" operation (READ, WRITE, OPEN, READDIR, ...), the
// others being plumbing (PUTFH, GETATTR, SEQUENCE, ...) whose arguments
// are stepped over. With no first-class operation the last one seen wins;
// an unknown opcode, or arguments the scan cannot step over, ends it.
// args starts after the tag and minor version. complete is false when the
// scan ran out of decoded bytes (the name is then the last op seen).
func mainOp(x *xdr) (name string, complete bool) {
	name = "ILLEGAL"
	count := x.u32()
	if x.err != nil {
		return name, false
	}
	for range count {
		op := x.u32()
		if x.err != nil {
			return name, false
		}
		n, known := v4OpName(op)
		if !known {
			return "ILLEGAL", true
		}
		name = n
		switch op {
		case opGetattr:
			skipBitmap(x)
		case opGetfh, opLookupp, opPutpubfh, opPutrootfh, opRestorefh, opSavefh:
		case opLookup, opPutfh, opSecinfo:
			x.opaque(headLimit)
		case opNverify, opVerify:
			skipBitmap(x)
			x.opaque(headLimit)
		case opRenew:
			x.skip(8)
		case opSequence:
			x.skip(16 + 4*4) // sessionid, sequenceid, slotid, highest_slotid, cachethis
		case opIllegal:
			return name, true
		default:
			return name, true // first class: the main operation
		}
		if x.err != nil {
			return name, false
		}
	}
	return name, true
}

func skipBitmap(x *xdr) {
	n := x.u32()
	if n > 64 {
		x.err = errNotRPC
		return
	}
	x.skip(int(n) * 4)
}

// acceptStatus names accept_stat (RFC 5531) as Packetbeat's rpc.status.
var acceptStatus = [...]string{"success", "prog_unavail", "prog_mismatch", "proc_unavail", "garbage_args", "system_err"}

func acceptName(s uint32) string {
	if int(s) < len(acceptStatus) {
		return acceptStatus[s]
	}
	return "unknown (" + strconv.FormatUint(uint64(s), 10) + ")"
}

// Denied replies: Packetbeat drops them (its call then times out as
// NO_REPLY); we publish the call with the rejection as rpc.status.
func rejectName(s uint32) string {
	switch s {
	case 0:
		return "rpc_mismatch"
	case 1:
		return "auth_error"
	}
	return "denied"
}

func flavorName(f uint32) string {
	switch f {
	case authNone:
		return "none"
	case authUnix:
		return "unix"
	case rpcsecGSS:
		return "rpcsec_gss"
	}
	return "unknown (" + strconv.FormatUint(uint64(f), 10) + ")"
}

// statusName maps an NFS status (v3 nfsstat3 and v4 nfsstat4 share their
// numbers) to Packetbeat's names: NFS_OK, NFSERR_NOENT, ... Unknown values
// keep their number.
func statusName(s uint32) string {
	if n, ok := nfsStatus[s]; ok {
		return n
	}
	return "NFSERR_" + strconv.FormatUint(uint64(s), 10)
}

var nfsStatus = func() map[uint32]string {
	m := map[uint32]string{
		0: "NFS_OK", 1: "NFSERR_PERM", 2: "NFSERR_NOENT", 5: "NFSERR_IO", 6: "NFSERR_NXIO",
		13: "NFSERR_ACCESS", 17: "NFSERR_EXIST", 18: "NFSERR_XDEV", 19: "NFSERR_NODEV",
		20: "NFSERR_NOTDIR", 21: "NFSERR_ISDIR", 22: "NFSERR_INVAL", 27: "NFSERR_FBIG",
		28: "NFSERR_NOSPC", 30: "NFSERR_ROFS", 31: "NFSERR_MLINK", 63: "NFSERR_NAMETOOLONG",
		66: "NFSERR_NOTEMPTY", 69: "NFSERR_DQUOT", 70: "NFSERR_STALE", 71: "NFSERR_REMOTE",
		99: "NFSERR_WFLUSH",
	}
	// 10001.. in protocol order (RFC 1813 then RFC 7530/8881).
	high := []string{"BADHANDLE", "NOT_SYNC", "BAD_COOKIE", "NOTSUPP", "TOOSMALL", "SERVERFAULT",
		"BADTYPE", "DELAY", "SAME", "DENIED", "EXPIRED", "LOCKED", "GRACE", "FHEXPIRED",
		"SHARE_DENIED", "WRONGSEC", "CLID_INUSE", "RESOURCE", "MOVED", "NOFILEHANDLE",
		"MINOR_VERS_MISMATCH", "STALE_CLIENTID", "STALE_STATEID", "OLD_STATEID", "BAD_STATEID",
		"BAD_SEQID", "NOT_SAME", "LOCK_RANGE", "SYMLINK", "RESTOREFH", "LEASE_MOVED",
		"ATTRNOTSUPP", "NO_GRACE", "RECLAIM_BAD", "RECLAIM_CONFLICT", "BADXDR", "LOCKS_HELD",
		"OPENMODE", "BADOWNER", "BADCHAR", "BADNAME", "BAD_RANGE", "LOCK_NOTSUPP", "OP_ILLEGAL",
		"DEADLOCK", "FILE_OPEN", "ADMIN_REVOKED", "CB_PATH_DOWN", "BADIOMODE", "BADLAYOUT",
		"BAD_SESSION_DIGEST", "BADSESSION", "BADSLOT", "COMPLETE_ALREADY",
		"CONN_NOT_BOUND_TO_SESSION", "DELEG_ALREADY_WANTED", "BACK_CHAN_BUSY", "LAYOUTTRYLATER",
		"LAYOUTUNAVAILABLE", "NOMATCHING_LAYOUT", "RECALLCONFLICT", "UNKNOWN_LAYOUTTYPE",
		"SEQ_MISORDERED", "SEQUENCE_POS", "REQ_TOO_BIG", "REP_TOO_BIG", "REP_TOO_BIG_TO_CACHE",
		"RETRY_UNCACHED_REP", "UNSAFE_COMPOUND", "TOO_MANY_OPS", "OP_NOT_IN_SESSION",
		"HASH_ALG_UNSUPP", "CONN_BINDING_NOT_ENFORCED", "CLIENTID_BUSY", "PNFS_IO_HOLE",
		"SEQ_FALSE_RETRY", "BAD_HIGH_SLOT", "DEADSESSION", "ENCR_ALG_UNSUPP", "PNFS_NO_LAYOUT",
		"NOT_ONLY_OP", "WRONG_CRED", "WRONG_TYPE", "DIRDELEG_UNAVAIL", "REJECT_DELEG",
		"RETURNCONFLICT"}
	for i, n := range high {
		m[uint32(10001+i)] = "NFSERR_" + n
	}
	return m
}()
