package protocoltest

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Frame is one captured frame and its capture metadata.
type Frame struct {
	Data []byte
	CI   gopacket.CaptureInfo
}

// ReadFrames loads every frame of a (classic) pcap into memory, for tests
// that drive the link decoder themselves rather than going through Replay.
func ReadFrames(t testing.TB, path string) ([]Frame, layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []Frame
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		frames = append(frames, Frame{bytes.Clone(data), ci})
	}
	return frames, r.LinkType()
}

// UDPPayloads returns a copy of the payload of every UDP datagram in a
// (classic) pcap, as fuzz seeds and benchmark input.
func UDPPayloads(tb testing.TB, path string) [][]byte {
	tb.Helper()
	frames, lt := ReadFrames(tb, path)
	var out [][]byte
	for _, fr := range frames {
		p := gopacket.NewPacket(fr.Data, lt, gopacket.Default)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			out = append(out, append([]byte(nil), u.Payload...))
		}
	}
	return out
}
