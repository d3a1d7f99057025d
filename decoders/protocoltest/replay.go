// Package protocoltest replays a pcap into one protocol instance, for the
// protocol packages' own tests, through the same link decoder, engine and
// TCP reassembler as the binary.
package protocoltest

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// Collector gathers published events as encoded JSON maps.
type Collector struct {
	Events []ecsmap.Event
	Docs   []map[string]any
	Raw    [][]byte
	w      ecsmap.Writer
	Meta   ecsmap.Meta
}

// Publish encodes ev and keeps both the typed event and its decoded JSON.
func (c *Collector) Publish(ev ecsmap.Event) {
	c.Events = append(c.Events, ev)
	raw := ecsmap.Encode(&c.w, ev, &c.Meta)
	cp := append([]byte(nil), raw...)
	c.Raw = append(c.Raw, cp)
	var m map[string]any
	if err := json.Unmarshal(cp, &m); err != nil {
		panic("ecsmap produced invalid JSON: " + err.Error() + ": " + string(cp))
	}
	c.Docs = append(c.Docs, m)
}

// Replay feeds every packet of pcapPath to inst through the pipeline the
// binary runs: the link decoder (VLANs, tunnels, IP fragments), the engine's
// port tables and the TCP reassembler (out-of-order buffering, gaps,
// retransmissions, client and server chosen as in production), so a
// protocol's pcap tests see the bytes exactly as the binary delivers them.
// At the end every pending connection and datagram is flushed, as at the
// end of a file.
func Replay(t testing.TB, pcapPath string, inst *protocol.Instance) {
	t.Helper()
	f, err := os.Open(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var src gopacket.PacketDataSource
	var lt layers.LinkType
	if r, err := pcapgo.NewReader(f); err == nil {
		src, lt = r, r.LinkType()
	} else {
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: neither pcap nor pcapng: %v", pcapPath, err)
		}
		src, lt = ng, ng.LinkType()
	}
	dec, err := link.NewDecoder(lt, link.Options{})
	if err != nil {
		t.Fatalf("%s: %v", pcapPath, err)
	}
	eng := engine.New([]*protocol.Instance{inst})
	eng.TCP = tcp.NewAssembler(tcp.Config{}, eng.NewTCPParser)
	var pkt link.Packet
	var last time.Time
	for {
		data, ci, err := src.ReadPacketData()
		if err != nil {
			break
		}
		last = ci.Timestamp
		ok, err := dec.Decode(data, ci, &pkt)
		if err != nil || !ok {
			continue
		}
		eng.Packet(&pkt)
	}
	eng.Flush(last)
}

// New builds an instance of the named protocol from a stream-style option
// map (as in a config file), with a Collector as publisher.
func New(t testing.TB, name string, stream map[string]any) (*protocol.Instance, *Collector) {
	t.Helper()
	spec, ok := protocol.Lookup(name)
	if !ok {
		t.Fatalf("protocol %q not registered", name)
	}
	common, opts, err := protocol.SplitCommon(spec, stream)
	if err != nil {
		t.Fatal(err)
	}
	col := &Collector{Meta: ecsmap.Meta{Dataset: name, KeepNull: common.KeepNull}}
	inst, err := spec.New(common, opts, col)
	if err != nil {
		t.Fatal(err)
	}
	return inst, col
}
