package nfs

import (
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

type encoder struct {
	w    ecsmap.Writer
	meta ecsmap.Meta
	n    int
}

func (e *encoder) Publish(ev ecsmap.Event) { ecsmap.Encode(&e.w, ev, &e.meta); e.n++ }

func benchConn(b *testing.B) (protocol.TCPParser, *encoder) {
	spec, _ := protocol.Lookup("nfs")
	common, o, _ := protocol.SplitCommon(spec, map[string]any{})
	enc := &encoder{meta: ecsmap.Meta{Dataset: "nfs"}}
	inst, err := spec.New(common, o, enc)
	if err != nil {
		b.Fatal(err)
	}
	conn := protocolConn()
	return inst.TCP.NewConn(&conn), enc
}

// BenchmarkV3Lookup: one LOOKUP call and its reply per iteration, each in
// its own segment, events encoded as the engine would.
func BenchmarkV3Lookup(b *testing.B) {
	c, enc := benchConn(b)
	ts := time.Unix(1700000000, 0)
	req := record(call(1, 3, 3, be(8, 1, 2, 4, 0x61626364)))
	resp := record(reply(1, 0, 2, 0))
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromClient, req, ts)
		c.Parse(protocol.FromServer, resp, ts)
	}
	if enc.n != b.N {
		b.Fatalf("%d events for %d iterations", enc.n, b.N)
	}
}

// BenchmarkWriteSegment: the per-segment cost inside a large WRITE: no
// allocation, nothing buffered.
func BenchmarkWriteSegment(b *testing.B) {
	c, _ := benchConn(b)
	ts := time.Unix(1700000000, 0)
	c.Parse(protocol.FromClient, append(be(lastFragment|0x7000000), call(1, 3, 7, nil)...), ts)
	seg := make([]byte, 1448)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		c.Parse(protocol.FromClient, seg, ts)
	}
}
