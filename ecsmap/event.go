package ecsmap

import (
	"net/netip"
	"time"
)

// Endpoint is one side of a transaction or flow.
type Endpoint struct {
	IP      netip.Addr
	Port    uint16 // 0 when the transport has no ports (ICMP)
	Bytes   int64  // payload bytes for transactions, wire bytes for flows; 0 omits
	Packets int64  // flows only; 0 omits
	MAC     [6]byte
	HasMAC  bool
	Domain  string
	Process *Process // set by process monitoring, nil otherwise
}

// Process is the local process owning one end of a connection.
type Process struct {
	PID        int64
	PPID       int64
	Name       string
	Executable string
	Args       []string
	WorkingDir string
	Start      time.Time
}

// Base holds the fields every network_traffic document carries, whatever the
// protocol. Protocols fill it in their transaction; Encode writes it.
type Base struct {
	Start time.Time // first packet of the transaction (also @timestamp)
	End   time.Time // last packet; zero for one-sided events
	// Timestamp overrides @timestamp when set: flow records carry the time
	// of the report, as Packetbeat's do.
	Timestamp time.Time

	// Type is Packetbeat's root "type" field and network.protocol unless
	// Protocol says otherwise: "dns", "http", "icmp", "flow", ...
	Type     string
	Protocol string

	Transport   string // "tcp", "udp", "icmp", "ipv6-icmp"
	IPProtocol  uint8  // IANA number, for community_id (6, 17, 1, 58)
	NetworkType string // "ipv4" or "ipv6"

	// Source is the client (initiator) and Destination the server for
	// transactions; for flows they are the first packet's sender and receiver.
	Source, Destination Endpoint
	// ClientServer writes client.* and server.* as copies of source/destination
	// (transactions do, flows do not).
	ClientServer bool

	// ICMP type/code feed community_id for ICMP flows and transactions.
	ICMPType, ICMPCode uint8
	HasICMP            bool
	// ICMPID is the echo identifier of ICMP queries, part of flow.id.
	ICMPID uint16

	// FlowRecord marks flow records: they write the flow group (flow.id
	// among it) themselves. Every other event gets flow.id from Encode,
	// derived from its endpoints like the flow table's.
	FlowRecord bool

	VLANs []uint16 // outer first; written as network.vlan.id (outermost)
	// Tunnel is the encapsulation the traffic was found in (network.tunnel),
	// nil for traffic seen natively.
	Tunnel *Tunnel
	// Iface is the capture interface of a capture of several (part of
	// flow.id, as of the flow table's key); Interface is its name, written
	// as observer.ingress.interface.name (set by the publisher, which
	// knows the capture's interfaces).
	Iface     uint16
	Interface string
	// DetectedBy is network.detected_by: "content" when the protocol was
	// recognised by a probe instead of by port; empty (absent) otherwise.
	DetectedBy string

	// Direction is network.direction (inbound, outbound, internal, external)
	// when the capture knows its internal networks; "unknown" when empty.
	Direction string

	// ForwardedIP is the original client address a proxy reported (HTTP's
	// real_ip_header): network.forwarded_ip, and added to related.ip.
	ForwardedIP string
	// RelatedIPs are more addresses for related.ip (e.g. DNS answers),
	// after the endpoints; duplicates are skipped.
	RelatedIPs []netip.Addr
	// RelatedHosts and RelatedUsers go to related.hosts and related.user.
	RelatedHosts []string
	RelatedUsers []string

	Status     string   // Packetbeat's root "status": OK, Error, ...
	Kind       string   // event.kind, "event" when empty
	Categories []string // event.category, ["network"] when empty
	Types      []string // event.type, ["connection","protocol"] when empty
	Action     string   // event.action
	Outcome    string   // event.outcome
	Reason     string   // event.reason
	// Sequence is event.sequence (SIP's CSeq number), written when
	// HasSequence; Original is event.original (the raw message) when set.
	Sequence    int64
	HasSequence bool
	Original    string
	// Application and IANANumber are network.application and
	// network.iana_number (Packetbeat's SIP events carry both).
	Application string
	IANANumber  string

	// Packetbeat's root transaction summary fields.
	Method, Query, Resource, Path string
	Request, Response             string // raw messages when send_request/send_response
	Params                        string
	Notes                         []string // error.message entries (parse problems worth telling)
}

// Event is anything that can be written as one document.
type Event interface {
	// EventBase returns the common fields.
	EventBase() *Base
	// WriteFields writes the protocol's own top-level groups (dns, http, url,
	// icmp, flow, ...). It must not write groups Encode already wrote (see
	// the list in Encode).
	WriteFields(w *Writer)
}
