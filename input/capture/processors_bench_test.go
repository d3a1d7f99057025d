package capture

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/output"
)

// benchEvent is a transaction with only the common fields.
type benchEvent struct{ base ecsmap.Base }

func (e *benchEvent) EventBase() *ecsmap.Base    { return &e.base }
func (e *benchEvent) WriteFields(*ecsmap.Writer) {}

type discardSink struct{ n int }

func (d *discardSink) Send(output.Doc)         { d.n++ }
func (d *discardSink) SendCopy(string, []byte) { d.n++ }

func benchPublisher(tb testing.TB, procs []map[string]any) (*streamPublisher, *benchEvent, *discardSink) {
	st := &config.Stream{ID: "dns-1", Type: "dns", DataStream: config.DataStream{Type: "logs", Dataset: "network_traffic.dns", Namespace: "default"}}
	sink := &discardSink{}
	p, err := newStreamPublisher(st, procs, sink, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	// As a live capture's: this host's addresses and agent.*/host.*.
	p.host, p.hostLocal = hostmeta.Default(), true
	ev := &benchEvent{}
	b := &ev.base
	b.Start = time.Date(2026, 11, 26, 0, 55, 24, 0, time.UTC)
	b.End = b.Start.Add(time.Millisecond)
	b.Type, b.Transport, b.IPProtocol, b.NetworkType = "dns", "udp", 17, "ipv4"
	b.Source.IP, b.Source.Port = netip.MustParseAddr("10.0.0.2"), 40000
	b.Destination.IP, b.Destination.Port = netip.MustParseAddr("10.0.0.1"), 53
	b.ClientServer = true
	return p, ev, sink
}

// With no processors configured, publishing costs no allocation: the
// processor stage is a nil check.
func TestPublishWithoutProcessorsAllocFree(t *testing.T) {
	p, ev, sink := benchPublisher(t, nil)
	if p.procs != nil {
		t.Fatal("a chain was built for no processors")
	}
	p.Publish(ev)
	if n := testing.AllocsPerRun(200, func() { p.Publish(ev) }); n != 0 {
		t.Errorf("%v allocations per event without processors", n)
	}
	if sink.n == 0 {
		t.Fatal("nothing published")
	}
	if !bytes.Contains(p.w.Buf, []byte(`"host":{`)) || !bytes.Contains(p.w.Buf, []byte(`"type":"packetbeat"`)) {
		t.Errorf("no agent/host members: %s", p.w.Buf)
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct {
		name  string
		procs []map[string]any
	}{
		{"no_processors", nil},
		{"add_host_metadata", []map[string]any{{"add_host_metadata": nil}}}, // Fleet's stream templates add it
		{"add_tags", []map[string]any{{"add_tags": map[string]any{"tags": "lab"}}}},
		{"host_and_drop_event_when", []map[string]any{{"add_host_metadata": nil},
			{"drop_event": map[string]any{"when": map[string]any{"network": map[string]any{"source.ip": "loopback"}}}}}},
		{"drop_fields", []map[string]any{{"drop_fields": map[string]any{"fields": []any{"client"}}}}},
		{"dissect_script", []map[string]any{
			{"add_fields": map[string]any{"target": "", "fields": map[string]any{"message": "10.0.0.2 - dns"}}},
			{"dissect": map[string]any{"tokenizer": "%{ip} - %{proto}"}},
			{"script": map[string]any{"lang": "javascript", "source": `function process(e) { e.Put("x", e.Get("dissect.proto") + "!"); }`}},
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, ev, _ := benchPublisher(b, c.procs)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p.Publish(ev)
			}
		})
	}
}
