// Package protocoltest replays a pcap into one protocol instance, for the
// protocol packages' own tests. It uses a deliberately naive, allocating
// reassembler (in-order segments, duplicates skipped by sequence number):
// good enough for clean loopback captures. End-to-end tests go through the
// real engine instead.
package protocoltest

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/decoders/protocol"
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

type tcpKey struct{ a, b netip.AddrPort }

type tcpState struct {
	conn    protocol.Conn
	parser  protocol.TCPParser
	nextSeq [2]uint32
	seen    [2]bool
	pending [2][]byte
	fin     [2]bool
}

// Replay feeds every packet of pcapPath to inst: UDP datagrams and TCP
// payloads on inst.Common.Ports. The client is the side sending to one of
// those ports. At the end it closes every TCP connection and flushes UDP,
// as the engine does at the end of a file.
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
	isPort := map[uint16]bool{}
	for _, p := range inst.Common.Ports {
		isPort[p] = true
	}
	conns := map[tcpKey]*tcpState{}
	var last time.Time
	for {
		data, ci, err := src.ReadPacketData()
		if err != nil {
			break
		}
		last = ci.Timestamp
		pkt := gopacket.NewPacket(data, lt, gopacket.NoCopy)
		var srcIP, dstIP netip.Addr
		if ip4, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			srcIP, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
			dstIP, _ = netip.AddrFromSlice(ip4.DstIP.To4())
		} else if ip6, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			srcIP, _ = netip.AddrFromSlice(ip6.SrcIP)
			dstIP, _ = netip.AddrFromSlice(ip6.DstIP)
		} else {
			continue
		}
		if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && inst.UDP != nil {
			sp, dp := uint16(udp.SrcPort), uint16(udp.DstPort)
			dir := protocol.FromClient
			conn := protocol.Conn{Client: netip.AddrPortFrom(srcIP, sp), Server: netip.AddrPortFrom(dstIP, dp), IPProtocol: 17}
			if !isPort[dp] && isPort[sp] {
				dir = protocol.FromServer
				conn.Client, conn.Server = conn.Server, conn.Client
			} else if !isPort[dp] {
				continue
			}
			inst.UDP.Datagram(&conn, dir, udp.Payload, ci.Timestamp)
			inst.UDP.Expire(ci.Timestamp)
			continue
		}
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || inst.TCP == nil {
			continue
		}
		sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
		from, to := netip.AddrPortFrom(srcIP, sp), netip.AddrPortFrom(dstIP, dp)
		dir := protocol.FromClient
		client, server := from, to
		if !isPort[dp] && isPort[sp] {
			dir = protocol.FromServer
			client, server = to, from
		} else if !isPort[dp] {
			continue
		}
		key := tcpKey{client, server}
		st := conns[key]
		if st == nil {
			st = &tcpState{conn: protocol.Conn{Client: client, Server: server, IPProtocol: 6}}
			st.parser = inst.TCP.NewConn(&st.conn)
			if st.parser == nil {
				continue
			}
			conns[key] = st
		}
		seq := tcp.Seq
		payload := tcp.Payload
		if tcp.SYN {
			st.nextSeq[dir] = seq + 1
			st.seen[dir] = true
		}
		if len(payload) > 0 {
			if !st.seen[dir] {
				st.nextSeq[dir] = seq
				st.seen[dir] = true
			}
			if int32(seq-st.nextSeq[dir]) < 0 { // retransmit or overlap
				skip := int(st.nextSeq[dir] - seq)
				if skip >= len(payload) {
					payload = nil
				} else {
					payload = payload[skip:]
				}
			} else if seq != st.nextSeq[dir] {
				st.parser.Gap(dir, int(seq-st.nextSeq[dir]), ci.Timestamp)
				st.pending[dir] = nil
			}
			if len(payload) > 0 {
				st.nextSeq[dir] = seq + uint32(len(tcp.Payload))
				buf := append(st.pending[dir], payload...)
				n := st.parser.Parse(dir, buf, ci.Timestamp)
				if n > len(buf) || n < 0 {
					t.Fatalf("parser consumed %d of %d bytes", n, len(buf))
				}
				st.pending[dir] = append([]byte(nil), buf[n:]...)
			}
		}
		if tcp.FIN || tcp.RST {
			if !st.fin[dir] {
				st.fin[dir] = true
				st.parser.Fin(dir, ci.Timestamp)
			}
			if tcp.RST || (st.fin[0] && st.fin[1]) {
				st.parser.Close(ci.Timestamp)
				delete(conns, key)
			}
		}
		st.parser.Expire(ci.Timestamp)
	}
	for _, st := range conns {
		st.parser.Close(last)
	}
	if inst.UDP != nil {
		inst.UDP.Flush()
	}
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
