package nfs

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

func be(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// call builds an AUTH_UNIX NFS call body (no record mark).
func call(xid, vers, proc uint32, args []byte) []byte {
	cred := append(be(7, 4), "host"...)
	cred = append(cred, be(1000, 100, 2, 10, 20)...)
	b := be(xid, msgCall, rpcVersion, nfsProgram, vers, proc, authUnix, uint32(len(cred)))
	b = append(b, cred...)
	b = append(b, be(0, 0)...)
	return append(b, args...)
}

// reply builds an accepted, successful reply with NFS status status.
func reply(xid, status uint32, rest ...uint32) []byte {
	return append(be(xid, msgReply, 0, 0, 0, 0, status), be(rest...)...)
}

func record(body []byte) []byte { return append(be(lastFragment|uint32(len(body))), body...) }

type collector struct{ evs []*Event }

func (c *collector) Publish(ev ecsmap.Event) {
	var w ecsmap.Writer
	ecsmap.Encode(&w, ev, &ecsmap.Meta{Dataset: "nfs", KeepNull: true})
	c.evs = append(c.evs, ev.(*Event))
}

func newTestConn(t testing.TB, opts map[string]any) (protocol.TCPParser, *collector, *Protocol) {
	spec, _ := protocol.Lookup("nfs")
	common, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	inst, err := spec.New(common, o, col)
	if err != nil {
		t.Fatal(err)
	}
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:800"), Server: netip.MustParseAddrPort("10.0.0.2:2049"), IPProtocol: 6}
	p := inst.TCP.(*Protocol)
	return p.NewConn(&conn), col, p
}

func TestDefaults(t *testing.T) {
	spec, _ := protocol.Lookup("nfs")
	if spec.DefaultTimeout != time.Minute || len(spec.DefaultPorts) != 1 || spec.DefaultPorts[0] != 2049 || !spec.TCP || spec.UDP {
		t.Errorf("spec %+v", spec)
	}
	if _, _, err := newTestConnErr(map[string]any{"bogus": 1}); err == nil {
		t.Error("unknown option accepted")
	}
	if _, _, err := newTestConnErr(map[string]any{"max_pending_calls": 0}); err == nil {
		t.Error("max_pending_calls 0 accepted")
	}
}

func newTestConnErr(opts map[string]any) (any, any, error) {
	spec, _ := protocol.Lookup("nfs")
	common, o, err := protocol.SplitCommon(spec, opts)
	if err != nil {
		return nil, nil, err
	}
	_, err = spec.New(common, o, &collector{})
	return nil, nil, err
}

// A call split into three fragments, fed one byte at a time; replies out
// of order; a denied reply; a reply to nothing.
func TestFragmentsAndPairing(t *testing.T) {
	c, col, p := newTestConn(t, nil)
	ts := time.Unix(1700000000, 0)
	body := call(1, 3, 3, be(0, 4, 0x61626364)) // LOOKUP
	var stream []byte
	stream = append(stream, be(10)...)
	stream = append(stream, body[:10]...)
	stream = append(stream, be(20)...)
	stream = append(stream, body[10:30]...)
	stream = append(stream, be(lastFragment|uint32(len(body)-30))...)
	stream = append(stream, body[30:]...)
	stream = append(stream, record(call(2, 3, 7, make([]byte, 100)))...) // WRITE
	stream = append(stream, record(call(3, 3, 1, nil))...)               // GETATTR
	var pending []byte
	for _, ch := range stream {
		pending = append(pending, ch)
		pending = pending[c.Parse(protocol.FromClient, pending, ts):]
	}
	if len(pending) != 0 {
		t.Fatalf("%d bytes left", len(pending))
	}
	// The 10-byte first fragment cannot hold the header: counted, skipped.
	if p.stats.ParseErrors.Load() != 1 || p.stats.Calls.Load() != 2 {
		t.Fatalf("parse errors %d calls %d", p.stats.ParseErrors.Load(), p.stats.Calls.Load())
	}
	in := append(record(reply(3, 2)), record(append(be(2, msgReply, 1, 1), be(1)...))...)
	in = append(in, record(reply(99, 0, 0))...)
	if n := c.Parse(protocol.FromServer, in, ts.Add(time.Millisecond)); n != len(in) {
		t.Fatalf("consumed %d of %d", n, len(in))
	}
	if len(col.evs) != 2 {
		t.Fatalf("%d events", len(col.evs))
	}
	g, w := col.evs[0], col.evs[1]
	if g.Opcode != "GETATTR" || g.NFSStatus != "NFSERR_NOENT" || g.RPCStatus != "success" || g.Base.Status != "OK" ||
		g.Cred.uid != 1000 || g.Cred.ngids != 2 || g.Cred.gids[1] != 20 || g.Machine != "host" || g.Base.Source.Bytes != int64(len(call(3, 3, 1, nil))) {
		t.Errorf("GETATTR %+v", g)
	}
	if w.Opcode != "WRITE" || w.RPCStatus != "auth_error" || w.Base.Status != "Error" || w.NFSStatus != "" {
		t.Errorf("WRITE %+v", w)
	}
	if p.stats.UnmatchedReplies.Load() != 1 {
		t.Errorf("unmatched replies %d", p.stats.UnmatchedReplies.Load())
	}
}

// COMPOUND main op, expiry as NO_REPLY, and resync after a gap.
func TestCompoundExpiryGap(t *testing.T) {
	c, col, p := newTestConn(t, map[string]any{"transaction_timeout": "1s"})
	ts := time.Unix(1700000000, 0)
	// tag "t1", minor 1, SEQUENCE, PUTFH(fh 8 bytes), READ, GETATTR.
	args := append(be(2, 0x74310000, 1, 4, opSequence), make([]byte, 32)...)
	args = append(args, be(opPutfh, 8, 1, 2, 25, 0)...)
	c.Parse(protocol.FromClient, record(call(5, 4, 1, args)), ts)
	c.Expire(ts.Add(2 * time.Second))
	if len(col.evs) != 1 {
		t.Fatalf("%d events", len(col.evs))
	}
	e := col.evs[0]
	if e.Opcode != "READ" || e.Tag != "t1" || e.MinorVersion != 1 || e.Base.Status != "NO_REPLY" || e.Base.Action != "nfs.READ" {
		t.Errorf("compound %+v", e)
	}
	// Lost bytes mid-message: the next message is found again.
	c.Gap(protocol.FromClient, 1000, ts)
	junk := append([]byte{1, 2, 3, 4, 5}, record(call(6, 3, 0, nil))...)
	if n := c.Parse(protocol.FromClient, junk, ts); n != len(junk) {
		t.Fatalf("consumed %d of %d", n, len(junk))
	}
	c.Close(ts)
	if len(col.evs) != 2 || col.evs[1].XID != 6 || col.evs[1].Opcode != "NULL" || p.stats.Resyncs.Load() != 1 {
		t.Errorf("after gap: %d events, resyncs %d", len(col.evs), p.stats.Resyncs.Load())
	}
}

func protocolConn() protocol.Conn {
	return protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:800"), Server: netip.MustParseAddrPort("10.0.0.2:2049"), IPProtocol: 6}
}
