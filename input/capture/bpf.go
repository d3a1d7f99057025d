package capture

import (
	"fmt"
	"sort"
	"strings"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// PortUse is one protocol's claim on ports, for building the BPF filter.
type PortUse struct {
	Ports    []uint16
	TCP, UDP bool
	// AllTCP: the protocol detects by content (detect: true), so every TCP
	// connection must be seen, whatever its ports.
	AllTCP bool
}

// BuildFilter makes the capture filter from the enabled protocols, as
// Packetbeat does: "tcp port N" / "udp port N" / "port N" per port, plus
// "icmp or icmp6" when ICMP is on. Flows need every packet, so with flows on
// (or nothing to filter on) the filter is empty. withVLANs repeats the
// expression behind "vlan" so tagged frames match too.
func BuildFilter(uses []PortUse, icmp, flows, withVLANs bool) string {
	if flows {
		return ""
	}
	seen := map[string]bool{}
	var terms []string
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			terms = append(terms, t)
		}
	}
	for _, u := range uses {
		if u.AllTCP {
			add("tcp")
		}
	}
	for _, u := range uses {
		ports := append([]uint16(nil), u.Ports...)
		sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
		for _, p := range ports {
			switch {
			case u.TCP && u.UDP:
				add(fmt.Sprintf("port %d", p))
			case u.TCP:
				add(fmt.Sprintf("tcp port %d", p))
			case u.UDP:
				add(fmt.Sprintf("udp port %d", p))
			}
		}
	}
	if icmp {
		add("icmp")
		add("icmp6")
	}
	if len(terms) == 0 {
		return ""
	}
	f := strings.Join(terms, " or ")
	if withVLANs {
		f = fmt.Sprintf("%s or (vlan and (%s))", f, f)
	}
	return f
}

// UsesOf lists the port claims of protocol instances.
func UsesOf(insts []*protocol.Instance) []PortUse {
	out := make([]PortUse, 0, len(insts))
	for _, in := range insts {
		out = append(out, PortUse{Ports: in.Common.Ports, TCP: in.TCP != nil, UDP: in.UDP != nil,
			AllTCP: in.Common.Detect && in.TCP != nil})
	}
	return out
}
