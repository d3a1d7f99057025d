package capture_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"

	_ "github.com/network-traffic/network-traffic/decoders/all"
)

// protocolCaptures are the captures and stream configs the package's sample
// events come from (internal/samples), one per capture: every protocol.
var protocolCaptures = []struct {
	pcap   string
	stream map[string]any
}{
	{"_dev/pcaps/icmp/lo_ping.pcap", map[string]any{"type": "icmp"}},
	{"_dev/pcaps/icmp/veth.pcap", map[string]any{"type": "icmp"}},
	{"_dev/pcaps/dns/udp.pcap", map[string]any{"type": "dns", "include_authorities": true, "include_additionals": true}},
	{"_dev/pcaps/dns/tcp.pcap", map[string]any{"type": "dns"}},
	{"_dev/pcaps/dns/dnssec.pcap", map[string]any{"type": "dns", "include_authorities": true, "include_additionals": true}},
	{"_dev/pcaps/http/nginx.pcap", map[string]any{"type": "http", "ports": []any{8080}, "send_headers": []any{"user-agent", "host"}}},
	{"_dev/pcaps/http/goserver.pcap", map[string]any{"type": "http", "ports": []any{8000}, "include_body_for": []any{"application/json"}, "send_request": true, "send_response": true}},
	{"_dev/pcaps/http/pipeline.pcap", map[string]any{"type": "http", "ports": []any{8080}}},
	{"_dev/pcaps/amqp/session.pcap", map[string]any{"type": "amqp"}},
	{"_dev/pcaps/amqp/large.pcap", map[string]any{"type": "amqp", "send_request": true, "send_response": true}},
	{"_dev/pcaps/tls/tls12.pcap", map[string]any{"type": "tls"}},
	{"_dev/pcaps/tls/tls13.pcap", map[string]any{"type": "tls", "fingerprints": []any{"sha1", "sha256", "md5"}}},
	{"_dev/pcaps/tls/mtls.pcap", map[string]any{"type": "tls"}},
	{"_dev/pcaps/tls/alert.pcap", map[string]any{"type": "tls"}},
	{"_dev/pcaps/mysql/cli.pcap", map[string]any{"type": "mysql"}},
	{"_dev/pcaps/mysql/ps.pcap", map[string]any{"type": "mysql", "send_request": true, "send_response": true}},
	{"_dev/pcaps/mysql/slap.pcap", map[string]any{"type": "mysql"}},
	{"_dev/pcaps/memcache/text.pcap", map[string]any{"type": "memcache", "maxvalues": -1, "maxbytespervalue": 64}},
	{"_dev/pcaps/memcache/binary.pcap", map[string]any{"type": "memcache", "maxvalues": -1}},
	{"_dev/pcaps/memcache/udp.pcap", map[string]any{"type": "memcache"}},
	{"_dev/pcaps/memcache/memcslap.pcap", map[string]any{"type": "memcache", "parseunknown": true}},
	{"_dev/pcaps/dhcpv4/dnsmasq.pcap", map[string]any{"type": "dhcpv4"}},
	{"_dev/pcaps/pgsql/extended.pcap", map[string]any{"type": "pgsql"}},
	{"_dev/pcaps/pgsql/psql.pcap", map[string]any{"type": "pgsql", "send_request": true, "send_response": true}},
	{"_dev/pcaps/pgsql/prepared.pcap", map[string]any{"type": "pgsql"}},
	{"_dev/pcaps/redis/cli.pcap", map[string]any{"type": "redis"}},
	{"_dev/pcaps/redis/pipeline.pcap", map[string]any{"type": "redis"}},
	{"_dev/pcaps/redis/resp3.pcap", map[string]any{"type": "redis", "send_request": true, "send_response": true}},
	{"_dev/pcaps/redis/pubsub.pcap", map[string]any{"type": "redis"}},
	{"_dev/pcaps/nfs/v3.pcap", map[string]any{"type": "nfs"}},
	{"_dev/pcaps/nfs/v4.pcap", map[string]any{"type": "nfs"}},
	{"_dev/pcaps/cassandra/v4.pcap", map[string]any{"type": "cassandra", "send_request": true, "send_response": true}},
	{"_dev/pcaps/cassandra/v3_snappy.pcap", map[string]any{"type": "cassandra", "send_request": true, "send_response": true, "compressor": "snappy"}},
	{"_dev/pcaps/mongodb/opmsg.pcap", map[string]any{"type": "mongodb", "send_request": true, "send_response": true}},
	{"_dev/pcaps/mongodb/legacy.pcap", map[string]any{"type": "mongodb"}},
	{"_dev/pcaps/mongodb/compressed.pcap", map[string]any{"type": "mongodb"}},
	{"_dev/pcaps/sip/udp.pcap", map[string]any{"type": "sip", "ports": []any{5060, 5062}}},
	{"_dev/pcaps/sip/tcp.pcap", map[string]any{"type": "sip", "transport_protocol": "tcp"}},
	{"_dev/pcaps/thrift/socket.pcap", map[string]any{"type": "thrift"}},
	{"_dev/pcaps/thrift/framed.pcap", map[string]any{"type": "thrift", "transport_type": "framed", "send_request": true, "send_response": true}},
	{"_dev/pcaps/thrift/nonstrict.pcap", map[string]any{"type": "thrift"}},
}

func decodeWith(t *testing.T, file string, stream map[string]any) []map[string]any {
	t.Helper()
	st := map[string]any{}
	for k, v := range stream {
		st[k] = v
	}
	// A filter of our own: the port-built one differs by design between the
	// two (it adds the tunnel carriers), and its "icmp6" term misses ICMPv6
	// behind extension headers (MLD), which would make the native side
	// poorer. TestTunnelFilterAndOptions covers the built filter.
	st["interface"] = map[string]any{"file": file, "top_speed": true, "bpf_filter": "ip or ip6"}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{st}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &docsink.Sink{}
	w, err := capture.New(in, sink, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sink.All()
}

// wrapVXLAN writes the Ethernet capture src again with every frame inside
// VXLAN (VNI 7) between two underlay addresses, as a mirror session would
// deliver it; false when a frame is too large to wrap in IPv4 (loopback
// captures can hold 64 KiB frames).
func wrapVXLAN(t *testing.T, src, dst string) bool {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return false
	}
	o, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if len(data) > 65535-20-8-8 {
			return false
		}
		out := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2}
		be.PutUint16(ip[2:4], uint16(20+8+8+len(data)))
		out = append(out, ip...)
		out = be.AppendUint16(out, 49152)
		out = be.AppendUint16(out, 4789)
		out = be.AppendUint16(out, uint16(8+8+len(data)))
		out = be.AppendUint16(out, 0)
		out = append(out, 0x08, 0, 0, 0, 0, 0, 7, 0)
		out = append(out, data...)
		ci.CaptureLength, ci.Length = len(out), len(out)
		if err := w.WritePacket(ci, out); err != nil {
			t.Fatal(err)
		}
	}
	return true
}

// strip drops what a tunnel legitimately changes.
func strip(d map[string]any) string {
	c := map[string]any{}
	for k, v := range d {
		if k != "@timestamp" && k != "event" && k != "flow" {
			c[k] = v
		}
	}
	if n, ok := c["network"].(map[string]any); ok {
		n2 := map[string]any{}
		for k, v := range n {
			if k != "tunnel" {
				n2[k] = v
			}
		}
		c["network"] = n2
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// TestEveryProtocolThroughVXLAN: each capture the package samples come from
// (every protocol, with its sample stream config), re-delivered inside
// VXLAN, gives the same events as natively, each with network.tunnel.
func TestEveryProtocolThroughVXLAN(t *testing.T) {
	dir := t.TempDir()
	for _, s := range protocolCaptures {
		t.Run(strings.TrimPrefix(s.pcap, "_dev/pcaps/"), func(t *testing.T) {
			src := filepath.Join("../..", s.pcap)
			wrapped := filepath.Join(dir, strings.ReplaceAll(s.pcap, "/", "_"))
			if !wrapVXLAN(t, src, wrapped) {
				t.Skip("frames too large to wrap in IPv4, or not Ethernet")
			}
			native, tun := decodeWith(t, src, s.stream), decodeWith(t, wrapped, s.stream)
			var a, b []string
			for _, d := range native {
				a = append(a, strip(d))
			}
			for _, d := range tun {
				n, _ := d["network"].(map[string]any)
				tn, _ := n["tunnel"].(map[string]any)
				if tn["type"] != "vxlan" || tn["id"] != "7" || tn["source"] == nil {
					t.Errorf("event without the tunnel: %v", n)
					break
				}
				b = append(b, strip(d))
			}
			sort.Strings(a)
			sort.Strings(b)
			if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("%d native events, %d through VXLAN, or they differ", len(a), len(b))
			}
		})
	}
}
