package flows

import (
	"strconv"

	"github.com/network-traffic/network-traffic/ecsmap"
)

var (
	categories   = []string{"network"}
	typesOngoing = []string{"connection"}
	typesEnd     = []string{"connection", "end"}
)

// transportNames maps IANA protocol numbers to network.transport values.
var transportNames = func() (n [256]string) {
	for i := range n {
		n[i] = strconv.Itoa(i)
	}
	n[1], n[2], n[6], n[17], n[41], n[47], n[50], n[51], n[58], n[132] =
		"icmp", "igmp", "tcp", "udp", "ipv6", "gre", "esp", "ah", "ipv6-icmp", "sctp"
	return n
}()

func transportName(proto uint8) string { return transportNames[proto] }

// Event is one flow report.
type Event struct {
	base  ecsmap.Base
	final bool
	id    string
	vlans []uint16
	// underlay marks the flow of a tunnel's carrier (flow.underlay).
	underlay bool
	// connState and hist are Zeek's conn_state and history (TCP and UDP
	// flows only; see connstate.go).
	connState string
	nhist     uint8
	hist      [histMax]byte
}

// EventBase implements ecsmap.Event.
func (e *Event) EventBase() *ecsmap.Base { return &e.base }

// Underlay reports whether the flow is a tunnel's carrier (the outer flow
// of encapsulated packets) rather than traffic seen natively or inside.
func (e *Event) Underlay() bool { return e.underlay }

// Final reports whether this is the flow's last report.
func (e *Event) Final() bool { return e.final }

// ID is flow.id.
func (e *Event) ID() string { return e.id }

// ConnState is flow.conn_state ("" for transports other than TCP and UDP).
func (e *Event) ConnState() string { return e.connState }

// History is flow.history.
func (e *Event) History() string { return string(e.hist[:e.nhist]) }

// WriteFields writes the flow group: final, id, vlan (one id, or an array
// outer first for Q-in-Q, as Packetbeat documents flow.vlan), and for TCP
// and UDP conn_state and history; underlay: true on a tunnel carrier's flow.
func (e *Event) WriteFields(w *ecsmap.Writer) {
	w.Object("flow")
	w.Bool("final", e.final)
	w.Str("id", e.id)
	if e.underlay {
		w.Bool("underlay", true)
	}
	switch len(e.vlans) {
	case 0:
	case 1:
		w.Int("vlan", int64(e.vlans[0]))
	default:
		w.ArrayStart("vlan")
		for _, v := range e.vlans {
			w.ElemInt(int64(v))
		}
		w.ArrayEnd()
	}
	if e.connState != "" {
		w.Str("conn_state", e.connState)
		if e.nhist > 0 {
			w.Bytes("history", e.hist[:e.nhist])
		}
	}
	w.End()
}
