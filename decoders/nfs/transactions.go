package nfs

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Stats counts what was decoded, skipped or left unpaired. Shared by every
// connection of an instance; safe to read at any time.
type Stats struct {
	Calls, Replies   atomic.Int64 // complete NFS calls and replies decoded
	NoReply          atomic.Int64 // calls published without a reply (timeout, close, eviction)
	UnmatchedReplies atomic.Int64 // replies whose call was not seen, dropped
	NotNFS           atomic.Int64 // calls to other RPC programs on the port, dropped
	Backchannel      atomic.Int64 // NFSv4.1 callbacks (server calls, client replies), dropped
	Retransmits      atomic.Int64 // calls repeating a pending xid: the first is kept
	Evicted          atomic.Int64 // calls published early by max_pending_calls
	ParseErrors      atomic.Int64 // messages that are not RPC, or cut before their header ends
	Gaps             atomic.Int64 // lost bytes reported by the stream
	Resyncs          atomic.Int64 // times framing was found again after a gap or bad data
	// Resync counts the searches for a message start (resyncProbe).
	Resync protocol.ResyncStats
}

// Protocol is one configured nfs instance.
type Protocol struct {
	cfg   *settings
	pub   protocol.Publisher
	stats Stats
}

// Stats returns the instance's counters.
func (p *Protocol) Stats() *Stats { return &p.stats }

// ParseErrors implements protocol.ErrorCounter.
func (p *Protocol) ParseErrors() uint64 { return uint64(p.stats.ParseErrors.Load()) }

// NewConn starts decoding one connection.
func (p *Protocol) NewConn(c *protocol.Conn) protocol.TCPParser {
	cn := &connection{p: p, conn: *c, pending: make(map[uint32]*Event)}
	cn.streams[0].reset()
	cn.streams[1].reset()
	return cn
}

// connection pairs calls and replies of one TCP connection by xid. NFS
// clients multiplex many calls on one connection and servers answer out
// of order, so pairing is by xid, not FIFO; the list keeps arrival order
// for expiry and eviction.
type connection struct {
	p       *Protocol
	conn    protocol.Conn
	streams [2]stream

	pending    map[uint32]*Event
	head, tail *Event

	// machine is the last AUTH_UNIX machine name seen: a client sends the
	// same one in every call, so it is converted to a string once.
	machine string
}

// Parse frames and decodes as many messages as data holds. It never asks
// the engine to hold more than one record mark plus headLimit bytes.
func (c *connection) Parse(dir protocol.Dir, data []byte, ts time.Time) int {
	s := &c.streams[dir]
	off := 0
	for {
		switch s.state {
		case stMarker:
			if len(data)-off < 4 {
				return off
			}
			mark := binary.BigEndian.Uint32(data[off:])
			off += 4
			s.fragLeft = int64(mark & sizeMask)
			s.last = mark&lastFragment != 0
			s.state = stSkip
			if s.first {
				s.start = ts
				s.state = stHead
			}
		case stHead:
			need := int(min(s.fragLeft, headLimit))
			if len(data)-off < need {
				return off
			}
			err := decodeHeader(data[off:off+need], &s.hdr)
			switch {
			case errors.Is(err, errNotRPC):
				// Not RPC at all: framing is lost.
				c.p.stats.ParseErrors.Add(1)
				s.reset()
				s.state = stSync
				s.rs.Lost()
				continue
			case err != nil:
				// Framing holds but the header does not fit its first
				// fragment: count it and step over the message.
				c.p.stats.ParseErrors.Add(1)
				s.skipMsg = true
			default:
				s.ok = true
				if s.hdr.mtype == msgCall && dir == protocol.FromClient {
					s.cur = c.newCall(&s.hdr, s.start)
				}
			}
			s.first = false
			off += need
			s.fragLeft -= int64(need)
			s.size += int64(need)
			s.state = stSkip
		case stSkip:
			k := min(s.fragLeft, int64(len(data)-off))
			off += int(k)
			s.fragLeft -= k
			s.size += k
			if s.fragLeft > 0 {
				return off
			}
			if s.last {
				c.onMessage(dir, s, ts)
				s.reset()
			} else {
				s.state = stMarker
			}
		case stSync:
			skip, found := s.rs.Scan(dir, data[off:], resyncProbe, &c.p.stats.Resync)
			off += skip
			if !found {
				return off
			}
			c.p.stats.Resyncs.Add(1)
			s.reset()
		}
	}
}

// onMessage completes a message: queues a call, pairs a reply.
func (c *connection) onMessage(dir protocol.Dir, s *stream, ts time.Time) {
	if !s.ok {
		return
	}
	h := &s.hdr
	if h.mtype == msgCall {
		if dir != protocol.FromClient {
			c.p.stats.Backchannel.Add(1)
			return
		}
		if ev := s.cur; ev != nil {
			ev.Base.Source.Bytes = s.size
			c.p.stats.Calls.Add(1)
			c.queue(ev)
		}
		return
	}
	if dir != protocol.FromServer {
		c.p.stats.Backchannel.Add(1)
		return
	}
	ev := c.pending[h.xid]
	if ev == nil {
		c.p.stats.UnmatchedReplies.Add(1)
		return
	}
	c.p.stats.Replies.Add(1)
	c.unlink(ev)
	ev.complete(h, s.size, ts)
	c.p.pub.Publish(ev)
}

func (c *connection) queue(ev *Event) {
	if _, dup := c.pending[ev.XID]; dup {
		c.p.stats.Retransmits.Add(1)
		return
	}
	for len(c.pending) >= c.p.cfg.maxPending && c.head != nil {
		c.p.stats.Evicted.Add(1)
		c.noReply(c.head)
	}
	c.pending[ev.XID] = ev
	ev.prev = c.tail
	if c.tail != nil {
		c.tail.next = ev
	} else {
		c.head = ev
	}
	c.tail = ev
}

func (c *connection) unlink(ev *Event) {
	delete(c.pending, ev.XID)
	if ev.prev != nil {
		ev.prev.next = ev.next
	} else {
		c.head = ev.next
	}
	if ev.next != nil {
		ev.next.prev = ev.prev
	} else {
		c.tail = ev.prev
	}
	ev.prev, ev.next = nil, nil
}

// noReply publishes a call alone, status NO_REPLY as in Packetbeat.
func (c *connection) noReply(ev *Event) {
	c.unlink(ev)
	c.p.stats.NoReply.Add(1)
	ev.Base.Status = "NO_REPLY"
	c.p.pub.Publish(ev)
}

// Gap: inside a fragment of known length the message survives (its size
// counts the lost bytes); anywhere else framing is lost and the stream
// looks for the next plausible message start. Calls whose replies were
// lost time out as NO_REPLY.
func (c *connection) Gap(dir protocol.Dir, n int, ts time.Time) {
	c.p.stats.Gaps.Add(1)
	s := &c.streams[dir]
	if s.state == stSkip && int64(n) <= s.fragLeft {
		s.fragLeft -= int64(n)
		s.size += int64(n)
		return
	}
	s.reset()
	s.state = stSync
	s.rs.Lost()
}

// Fin: a message cut by the close is dropped at Close.
func (c *connection) Fin(dir protocol.Dir, ts time.Time) {}

// Expire publishes calls older than transaction_timeout (Packetbeat: 1m).
func (c *connection) Expire(now time.Time) {
	limit := c.p.cfg.common.TransactionTimeout
	for c.head != nil && now.Sub(c.head.Base.Start) > limit {
		c.noReply(c.head)
	}
}

// Close publishes the calls still waiting.
func (c *connection) Close(ts time.Time) {
	for c.head != nil {
		c.noReply(c.head)
	}
	c.streams[0].reset()
	c.streams[1].reset()
}

// newCall builds the transaction of an NFS call from its header and the
// first bytes of its arguments. Calls to other programs sharing the port
// (NFSv4 callbacks, NLM, ...) are not NFS transactions.
func (c *connection) newCall(h *header, ts time.Time) *Event {
	if h.prog != nfsProgram {
		c.p.stats.NotNFS.Add(1)
		return nil
	}
	ev := &Event{XID: h.xid, Version: h.vers, Flavor: h.flavor}
	b := &ev.Base
	c.conn.FillBase(b)
	b.Type = "nfs"
	b.Protocol = protocolName(h.vers)
	b.Start = ts
	b.Status = "OK"
	if h.hasCred {
		ev.HasCred = true
		ev.Cred = h.cred
		if string(h.machine) != c.machine {
			c.machine = string(h.machine)
		}
		ev.Machine = c.machine
		if ev.Machine == "" {
			// Packetbeat names the machine by the caller's address then.
			ev.Machine = c.conn.Client.Addr().Unmap().String()
		}
		b.Source.Domain = ev.Machine
	}
	switch h.vers {
	case 3:
		ev.Opcode = v3Opcode(h.proc)
	case 4:
		switch h.proc {
		case 0:
			ev.Opcode = "NULL"
		case 1:
			c.compound(ev, h)
		}
	}
	if ev.Opcode != "" {
		b.Action = actions[ev.Opcode]
	}
	return ev
}

// compound decodes a COMPOUND4args prefix: tag, minor version, and the
// main operation.
func (c *connection) compound(ev *Event, h *header) {
	x := xdr{b: h.args}
	if h.flavor == rpcsecGSS && h.gssProc == 0 {
		switch h.gssService {
		case 2: // integrity: rpc_gss_integ_data { opaque databody<>; opaque checksum<> }, databody = seq_num + args
			x.u32()
			x.u32()
		case 3: // privacy: the arguments are encrypted
			ev.Opcode = ""
			return
		}
	}
	tag := x.opaque(headLimit)
	minor := x.u32()
	if x.err != nil {
		return
	}
	ev.HasCompound = true
	if len(tag) > maxTagBytes {
		tag = tag[:maxTagBytes]
	}
	ev.Tag = string(tag)
	ev.MinorVersion = minor
	ev.Opcode, _ = mainOp(&x)
}

func protocolName(vers uint32) string {
	switch vers {
	case 2:
		return "nfsv2"
	case 3:
		return "nfsv3"
	case 4:
		return "nfsv4"
	}
	return "nfs"
}

// actions holds event.action for every opcode name, so building one does
// not allocate.
var actions = func() map[string]string {
	m := map[string]string{"ILLEGAL": "nfs.ILLEGAL"}
	for _, n := range v3Procs {
		m[n] = "nfs." + n
	}
	for _, n := range v4Ops {
		m[n] = "nfs." + n
	}
	return m
}()

// Drops implements protocol.DropCounter.
func (p *Protocol) Drops() []protocol.Drop {
	s := &p.stats
	return append(protocol.Drops(
		"reply_without_call", s.UnmatchedReplies.Load(),
		"not_nfs_program", s.NotNFS.Load(),
		"backchannel", s.Backchannel.Load(),
		"published_early_pending_limit", s.Evicted.Load(),
	), s.Resync.Drops()...)
}
