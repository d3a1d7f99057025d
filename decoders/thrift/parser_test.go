package thrift

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// enc builds binary-protocol bytes for tests.
type enc []byte

func (e enc) i8(v int8) enc   { return append(e, byte(v)) }
func (e enc) i16(v int16) enc { return binary.BigEndian.AppendUint16(e, uint16(v)) }
func (e enc) i32(v int32) enc { return binary.BigEndian.AppendUint32(e, uint32(v)) }
func (e enc) i64(v int64) enc { return binary.BigEndian.AppendUint64(e, uint64(v)) }
func (e enc) str(s string) enc {
	return append(e.i32(int32(len(s))), s...)
}
func (e enc) field(t byte, id int16) enc { return e.i8(int8(t)).i16(id) }
func (e enc) stop() enc                  { return append(e, tStop) }

func strictHeader(mtype byte) int32 { return int32(uint32(0x80010000) | uint32(mtype)) }

func callMsg(name string, seqid int32, a, b int32) []byte {
	return enc(nil).i32(strictHeader(mCall)).str(name).i32(seqid).
		field(tI32, 1).i32(a).field(tI32, 2).i32(b).stop()
}

func result(name string, seqid int32, v int32) []byte {
	return enc(nil).i32(strictHeader(mReply)).str(name).i32(seqid).field(tI32, 0).i32(v).stop()
}

type testConn struct {
	p      protocol.TCPParser
	proto  *Protocol
	events []*Event
}

func newTestConn(t *testing.T, stream map[string]any) *testConn {
	t.Helper()
	spec, _ := protocol.Lookup("thrift")
	c, o, err := protocol.SplitCommon(spec, stream)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testConn{}
	inst, err := spec.New(c, o, protocol.PublisherFunc(func(ev ecsmap.Event) { tc.events = append(tc.events, ev.(*Event)) }))
	if err != nil {
		t.Fatal(err)
	}
	tc.proto = inst.TCP.(*Protocol)
	conn := protocol.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:9090"), IPProtocol: 6}
	tc.p = inst.TCP.NewConn(&conn)
	return tc
}

// feed parses b as the engine does: repeated calls, unconsumed rest kept.
func (tc *testConn) feed(dir protocol.Dir, b []byte, ts time.Time) int {
	total := 0
	for len(b) > 0 {
		n := tc.p.Parse(dir, b, ts)
		if n <= 0 {
			break
		}
		total += n
		b = b[n:]
	}
	return total
}

func TestEveryPrefixNeedsMore(t *testing.T) {
	sample := enc(nil).i32(strictHeader(mCall)).str("roundtrip").i32(7).
		field(tStruct, 1).
		field(tBool, 1).i8(1).field(tByte, 2).i8(-7).field(tI16, 3).i16(-300).field(tI64, 5).i64(-1).
		field(tDouble, 6).i64(0x3fd0000000000000).field(tString, 7).str("sample").
		field(tList, 9).i8(tI32).i32(2).i32(1).i32(2).
		field(tSet, 10).i8(tString).i32(1).str("a").
		field(tMap, 11).i8(tString).i8(tI64).i32(1).str("x").i64(1).
		field(tList, 12).i8(tStruct).i32(1).field(tI32, 1).i32(5).stop().
		stop().stop()
	for _, framed := range []bool{false, true} {
		b := []byte(sample)
		opts := map[string]any{}
		if framed {
			b = append(enc(nil).i32(int32(len(sample))), sample...)
			opts["transport_type"] = "framed"
		}
		tc := newTestConn(t, opts)
		for i := range len(b) {
			if n := tc.p.Parse(protocol.FromClient, b[:i], time.Time{}); n != 0 {
				t.Fatalf("framed=%v: prefix %d consumed %d", framed, i, n)
			}
		}
		if n := tc.p.Parse(protocol.FromClient, b, time.Time{}); n != len(b) {
			t.Fatalf("framed=%v: whole message consumed %d of %d", framed, n, len(b))
		}
		tc.p.Close(time.Time{})
		if len(tc.events) != 1 || tc.proto.stats.ParseErrors.Load() != 0 {
			t.Fatalf("framed=%v: %d events, %d errors", framed, len(tc.events), tc.proto.stats.ParseErrors.Load())
		}
		want := `(1: (1: true, 2: -7, 3: -300, 5: -1, 6: 0.25, 7: "sample", 9: [1, 2], 10: {"a"}, 11: {"x": 1}, 12: [(1: 5)]))`
		if got := tc.events[0].Params; got != want {
			t.Errorf("params %s\nwant   %s", got, want)
		}
	}
}

func TestInvalid(t *testing.T) {
	deep := enc(nil).i32(strictHeader(mCall)).str("d").i32(0)
	for range maxDepth + 1 {
		deep = deep.field(tStruct, 1)
	}
	wide := enc(nil).i32(strictHeader(mCall)).str("w").i32(0)
	for i := range 11 {
		wide = wide.field(tBool, int16(i)).i8(1)
	}
	for name, b := range map[string][]byte{
		"version":       enc(nil).i32(-0x7ffdffff).str("x").i32(0).stop(),
		"message type":  enc(nil).i32(strictHeader(9)).str("x").i32(0).stop(),
		"old type":      enc(nil).str("x").i8(7).i32(0).stop(),
		"name length":   enc(nil).i32(strictHeader(mCall)).i32(1 << 20),
		"field type":    enc(nil).i32(strictHeader(mCall)).str("x").i32(0).field(1, 1).stop(),
		"string length": enc(nil).i32(strictHeader(mCall)).str("x").i32(0).field(tString, 1).i32(-5),
		"list count":    enc(nil).i32(strictHeader(mCall)).str("x").i32(0).field(tList, 1).i8(tI32).i32(-1),
		"element type":  enc(nil).i32(strictHeader(mCall)).str("x").i32(0).field(tList, 1).i8(99).i32(1),
		"depth":         deep,
		"struct fields": wide,
	} {
		tc := newTestConn(t, map[string]any{"drop_after_n_struct_fields": 10})
		if n := tc.feed(protocol.FromClient, b, time.Time{}); n != len(b) {
			t.Errorf("%s: consumed %d of %d", name, n, len(b))
		}
		if tc.proto.stats.ParseErrors.Load() != 1 || len(tc.events) != 0 {
			t.Errorf("%s: %d errors, %d events", name, tc.proto.stats.ParseErrors.Load(), len(tc.events))
		}
	}
	// A frame that ends inside its message.
	tc := newTestConn(t, map[string]any{"transport_type": "framed"})
	m := callMsg("add", 1, 1, 2)
	b := append(enc(nil).i32(int32(len(m)-1)), m[:len(m)-1]...)
	if tc.feed(protocol.FromClient, b, time.Time{}); tc.proto.stats.ParseErrors.Load() != 1 {
		t.Errorf("short frame: %d errors", tc.proto.stats.ParseErrors.Load())
	}
}

func TestPairingBySeqID(t *testing.T) {
	tc := newTestConn(t, nil)
	t0 := time.Unix(1700000000, 0)
	tc.feed(protocol.FromClient, append(callMsg("add", 1, 1, 2), callMsg("add", 2, 3, 4)...), t0)
	// Out of order, as an asynchronous server may answer.
	tc.feed(protocol.FromServer, result("add", 2, 7), t0.Add(time.Millisecond))
	tc.feed(protocol.FromServer, result("add", 1, 3), t0.Add(2*time.Millisecond))
	// A reply for nothing, and one naming another method.
	tc.feed(protocol.FromServer, result("add", 9, 0), t0)
	tc.feed(protocol.FromClient, callMsg("sub", 3, 1, 1), t0)
	tc.feed(protocol.FromServer, result("add", 3, 0), t0)
	if len(tc.events) != 2 {
		t.Fatalf("%d events", len(tc.events))
	}
	for i, want := range []string{"add(1: 3, 2: 4) -> 7", "add(1: 1, 2: 2) -> 3"} {
		e := tc.events[i]
		if got := e.Base.Query + " -> " + e.ReturnValue; got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
	}
	if n := tc.proto.stats.UnmatchedResponses.Load(); n != 2 {
		t.Errorf("%d unmatched responses, want 2", n)
	}
	// sub waits; transaction_timeout (10s) publishes it alone.
	tc.p.Expire(t0.Add(5 * time.Second))
	if len(tc.events) != 2 {
		t.Fatalf("expired too early")
	}
	tc.p.Expire(t0.Add(11 * time.Second))
	if len(tc.events) != 3 || tc.events[2].Base.Status != "Error" || tc.events[2].Base.Notes[0] != "Unmatched request" {
		t.Fatalf("expire: %+v", tc.events[len(tc.events)-1].Base)
	}
}

func TestPendingBound(t *testing.T) {
	tc := newTestConn(t, nil)
	for i := range maxPending + 5 {
		tc.feed(protocol.FromClient, callMsg("add", int32(i), 1, 1), time.Time{})
	}
	if len(tc.events) != 5 || tc.proto.stats.UnmatchedRequests.Load() != 5 {
		t.Fatalf("%d events past the bound, want 5", len(tc.events))
	}
	tc.p.Close(time.Time{})
	if len(tc.events) != maxPending+5 {
		t.Fatalf("close published %d", len(tc.events)-5)
	}
}

func TestGapResync(t *testing.T) {
	tc := newTestConn(t, nil)
	tc.feed(protocol.FromClient, callMsg("add", 1, 1, 2), time.Time{})
	tc.p.Gap(protocol.FromServer, 100, time.Time{})
	// The stream resumes mid-message: the tail of something, then a reply.
	tail := []byte{0, 0, 0, 9, 1, 2, 3}
	tc.feed(protocol.FromServer, append(tail, result("add", 1, 3)...), time.Time{})
	if len(tc.events) != 1 || tc.events[0].ReturnValue != "3" {
		t.Fatalf("after gap: %d events", len(tc.events))
	}
}

func TestStringRendering(t *testing.T) {
	r := renderer{cfg: &settings{stringMax: 4, collectionMax: 15, structMax: 500}}
	for in, want := range map[string]string{
		"":                     `""`,
		"abc":                  `"abc"`,
		"abcdef":               `"abcd..."`,
		"hééé":                 `"hé..."`, // not cut inside é
		"\x00\xff":             `00ff`,
		"a\tb":                 `"a\tb"`,
		"\xff\xfe\x01\x02\x03": `fffe0102...`,
	} {
		r.buf = r.buf[:0]
		r.str(enc(nil).str(in))
		if string(r.buf) != want {
			t.Errorf("%q rendered %s, want %s", in, r.buf, want)
		}
	}
}

func TestConfig(t *testing.T) {
	spec, _ := protocol.Lookup("thrift")
	for _, tc := range []struct {
		opts map[string]any
		err  string
	}{
		{map[string]any{"transport_type": "http"}, "transport_type"},
		{map[string]any{"protocol_type": "compact"}, "only binary"},
		{map[string]any{"string_max_size": 0}, "string_max_size"},
		{map[string]any{"collection_max_size": -1}, "collection_max_size"},
		{map[string]any{"drop_after_n_struct_fields": 0}, "drop_after_n_struct_fields"},
		{map[string]any{"idl_files": []any{"/nonexistent/x.thrift"}}, "idl_files"},
		{map[string]any{"stringmaxsize": 3}, `unknown option "stringmaxsize"`},
		{map[string]any{"transport_type": "framed", "capture_reply": false, "obfuscate_strings": true, "string_max_size": 10}, ""},
	} {
		c, o, err := protocol.SplitCommon(spec, tc.opts)
		if err == nil {
			_, err = spec.New(c, o, protocol.PublisherFunc(func(ecsmap.Event) {}))
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: error %v, want %q", tc.opts, err, tc.err)
		}
	}
	if c, _, _ := protocol.SplitCommon(spec, nil); len(c.Ports) != 1 || c.Ports[0] != 9090 || c.TransactionTimeout != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}
