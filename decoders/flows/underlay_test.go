package flows

import (
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

const tunnelDir = "../../_dev/pcaps/tunnels/"

// decodeAll decodes every frame of a capture into its own Packet (payloads
// dropped), with whether it decoded whole.
func decodeAll(tb testing.TB, path string, opts link.Options) ([]link.Packet, []bool) {
	tb.Helper()
	frames, lt := protocoltest.ReadFrames(tb, path)
	dec, err := link.NewDecoder(lt, opts)
	if err != nil {
		tb.Fatal(err)
	}
	pkts := make([]link.Packet, len(frames))
	oks := make([]bool, len(frames))
	for i, fr := range frames {
		oks[i], _ = dec.Decode(fr.Data, fr.CI, &pkts[i])
		pkts[i].Payload = nil
	}
	return pkts, oks
}

// feed hands packets to the table as the capture loop does.
func feed(tbl *Table, pkts []link.Packet, oks []bool) {
	for i := range pkts {
		if oks[i] {
			tbl.Packet(&pkts[i])
		} else if pkts[i].Tunnel.N > 0 {
			tbl.Underlay(&pkts[i])
		}
	}
}

func underlays(docs []map[string]any) (n int) {
	for _, d := range docs {
		if protocoltest.Get(d, "flow.underlay") == true {
			n++
		}
	}
	return n
}

// TestUnderlayNoAllocPerPacket: counting the tunnelled packets of existing
// flows, inner and underlay (two levels for VXLAN in GRE), allocates
// nothing.
func TestUnderlayNoAllocPerPacket(t *testing.T) {
	for _, mode := range []string{"vxlan", "vxlan-in-gre", "gre"} {
		pkts, oks := decodeAll(t, tunnelDir+mode+".outer.pcap", link.Options{})
		tbl := New(Config{Timeout: time.Hour, Period: -1}, protocol.PublisherFunc(func(ecsmap.Event) {}))
		feed(tbl, pkts, oks)
		if tbl.Stats().UnderlayCreated == 0 {
			t.Fatalf("%s: no underlay flow", mode)
		}
		allocs := testing.AllocsPerRun(50, func() { feed(tbl, pkts, oks) })
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per pass over existing flows", mode, allocs)
		}
	}
}

// TestUnderlaySharesTheBound: underlay flows count against max_flows like
// any other; past it the least recently active flow is reported early and
// counted as evicted, and the table never holds more.
func TestUnderlaySharesTheBound(t *testing.T) {
	pkts, oks := decodeAll(t, tunnelDir+"vxlan.outer.pcap", link.Options{})
	col := &protocoltest.Collector{}
	col.Meta.Dataset = "flow"
	tbl := New(Config{Timeout: time.Hour, Period: -1, MaxFlows: 4}, col)
	for i := range pkts {
		feed(tbl, pkts[i:i+1], oks[i:i+1])
		if tbl.Len() > 4 {
			t.Fatalf("frame %d: %d flows held", i, tbl.Len())
		}
	}
	before := len(col.Docs)
	st := tbl.Stats()
	tbl.Flush(time.Now())
	if st.Evicted == 0 || uint64(before) != st.Evicted || st.UnderlayCreated < 20 {
		t.Errorf("evicted %d, reported early %d, underlay flows %d", st.Evicted, before, st.UnderlayCreated)
	}
	if d := tbl.Drops(); len(d) == 0 || d[0].Reason != "published_early_table_full" || d[0].Count != st.Evicted {
		t.Errorf("drops %+v", d)
	}
	if underlays(col.Docs) != int(st.UnderlayCreated) {
		t.Errorf("%d underlay reports for %d underlay flows", underlays(col.Docs), st.UnderlayCreated)
	}
}

// TestUnderlayOffAndNative: SkipUnderlay reports no underlay flow and the
// same inner flows; tunnels closed (decoded as their outer packets) report
// the carriers as plain flows, unmarked, with the same counts as the
// underlay flows.
func TestUnderlayOffAndNative(t *testing.T) {
	path := tunnelDir + "gre.outer.pcap"
	_, on, _ := replay(t, path, DefaultConfig(), nil)
	cfg := DefaultConfig()
	cfg.SkipUnderlay = true
	_, off, _ := replay(t, path, cfg, nil)
	if underlays(on.Docs) == 0 || underlays(off.Docs) != 0 || len(on.Docs)-underlays(on.Docs) != len(off.Docs) {
		t.Fatalf("underlay reports on %d of %d, off %d of %d", underlays(on.Docs), len(on.Docs), underlays(off.Docs), len(off.Docs))
	}

	pkts, oks := decodeAll(t, path, link.Options{Tunnels: link.TunnelOptions{Disabled: true}})
	col := &protocoltest.Collector{}
	col.Meta.Dataset = "flow"
	tbl := New(DefaultConfig(), col)
	feed(tbl, pkts, oks)
	tbl.Flush(time.Now())
	var native map[string]any
	for _, d := range col.Docs {
		if protocoltest.Get(d, "network.transport") == "gre" {
			native = d
		}
	}
	var under map[string]any
	for _, d := range on.Docs {
		if protocoltest.Get(d, "flow.underlay") == true {
			under = d
		}
	}
	if native == nil || under == nil || native["flow"].(map[string]any)["underlay"] != nil {
		t.Fatalf("native %v underlay %v", native, under)
	}
	for _, f := range []string{"source.packets", "source.bytes", "destination.packets", "destination.bytes", "flow.id", "source.ip", "destination.ip"} {
		if protocoltest.Get(native, f) != protocoltest.Get(under, f) {
			t.Errorf("%s: native %v, underlay %v", f, protocoltest.Get(native, f), protocoltest.Get(under, f))
		}
	}
}

// BenchmarkPacketTunnel: the per-packet cost of the flow table on the
// kernel VXLAN capture (inner flow plus underlay flow per packet), with
// underlay flows on and off.
func BenchmarkPacketTunnel(b *testing.B) {
	for _, mode := range []string{"vxlan", "vxlan-in-gre"} {
		for _, skip := range []bool{false, true} {
			name := mode + "/underlay"
			if skip {
				name = mode + "/no-underlay"
			}
			b.Run(name, func(b *testing.B) {
				pkts, oks := decodeAll(b, tunnelDir+mode+".outer.pcap", link.Options{})
				tbl := New(Config{Timeout: time.Hour, Period: -1, SkipUnderlay: skip}, protocol.PublisherFunc(func(ecsmap.Event) {}))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := i % len(pkts)
					feed(tbl, pkts[j:j+1], oks[j:j+1])
				}
			})
		}
	}
}
