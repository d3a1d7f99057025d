package capture

import (
	"fmt"
	"strings"

	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/input/config"
)

// linkOptions turns the interface's tunnels option into the decoder's.
func linkOptions(iface config.Interface) link.Options {
	var o link.Options
	if t := iface.Tunnels; t != nil {
		o.Tunnels = link.TunnelOptions{Disabled: t.Disabled, MaxDepth: t.MaxDepth,
			VXLANPorts: t.VXLANPorts, GenevePorts: t.GenevePorts, GTPUPorts: t.GTPUPorts}
	}
	return o
}

// withTunnels widens a port-built BPF filter so that tunnelled traffic
// reaches the decoder: the protocols' ports are those of the inner packets,
// which a filter on the outer headers cannot see. An empty filter (flows
// on: everything) stays empty.
func withTunnels(filter string, iface config.Interface) string {
	t := iface.Tunnels
	if filter == "" || (t != nil && t.Disabled) {
		return filter
	}
	var terms []string
	ports := func(list []uint16, def uint16) {
		if list == nil {
			list = []uint16{def}
		}
		for _, p := range list {
			terms = append(terms, fmt.Sprintf("udp dst port %d", p))
		}
	}
	var vx, gn, gt []uint16
	if t != nil {
		vx, gn, gt = t.VXLANPorts, t.GenevePorts, t.GTPUPorts
	}
	ports(vx, link.DefaultVXLANPort)
	ports(gn, link.DefaultGenevePort)
	ports(gt, link.DefaultGTPUPort)
	// IP in IP, IPv6 in IP, GRE, MPLS in IP; MPLS and PPPoE sessions by
	// EtherType ("mpls" and "pppoes" would shift the offsets of what
	// follows them in the expression). Over IPv6, ip6tnl puts a destination
	// options header (the tunnel encapsulation limit) before the inner
	// packet, so one such header is looked through. Not "protochain": its
	// program loops backwards, which the kernel refuses to attach.
	terms = append(terms, "ip proto 4", "ip proto 41", "ip proto 47", "ip proto 137")
	for _, p := range []string{"4", "41", "47", "137"} {
		terms = append(terms, "ip6 proto "+p, "(ip6 proto 60 and ip6[40] = "+p+")")
	}
	terms = append(terms, "ether proto 0x8847", "ether proto 0x8848", "ether proto 0x8864")
	tt := strings.Join(terms, " or ")
	if iface.WithVLANs {
		tt = fmt.Sprintf("%s or (vlan and (%s))", tt, tt)
	}
	return filter + " or " + tt
}
