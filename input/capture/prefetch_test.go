package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// fakeSource yields n packets of varying sizes from one reused buffer (as
// libpcap's zero-copy read does), then err.
type fakeSource struct {
	n, i   int
	err    error
	buf    []byte
	closed bool
}

func packetFor(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1+i%1500) }

func (f *fakeSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if f.i == f.n {
		return nil, gopacket.CaptureInfo{}, f.err
	}
	f.buf = append(f.buf[:0], packetFor(f.i)...)
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(f.i), 0), CaptureLength: len(f.buf), Length: len(f.buf)}
	f.i++
	return f.buf, ci, nil
}
func (f *fakeSource) LinkType() layers.LinkType                 { return layers.LinkTypeEthernet }
func (f *fakeSource) PcapStats() (uint64, uint64, uint64, bool) { return 0, 0, 0, false }
func (f *fakeSource) Close()                                    { f.closed = true }

// Every packet comes out once, in order, intact, then the error that ended
// the file (kept: a file cut mid-record must still say so).
func TestPrefetchSourceDeliversEverythingThenTheError(t *testing.T) {
	cut := errors.New("cut mid-record")
	for _, n := range []int{0, 1, prefetchBatchPackets, 5000} {
		f := &fakeSource{n: n, err: cut}
		p := newPrefetchSource(f)
		for i := 0; i < n; i++ {
			data, ci, err := p.Next()
			if err != nil {
				t.Fatalf("n=%d: packet %d: %v", n, i, err)
			}
			if !bytes.Equal(data, packetFor(i)) || ci.Timestamp.Unix() != int64(i) {
				t.Fatalf("n=%d: packet %d differs (%d bytes, ts %v)", n, i, len(data), ci.Timestamp)
			}
		}
		for k := 0; k < 2; k++ {
			if _, _, err := p.Next(); err != cut {
				t.Fatalf("n=%d: after the last packet: %v, want the source's error", n, err)
			}
		}
		p.Close()
		if !f.closed {
			t.Errorf("n=%d: underlying source not closed", n)
		}
	}
}

// Closing before the end stops the reader goroutine (no leak, no race on
// the closed source).
func TestPrefetchSourceCloseEarly(t *testing.T) {
	f := &fakeSource{n: 1 << 20, err: io.EOF}
	p := newPrefetchSource(f)
	if _, _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	select {
	case <-p.ended:
	default:
		t.Fatal("reader still running after Close")
	}
	if !f.closed {
		t.Error("underlying source not closed")
	}
}
