package h2

import (
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// fuzzFeed splits data between the two directions and delivers it in
// pieces, as the engine does, checking the consumed counts and that
// nothing is kept past the frame bound.
func fuzzFeed(t *testing.T, c *Conn, dir Dir, data []byte, step int) {
	var pending []byte
	ts := time.Unix(1700000000, 0)
	for i := 0; i < len(data); i += step {
		buf := append(pending, data[i:min(i+step, len(data))]...)
		n := c.Parse(dir, buf, ts)
		if n < 0 || n > len(buf) {
			t.Fatalf("consumed %d of %d", n, len(buf))
		}
		pending = append([]byte(nil), buf[n:]...)
		if len(pending) > DefaultMaxFrame+frameHeaderLen+len(Preface) {
			t.Fatalf("%d bytes left pending", len(pending))
		}
		ts = ts.Add(time.Millisecond)
	}
}

// FuzzFrames: arbitrary frame streams, both directions. The first byte
// picks the delivery size and where the input splits into client and
// server bytes.
func FuzzFrames(f *testing.F) {
	cl, sv := conversation()
	f.Add(append([]byte{0, byte(cl.buf.Len() - len(Preface))}, append(cl.buf.Bytes()[len(Preface):], sv.buf.Bytes()...)...))
	p := newPeer(true)
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(":method", "GET", "a", "b"), EndHeaders: false, PadLength: 3})
	p.fr.WriteContinuation(1, true, p.block("c", "d"))
	p.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	p.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: p.block(":path", "/p"), EndHeaders: true})
	p.fr.WriteGoAway(0, http2.ErrCodeProtocol, nil)
	f.Add(append([]byte{3, 0}, p.buf.Bytes()[len(Preface):]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		step := int(data[0]%32) + 1
		split := min(int(data[1])*8, len(data)-2)
		body := data[2:]
		var stats Stats
		n := 0
		c := NewConn(Limits{MaxConcurrentStreams: 16, MaxResets: 16, MaxHeaderBlock: 4096, MaxHeaderListSize: 2048}, &stats,
			func(s *Stream) { n++ })
		fuzzFeed(t, c, 0, append([]byte(Preface), body[:split]...), step)
		fuzzFeed(t, c, 1, body[split:], step)
		c.Expire(time.Unix(1800000000, 0), time.Second)
		c.Close(time.Unix(1800000000, 0))
		if len(c.streams) != 0 || c.open != 0 {
			t.Fatalf("%d streams left (open %d)", len(c.streams), c.open)
		}
	})
}

// FuzzHPACK: arbitrary header blocks, each sent as a HEADERS frame (some
// split into CONTINUATION) on the next client stream, against one decoder
// whose dynamic table carries over from block to block.
func FuzzHPACK(f *testing.F) {
	p := newPeer(true)
	f.Add(append(append(p.block(":method", "GET", ":path", "/", "x-a", "1"), 0xff), p.block(":method", "GET", ":path", "/", "x-a", "1")...))
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82, 0xff, 0x20, 0x84})
	f.Fuzz(func(t *testing.T, data []byte) {
		cl := newPeer(true)
		id := uint32(1)
		for len(data) > 0 {
			// 0xff separates blocks; a 0xfe splits a block into
			// HEADERS + CONTINUATION.
			var blk []byte
			blk, data = cut(data, 0xff)
			first, rest := cut(blk, 0xfe)
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(rest) == 0})
			if len(rest) > 0 {
				cl.fr.WriteContinuation(id, true, rest)
			}
			id += 2
		}
		var stats Stats
		c := NewConn(Limits{MaxHeaderListSize: 1024}, &stats, func(s *Stream) {
			size := 0
			for _, f := range s.Req.Fields {
				size += len(f.Name) + len(f.Value) + 32
			}
			if size > 1024 {
				t.Fatalf("header list of %d bytes kept", size)
			}
		})
		fuzzFeed(t, c, 0, cl.buf.Bytes(), 64)
		c.Close(time.Unix(1800000000, 0))
	})
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
