package capture

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// tcpPayloads reads a capture and returns each frame's raw bytes with its
// TCP payload length (-1 for frames that are not TCP).
func tcpPayloads(t *testing.T, path string) (frames [][]byte, lens []int) {
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
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		n := -1
		if tl, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			n = len(tl.Payload)
		}
		frames, lens = append(frames, data), append(lens, n)
	}
	return frames, lens
}

// tsharkFigures reads the key/value lines _dev/capture/gapped.sh wrote.
func tsharkFigures(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		m[k] = v
	}
	return m
}

// TestCaptureLossEstimate decodes a real capture from which
// _dev/capture/gapped.sh deleted TCP data segments that the peer then
// acknowledged. The estimate must count exactly the deleted bytes as
// acknowledged but never seen, over every payload byte of the original
// (every byte of that session is acknowledged), whatever the worker count.
// The expected figures are computed here from the two captures (the
// frames of the original missing from the derived one), and checked
// against tshark's, which the script recorded.
func TestCaptureLossEstimate(t *testing.T) {
	const orig, gapped = "../../_dev/pcaps/amqp/session.pcap", "../../_dev/pcaps/tcp/amqp-gapped.pcap"
	of, ol := tcpPayloads(t, orig)
	gf, _ := tcpPayloads(t, gapped)
	var removedBytes, removedSegs, total uint64
	j := 0
	for i, fr := range of {
		if ol[i] > 0 {
			total += uint64(ol[i])
		}
		if j < len(gf) && bytes.Equal(gf[j], fr) {
			j++
			continue
		}
		if ol[i] <= 0 {
			t.Fatalf("frame %d removed from %s carries no TCP data", i+1, gapped)
		}
		removedBytes += uint64(ol[i])
		removedSegs++
	}
	if j != len(gf) || removedSegs == 0 {
		t.Fatalf("%s is not %s with frames deleted (%d of %d frames matched, %d removed)", gapped, orig, j, len(gf), removedSegs)
	}
	ts := tsharkFigures(t, "../../_dev/pcaps/tcp/amqp-gapped.txt")
	if ts["removed_bytes"] != strconv.FormatUint(removedBytes, 10) || ts["original_bytes"] != strconv.FormatUint(total, 10) ||
		ts["removed_segments"] != strconv.FormatUint(removedSegs, 10) {
		t.Fatalf("tshark figures %v, computed here: %d segments, %d of %d bytes removed", ts, removedSegs, removedBytes, total)
	}

	for _, workers := range []int{1, 2} {
		l := decodeSharded(t, orig, workers).stats.CaptureLoss
		if l.AckedBytes != total || l.UnseenBytes != 0 || l.GapEvents != 0 || l.Percent != 0 {
			t.Errorf("original, %d workers: %+v, want %d bytes acknowledged and none unseen", workers, l, total)
		}
		l = decodeSharded(t, gapped, workers).stats.CaptureLoss
		want := 100 * float64(removedBytes) / float64(total)
		if l.AckedBytes != total || l.UnseenBytes != removedBytes || l.GapEvents != removedSegs || l.Percent != want {
			t.Errorf("gapped, %d workers: %+v, want %d of %d bytes unseen (%.3f%%) in %d gap events", workers, l, removedBytes, total, want, removedSegs)
		}
		t.Logf("gapped, %d workers: %+v", workers, l)
	}
}
