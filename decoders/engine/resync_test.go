package engine_test

import (
	"math/rand"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// resyncOffset plays data through a fresh protocol.Resync in two segments
// split at cut, as the TCP stream hands them over, and returns the offset
// of the message start found, or -1.
func resyncOffset(probe protocol.Probe, d protocol.Dir, data []byte, cut int) int {
	var r protocol.Resync
	var st protocol.ResyncStats
	r.Lost()
	var buf []byte
	off := 0
	for _, c := range [][]byte{data[:cut], data[cut:]} {
		buf = append(buf, c...)
		for len(buf) > 0 {
			skip, found := r.Scan(d, buf, probe, &st)
			if skip < 0 || skip > len(buf) {
				panic("skip out of range")
			}
			off += skip
			buf = buf[skip:]
			if found {
				return off
			}
			if skip == 0 {
				break
			}
		}
	}
	return -1
}

// FuzzResyncScan runs every registered resynchronisation probe
// (protocol.Spec.Resync) over arbitrary bytes split at an arbitrary point:
// the start found must not depend on where the segments were cut, and the
// probe must accept it.
func FuzzResyncScan(f *testing.F) {
	f.Add([]byte("xx\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint16(7))
	f.Add([]byte("body bytes HTTP/1.1 200 OK\r\n"), uint16(13))
	f.Add([]byte("lue\r\n*1\r\n$4\r\nPING\r\n"), uint16(6))
	f.Add([]byte("T\x00\x00\x00\x06\x00\x00Z\x00\x00\x00\x05I"), uint16(3))
	type rp struct {
		name  string
		probe protocol.Probe
	}
	var probes []rp
	for _, n := range protocol.Names() {
		if s, _ := protocol.Lookup(n); s.Resync != nil {
			probes = append(probes, rp{n, s.Resync})
		}
	}
	if len(probes) == 0 {
		f.Fatal("no resync probe registered")
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		cut := int(split) % (len(data) + 1)
		for _, p := range probes {
			for _, d := range []protocol.Dir{protocol.FromClient, protocol.FromServer} {
				whole := resyncOffset(p.probe, d, data, len(data))
				parts := resyncOffset(p.probe, d, data, cut)
				if whole != parts {
					t.Fatalf("%s %s: found at %d whole, %d split at %d", p.name, d, whole, parts, cut)
				}
				if whole >= 0 {
					w := data[whole:]
					if len(w) > protocol.MaxProbeBytes {
						w = w[:protocol.MaxProbeBytes]
					}
					if p.probe(d, w) != protocol.ProbeYes {
						t.Fatalf("%s %s: found at %d where the probe says no", p.name, d, whole)
					}
				}
			}
		}
	})
}

// BenchmarkResyncScan measures the worst case of one gap per protocol:
// ResyncBudget bytes of random data with no message start, scanned in
// 64 KiB deliveries until the budget is spent.
func BenchmarkResyncScan(b *testing.B) {
	data := make([]byte, protocol.ResyncBudget+1)
	rand.New(rand.NewSource(1)).Read(data)
	for _, n := range protocol.Names() {
		s, _ := protocol.Lookup(n)
		if s.Resync == nil {
			continue
		}
		b.Run(n, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var st protocol.ResyncStats
			for i := 0; i < b.N; i++ {
				var r protocol.Resync
				r.Lost()
				for off := 0; off < len(data) && r.Active(); {
					end := min(off+64<<10, len(data))
					skip, found := r.Scan(protocol.FromClient, data[off:end], s.Resync, &st)
					if found {
						break
					}
					if skip == 0 {
						skip = end - off // need-more at a delivery's end: take the next one whole
					}
					off += skip
				}
			}
		})
	}
}
