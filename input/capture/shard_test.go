package capture

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
)

// bodySink keeps every document as its index and JSON body.
type bodySink struct {
	mu   sync.Mutex
	docs []string
}

func (s *bodySink) Send(d output.Doc) {
	s.mu.Lock()
	s.docs = append(s.docs, d.Index+" "+string(d.Body))
	s.mu.Unlock()
}

type shardRun struct {
	docs []string
	// busy is how many shards decoded at least one packet.
	busy  int
	stats Stats
}

// decodeSharded decodes a capture at top speed with every protocol on its
// default ports, ICMP and flows (the command line's default input, with a
// flow timeout and period short enough that the captures longer than a few
// seconds see flows expire and periodic reports between packets).
func decodeSharded(t *testing.T, file string, workers int) shardRun {
	t.Helper()
	iface := map[string]any{"file": file, "top_speed": true, "workers": workers}
	streams := []any{
		map[string]any{"id": "flow", "type": "flow", "timeout": "2s", "period": "1s", "interface": iface},
		map[string]any{"id": "icmp", "type": "icmp", "interface": iface},
	}
	for _, name := range protocol.Names() {
		streams = append(streams, map[string]any{"id": name, "type": name, "interface": iface})
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	sink := &bodySink{}
	w, err := New(in, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil && !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("%s with %d workers: %v", file, workers, err)
	}
	r := shardRun{docs: sink.docs, stats: w.Stats()}
	for _, run := range w.runs {
		if run.packets.Load() > 0 {
			r.busy++
		}
	}
	if got := len(w.runs); got != workers {
		t.Fatalf("%s: %d shards, want %d", file, got, workers)
	}
	sort.Strings(r.docs)
	return r
}

func pcapsUnderDev(t *testing.T) []string {
	var files []string
	err := filepath.Walk("../../_dev/pcaps", func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("only %d captures under _dev/pcaps", len(files))
	}
	return files
}

// Every capture under _dev/pcaps gives the same multiset of documents
// (timestamps, flow report points and final flushes included) with 1, 2 and
// 4 workers, and the same packet and event counts.
//
// Most of these captures were made on loopback: one address pair, so with
// the production hash every packet lands on one shard. The captures are
// therefore decoded a second time with ports in the hash (shardByPorts),
// which spreads their connections over the shards; captures with IP
// fragments are left out of that pass, since a port hash may split a flow
// whose datagrams are sometimes fragmented, and captures of tunnels, whose
// outer UDP source ports vary within one inner flow (which is why
// production hashes outer addresses only).
func TestShardsGiveTheSameDocuments(t *testing.T) {
	files := pcapsUnderDev(t)
	spread := 0
	for _, byPorts := range []bool{false, true} {
		shardByPorts = byPorts
		for _, f := range files {
			one := decodeSharded(t, f, 1)
			if byPorts {
				d := one.stats.Decode
				if d.FragmentsReassembled+d.FragmentsPending+d.FragmentsDropped+d.Decapsulated > 0 {
					continue
				}
			}
			for _, n := range []int{2, 4} {
				got := decodeSharded(t, f, n)
				if got.busy > 1 {
					spread++
				}
				if got.stats.Packets != one.stats.Packets || got.stats.Events != one.stats.Events {
					t.Errorf("%s, %d workers (ports %v): %d packets %d events, want %d %d", f, n, byPorts,
						got.stats.Packets, got.stats.Events, one.stats.Packets, one.stats.Events)
				}
				if diff := multisetDiff(one.docs, got.docs); diff != "" {
					t.Errorf("%s, %d workers (ports %v): documents differ from 1 worker:\n%s", f, n, byPorts, diff)
				}
			}
		}
	}
	shardByPorts = false
	// The comparison means something only if shards really split captures.
	if spread < 50 {
		t.Fatalf("only %d sharded runs used more than one shard", spread)
	}
	t.Logf("%d captures, %d sharded runs used more than one shard", len(files), spread)
}

// multisetDiff lists documents in one sorted list and not the other.
func multisetDiff(want, got []string) string {
	var b strings.Builder
	i, j, n := 0, 0, 0
	for (i < len(want) || j < len(got)) && n < 6 {
		switch {
		case j >= len(got) || (i < len(want) && want[i] < got[j]):
			b.WriteString("  missing: " + clip(want[i]) + "\n")
			i, n = i+1, n+1
		case i >= len(want) || got[j] < want[i]:
			b.WriteString("  extra:   " + clip(got[j]) + "\n")
			j, n = j+1, n+1
		default:
			i, j = i+1, j+1
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// The shard hash is symmetric and keeps every fragment of a datagram with
// its first one.
func TestShardOfSymmetric(t *testing.T) {
	eth := func(src, dst [4]byte, proto byte, frag uint16, sport, dport byte) []byte {
		f := make([]byte, 14+20+8)
		f[12], f[13] = 0x08, 0x00
		ip := f[14:]
		ip[0], ip[9] = 0x45, proto
		ip[6], ip[7] = byte(frag>>8), byte(frag)
		copy(ip[12:16], src[:])
		copy(ip[16:20], dst[:])
		ip[21], ip[23] = sport, dport
		return f
	}
	a, b := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	seen := map[int]bool{}
	for c := byte(0); c < 64; c++ {
		x := [4]byte{192, 168, 1, c}
		s1 := shardOf(1, eth(a, x, 17, 0x2000, 53, 99), 4) // first fragment
		s2 := shardOf(1, eth(x, a, 17, 0, 99, 53), 4)      // the reply
		s3 := shardOf(1, eth(a, x, 17, 0x00b9, 0, 0), 4)   // a later fragment
		s4 := shardOf(1, eth(a, x, 6, 0, 123, 80), 4)      // TCP between the same hosts
		if s1 != s2 || s1 != s3 || s1 != s4 {
			t.Fatalf("%v<->%v: shards %d %d %d %d", a, x, s1, s2, s3, s4)
		}
		seen[s1] = true
	}
	if len(seen) != 4 {
		t.Fatalf("64 host pairs used shards %v, want all 4", seen)
	}
	if s := shardOf(1, eth(a, b, 6, 0, 1, 2)[:20], 4); s != 0 {
		t.Fatalf("truncated frame: shard %d, want 0", s)
	}
}

// sliceSource yields frames from memory, then io.EOF.
type sliceSource struct {
	frames [][]byte
	ts     time.Time
	i      int
	read   atomic.Int64 // i, for another goroutine
}

func (s *sliceSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if s.i == len(s.frames) {
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	f := s.frames[s.i]
	s.i++
	s.read.Store(int64(s.i))
	ts := s.ts.Add(time.Duration(s.i) * time.Millisecond)
	return f, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(f), Length: len(f)}, nil
}
func (s *sliceSource) LinkType() layers.LinkType                 { return layers.LinkTypeEthernet }
func (s *sliceSource) PcapStats() (uint64, uint64, uint64, bool) { return 0, 0, 0, false }
func (s *sliceSource) Close()                                    {}

// A shard that stopped does not block the others: its frames are counted
// as dropped, every other shard gets all of its own, in order, with the
// ticks of the whole capture and the time of its last frame.
func TestDispatcherStoppedShard(t *testing.T) {
	frame := func(c byte) []byte {
		f := make([]byte, 14+20+8)
		f[12], f[13] = 0x08, 0x00
		ip := f[14:]
		ip[0], ip[9] = 0x45, 17
		copy(ip[12:16], []byte{10, 0, 0, 1})
		copy(ip[16:20], []byte{10, 0, 1, c})
		return f
	}
	var frames [][]byte
	want := map[int]int{}
	for i := 0; i < 5000; i++ {
		f := frame(byte(i % 16))
		frames = append(frames, f)
		want[shardOf(layers.LinkTypeEthernet, f, 2)]++
	}
	if want[0] == 0 || want[1] == 0 {
		t.Fatalf("test frames all on one shard: %v", want)
	}
	src := &sliceSource{frames: frames, ts: time.Unix(1700000000, 0)}
	d := newDispatcher(src, config.Interface{File: "x"}, "", 2)
	d.shards[1].Close() // shard 1 ended (an internal error)
	var wg sync.WaitGroup
	d.startOnce(context.Background(), &wg)
	s := d.shards[0]
	got, ticks := 0, 0
	var last time.Time
	for {
		data, ci, err := s.Next()
		if err == errTick {
			ticks++
			continue
		}
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		if shardOf(layers.LinkTypeEthernet, data, 2) != 0 || ci.Timestamp.Before(last) {
			t.Fatalf("frame %d: wrong shard or out of order", got)
		}
		last = ci.Timestamp
		got++
	}
	s.Close()
	wg.Wait()
	if got != want[0] {
		t.Errorf("shard 0 got %d frames, want %d", got, want[0])
	}
	if n := d.dropped.Load(); n != uint64(want[1]) {
		t.Errorf("dropped %d frames of the stopped shard, want %d", n, want[1])
	}
	// 5000 frames 1 ms apart: a tick at the first frame and every second.
	if ticks != 5 {
		t.Errorf("%d ticks, want 5", ticks)
	}
	if end := src.ts.Add(5000 * time.Millisecond); !s.end.Equal(end) {
		t.Errorf("end of input %v, want %v", s.end, end)
	}
}
