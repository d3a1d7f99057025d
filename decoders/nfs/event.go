package nfs

import (
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Event is one NFS transaction: a call and its reply, or a call alone
// (status NO_REPLY). Replies without a call are not published, as in
// Packetbeat.
type Event struct {
	Base ecsmap.Base

	XID     uint32
	Version uint32
	Opcode  string // v3 procedure, or a COMPOUND's main operation

	// HasCompound: Tag and MinorVersion come from a v4 COMPOUND.
	HasCompound  bool
	Tag          string
	MinorVersion uint32

	Flavor  uint32 // RPC auth flavor of the call
	HasCred bool   // AUTH_UNIX credentials decoded
	Cred    unixCred
	Machine string

	// Set by the reply.
	Replied   bool
	RPCStatus string // accept status name, or the rejection
	NFSStatus string // only when the call was accepted and executed

	prev, next *Event // arrival order while pending
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.Base }

// complete fills in the reply.
func (e *Event) complete(h *header, size int64, ts time.Time) {
	e.Replied = true
	e.Base.End = ts
	e.Base.Destination.Bytes = size
	if h.replyStat != 0 {
		e.RPCStatus = rejectName(h.rejectStat)
		e.Base.Status = "Error"
		return
	}
	e.RPCStatus = acceptName(h.acceptStat)
	if h.acceptStat != 0 {
		e.Base.Status = "Error"
		return
	}
	switch {
	case e.Opcode == "NULL":
		e.NFSStatus = "NFS_OK" // NULL returns nothing: Packetbeat reports NFS_OK
	case h.hasStatus:
		e.NFSStatus = statusName(h.nfsStatus)
	}
}

const hexDigits = "0123456789abcdef"

// WriteFields implements ecsmap.Event: the nfs and rpc groups, and the
// caller's identity as Packetbeat's dotted root keys user.id, group.id and
// host.hostname (the package's pipelines expand or move them).
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("nfs")
	w.Uint("version", uint64(e.Version))
	if e.HasCompound {
		w.Str("tag", e.Tag)
		w.Uint("minor_version", uint64(e.MinorVersion))
	}
	w.OptStr("opcode", e.Opcode)
	if e.NFSStatus != "" {
		w.Str("status", e.NFSStatus)
	} else if w.KeepNull {
		w.Null("status")
	}
	w.End()

	w.Object("rpc")
	var xid [8]byte
	for i := range xid {
		xid[i] = hexDigits[e.XID>>(28-4*i)&0xf]
	}
	w.Bytes("xid", xid[:])
	w.OptStr("status", e.RPCStatus)
	w.Str("auth_flavor", flavorName(e.Flavor))
	if e.HasCred {
		w.Object("cred")
		w.Uint("stamp", uint64(e.Cred.stamp))
		w.Str("machinename", e.Machine)
		w.Uint("uid", uint64(e.Cred.uid))
		w.Uint("gid", uint64(e.Cred.gid))
		w.ArrayStart("gids")
		for _, g := range e.Cred.gids[:e.Cred.ngids] {
			w.ElemInt(int64(g))
		}
		w.ArrayEnd()
		w.End()
	}
	w.End()

	if e.HasCred {
		w.Uint("user.id", uint64(e.Cred.uid))
		w.Uint("group.id", uint64(e.Cred.gid))
		w.Str("host.hostname", e.Machine)
	}
}
