// Package config turns a `packet` input into typed capture settings. The
// same shape serves Elastic Agent (an input unit's config) and standalone use
// (the YAML file given with -c), so a Fleet policy can be tried on a laptop
// as it is.
//
//	id: packet-network_traffic-1
//	type: packet
//	data_stream: {namespace: default}
//	streams:
//	  - {id: dns-1, type: dns, ports: [53], include_authorities: true,
//	     interface: {device: any}, data_stream: {dataset: network_traffic.dns}}
//	  - {id: flow-1, type: flow, timeout: 30s, period: 10s}
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Input is one packet input: the streams it enables, grouped by the
// interface they capture on.
type Input struct {
	ID        string
	Name      string
	Namespace string // data_stream.namespace of the unit, "default" when unset
	// Processors of the unit, applied before each stream's own.
	Processors []map[string]any
	// Captures has one entry per distinct interface; streams naming the same
	// device (or file) share one sniffer.
	Captures []*Capture
	// Streams in policy order, including disabled and invalid ones (see
	// Stream.Err), so health can be reported per stream.
	Streams []*Stream
	// Source is the raw config this was parsed from (for diagnostics).
	Source map[string]any
}

// Capture is one sniffer and the streams decoded from it.
type Capture struct {
	Interface Interface
	Streams   []*Stream
	// IgnoreOutgoing drops transactions initiated by this host.
	IgnoreOutgoing bool
}

// Interface says where packets come from.
type Interface struct {
	Device string // live device; "any" by default on Linux
	// Devices are the entries of a device list (`device: [eth0, eth1]` or
	// "eth0,eth1"): names, indexes, default_route names or glob patterns
	// (eth*). Nil for one plain device, which Device then names; with a
	// list Device is the entries joined by commas (for messages).
	Devices []string
	// ExcludeDevices (names or glob patterns) are taken out of the set the
	// entries select.
	ExcludeDevices []string
	File           string // pcap/pcapng to replay instead of a device
	// Type is the capture method of a live device: "pcap" (libpcap, the
	// default) or "af_packet" (a TPACKET_V3 ring of our own).
	Type string
	// FanoutGroup, with Fanout set, joins the af_packet socket to that
	// PACKET_FANOUT group in hash mode (af_packet only).
	FanoutGroup int
	Fanout      bool
	// PollDefaultRoute, for the default_route devices, is how often the
	// default route is looked up again; the capture moves to the new
	// interface when it changed (0: never).
	PollDefaultRoute time.Duration
	// PollDevices (`poll_devices`), for a set with patterns (or device any
	// with exclude_devices), is how often the host's interfaces are matched
	// again, so that one that appeared is captured (0: DefaultPollDevices).
	PollDevices  time.Duration
	TopSpeed     bool // replay a file as fast as possible (false: recorded pace)
	Loop         int  // replay the file this many times (0 or 1: once)
	Snaplen      int
	BufferSizeMB int
	Promiscuous  bool
	WithVLANs    bool
	BPFFilter    string
	// InternalNetworks (CIDRs or names like private, loopback) make
	// network.direction inbound/outbound/internal/external.
	InternalNetworks []string
	// LocalIPs say whose capture this is: network.direction is ingress to
	// and egress from them. Unset, a live capture uses the host's own
	// addresses and a file has no direction (unknown).
	LocalIPs []string
	// Tunnels is the interface's `tunnels` option; nil takes the defaults
	// (every tunnel opened, VXLAN on UDP 4789, Geneve 6081, GTP-U 2152).
	Tunnels *Tunnels
	// Workers is how many flow shards decode this capture (0: the
	// default: the usable CPUs, at most 4; 1: one goroutine reads and decodes).
	Workers int
	// CaptureLossThreshold (`capture_loss_threshold`, a fraction from 0 to
	// 1) is the capture loss (acknowledged bytes never seen, over bytes
	// acknowledged) or kernel drop rate in one health period past which
	// the unit is DEGRADED. Unset (CaptureLossSet false) it is
	// DefaultCaptureLossThreshold.
	CaptureLossThreshold float64
	CaptureLossSet       bool
	// MetricsInterval (`metrics_interval`, as Packetbeat's period for
	// sampling its capture counters) is the window over which an agent
	// unit measures kernel drops, capture loss and the drop table for its
	// health (0: every health check, 5s); in standalone live capture, how
	// often those figures are logged (0: never).
	MetricsInterval time.Duration
}

// DefaultPollDevices is how often a device set with patterns looks for new
// interfaces unless poll_devices says otherwise: a netlink dump of the
// links, cheap enough to do often, and soon enough that a container's
// veth is captured from its first connections.
const DefaultPollDevices = 2 * time.Second

// PollDevicesEvery is poll_devices or its default.
func (i Interface) PollDevicesEvery() time.Duration {
	if i.PollDevices > 0 {
		return i.PollDevices
	}
	return DefaultPollDevices
}

// DefaultCaptureLossThreshold is Zeek's CaptureLoss::too_much_loss (10%).
const DefaultCaptureLossThreshold = 0.1

// LossThreshold is the interface's capture_loss_threshold or the default.
func (i Interface) LossThreshold() float64 {
	if i.CaptureLossSet {
		return i.CaptureLossThreshold
	}
	return DefaultCaptureLossThreshold
}

// Tunnels says which encapsulations the link decoder opens:
//
//	tunnels:
//	  enabled: true          # false: tunnelled traffic stays its outer packets
//	  max_depth: 4           # nesting bound (1-4); deeper packets are counted and skipped
//	  vxlan_ports: [4789]    # [] turns VXLAN off
//	  geneve_ports: [6081]
//	  gtpu_ports: [2152]
type Tunnels struct {
	Disabled    bool
	MaxDepth    int
	VXLANPorts  []uint16 // nil: the default port
	GenevePorts []uint16
	GTPUPorts   []uint16
}

// Key identifies the sniffer for grouping.
func (i Interface) Key() string {
	if i.File != "" {
		return "file:" + i.File
	}
	if len(i.Devices) == 0 && len(i.ExcludeDevices) == 0 {
		return "device:" + i.Device
	}
	// Streams naming the same set in another order share one capture.
	devs := append([]string(nil), i.DeviceEntries()...)
	sort.Strings(devs)
	key := "device:" + strings.Join(devs, ",")
	if len(i.ExcludeDevices) > 0 {
		ex := append([]string(nil), i.ExcludeDevices...)
		sort.Strings(ex)
		key += "|exclude:" + strings.Join(ex, ",")
	}
	return key
}

// DeviceEntries are the configured device entries: Devices, or Device
// alone.
func (i Interface) DeviceEntries() []string {
	if len(i.Devices) > 0 {
		return i.Devices
	}
	return []string{i.Device}
}

// SelectEntries are the entries that select the interfaces of a device
// set: DeviceEntries, with device any read as the pattern "*" when
// exclude_devices take interfaces out of it. One socket on every interface
// cannot leave some out, so `any` with exclusions is every interface of
// the host less those, each its own capture, followed as interfaces come
// and go; `any` alone stays one socket.
func (i Interface) SelectEntries() []string {
	if i.AnyExcept() {
		return []string{"*"}
	}
	return i.DeviceEntries()
}

// AnyExcept reports device any (or unset) with exclude_devices.
func (i Interface) AnyExcept() bool {
	return i.File == "" && len(i.ExcludeDevices) > 0 && len(i.Devices) == 0 && (i.Device == "any" || i.Device == "")
}

// IsDevicePattern reports a device entry that is a glob pattern (eth*,
// veth?, en[op]*) rather than a name.
func IsDevicePattern(dev string) bool {
	return strings.ContainsAny(dev, "*?[")
}

// DataStream is where a stream's documents go.
type DataStream struct {
	Type      string // "logs"
	Dataset   string // "network_traffic.dns"
	Namespace string // "default"
}

// Index is the data stream name, e.g. logs-network_traffic.dns-default.
func (d DataStream) Index() string {
	return d.Type + "-" + d.Dataset + "-" + d.Namespace
}

// Stream is one protocol (or flows, or icmp) with its options.
type Stream struct {
	ID         string
	Type       string // "dns", "http", "flow", "icmp", ...
	Enabled    bool
	DataStream DataStream
	// Index overrides the target index when set (Beats' `index` option).
	Index      string
	Tags       []string
	KeepNull   bool
	Processors []map[string]any
	// Fields are added to every document: under root when FieldsUnderRoot,
	// else under "fields" (Beats' fields/fields_under_root).
	Fields          map[string]any
	FieldsUnderRoot bool
	MonitorProcs    bool
	// MonitoredProcs is Packetbeat's procs.monitored: names for the
	// processes whose command line contains CmdlineGrep.
	MonitoredProcs []MonitoredProc
	// Options is the rest of the stream: the protocol's own keys (ports,
	// send_request, include_authorities, timeout, period, ...).
	Options map[string]any
	// Err is set when the stream cannot run (unknown type, bad option); the
	// stream is skipped and reported, the others keep running.
	Err error
}

// Target is the index or data stream the stream's documents go to.
func (s *Stream) Target() string {
	if s.Index != "" {
		return s.Index
	}
	return s.DataStream.Index()
}

// Special stream types that are not port-based protocols.
const (
	TypeFlow = "flow"
	TypeICMP = "icmp"
)

// Load reads a YAML config file of the input unit shape.
func Load(path string) (*Input, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if m == nil {
		return nil, fmt.Errorf("config %s is empty", path)
	}
	in, err := Parse(m)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return in, nil
}

// Parse builds an Input from the unit's source map. It fails only when the
// input as a whole is unusable; a bad stream gets Stream.Err and is left out
// of Captures.
func Parse(m map[string]any) (*Input, error) {
	in := &Input{Source: m, Namespace: "default"}
	if err := checkInputKeys(m); err != nil {
		return nil, err
	}
	in.ID, _ = m["id"].(string)
	in.Name, _ = m["name"].(string)
	if t, ok := m["type"].(string); ok && t != "" && t != "packet" {
		return nil, fmt.Errorf("input type %q is not packet", t)
	}
	if ds, ok := m["data_stream"].(map[string]any); ok {
		if ns, ok := ds["namespace"].(string); ok && ns != "" {
			in.Namespace = ns
		}
	}
	if err := CheckNamespace(in.Namespace); err != nil {
		return nil, fmt.Errorf("data_stream.namespace: %w", err)
	}
	procs, err := asProcessors(m["processors"])
	if err != nil {
		return nil, fmt.Errorf("processors: %w", err)
	}
	in.Processors = procs
	detect, err := protocol.AsBool(m["detect"])
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}

	rawStreams, ok := m["streams"]
	if !ok || rawStreams == nil {
		return nil, errors.New("no streams: enable at least one protocol or flows")
	}
	list, ok := rawStreams.([]any)
	if !ok {
		return nil, errors.New("streams must be a list")
	}
	captures := map[string]*Capture{}
	var order []string
	for i, item := range list {
		sm, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("streams[%d] is not a map", i)
		}
		st, iface, ignoreOut := parseStream(withDetectDefault(sm, detect), in.Namespace, i)
		in.Streams = append(in.Streams, st)
		if st.Err != nil || !st.Enabled {
			continue
		}
		key := iface.Key()
		c := captures[key]
		if c == nil {
			c = &Capture{Interface: iface}
			captures[key] = c
			order = append(order, key)
		} else {
			if err := sameSocket(c, iface); err != nil {
				st.Err = fmt.Errorf("stream %s (%s): interface: %w", st.ID, st.Type, err)
				continue
			}
			mergeInterface(&c.Interface, iface)
		}
		c.IgnoreOutgoing = c.IgnoreOutgoing || ignoreOut
		c.Streams = append(c.Streams, st)
	}
	for _, k := range order {
		in.Captures = append(in.Captures, captures[k])
	}
	if err := checkPortCollisions(in); err != nil {
		return nil, err
	}
	return in, nil
}

// withDetectDefault applies the input-level detect: true to a stream of a
// protocol that has a probe and does not set detect itself.
func withDetectDefault(sm map[string]any, detect bool) map[string]any {
	if _, set := sm["detect"]; !detect || set {
		return sm
	}
	typ, _ := sm["type"].(string)
	if spec, ok := protocol.Lookup(typ); !ok || spec.Probe == nil || !spec.TCP {
		return sm
	}
	out := make(map[string]any, len(sm)+1)
	for k, v := range sm {
		out[k] = v
	}
	out["detect"] = true
	return out
}

// sameSocket refuses a stream whose capture options cannot share the
// socket the earlier streams on its device asked for.
func sameSocket(c *Capture, iface Interface) error {
	a, b := c.Interface, iface
	other := "stream " + c.Streams[0].ID
	typeOf := func(i Interface) string {
		if i.Type == "" {
			return TypePcap
		}
		return i.Type
	}
	if typeOf(a) != typeOf(b) {
		return fmt.Errorf("type %s conflicts with type %s of %s on the same device", typeOf(b), typeOf(a), other)
	}
	if a.Fanout && b.Fanout && a.FanoutGroup != b.FanoutGroup {
		return fmt.Errorf("fanout_group %d conflicts with fanout_group %d of %s on the same device", b.FanoutGroup, a.FanoutGroup, other)
	}
	return nil
}

func mergeInterface(dst *Interface, src Interface) {
	// Streams on one device share one socket (sameSocket checked they
	// agree on its type): a fanout group or route polling one of them asks
	// for holds for all of them.
	if src.Fanout && !dst.Fanout {
		dst.Fanout, dst.FanoutGroup = true, src.FanoutGroup
	}
	if src.PollDefaultRoute > 0 && (dst.PollDefaultRoute == 0 || src.PollDefaultRoute < dst.PollDefaultRoute) {
		dst.PollDefaultRoute = src.PollDefaultRoute
	}
	if src.PollDevices > 0 && (dst.PollDevices == 0 || src.PollDevices < dst.PollDevices) {
		dst.PollDevices = src.PollDevices
	}
	dst.WithVLANs = dst.WithVLANs || src.WithVLANs
	dst.Promiscuous = dst.Promiscuous || src.Promiscuous
	if src.Snaplen > dst.Snaplen {
		dst.Snaplen = src.Snaplen
	}
	if src.BufferSizeMB > dst.BufferSizeMB {
		dst.BufferSizeMB = src.BufferSizeMB
	}
	if dst.BPFFilter == "" {
		dst.BPFFilter = src.BPFFilter
	}
	if len(dst.InternalNetworks) == 0 {
		dst.InternalNetworks = src.InternalNetworks
	}
	if len(dst.LocalIPs) == 0 {
		dst.LocalIPs = src.LocalIPs
	}
	if dst.Tunnels == nil {
		dst.Tunnels = src.Tunnels
	}
	dst.TopSpeed = dst.TopSpeed || src.TopSpeed
	if src.Workers > dst.Workers {
		dst.Workers = src.Workers
	}
	if src.Loop > dst.Loop {
		dst.Loop = src.Loop
	}
	if src.MetricsInterval > 0 && (dst.MetricsInterval == 0 || src.MetricsInterval < dst.MetricsInterval) {
		dst.MetricsInterval = src.MetricsInterval
	}
	// Streams on one device that set different thresholds: the strictest.
	if src.CaptureLossSet && (!dst.CaptureLossSet || src.CaptureLossThreshold < dst.CaptureLossThreshold) {
		dst.CaptureLossThreshold, dst.CaptureLossSet = src.CaptureLossThreshold, true
	}
}

func parseStream(sm map[string]any, namespace string, idx int) (*Stream, Interface, bool) {
	st := &Stream{Enabled: true, Options: map[string]any{}}
	st.ID, _ = sm["id"].(string)
	st.Type, _ = sm["type"].(string)
	if st.ID == "" {
		st.ID = fmt.Sprintf("stream-%d-%s", idx, st.Type)
	}
	iface := Interface{Device: "any"}
	ignoreOut := false
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if st.Type == "" {
		fail("missing type")
	} else if st.Type != TypeFlow && st.Type != TypeICMP {
		if _, ok := protocol.Lookup(st.Type); !ok {
			fail("unknown stream type %q (known: %s)", st.Type, strings.Join(KnownTypes(), ", "))
		}
	}
	st.DataStream = DataStream{Type: "logs", Dataset: "network_traffic." + datasetFor(st.Type), Namespace: namespace}
	for k, v := range sm {
		var err error
		switch k {
		case "id", "type", "condition":
		case "enabled":
			st.Enabled, err = protocol.AsBool(v)
		case "data_stream":
			if ds, ok := v.(map[string]any); ok {
				if s, ok := ds["type"].(string); ok && s != "" {
					st.DataStream.Type = s
				}
				if s, ok := ds["dataset"].(string); ok && s != "" {
					st.DataStream.Dataset = s
				}
				if s, ok := ds["namespace"].(string); ok && s != "" {
					st.DataStream.Namespace = s
				}
			}
		case "index":
			st.Index, _ = v.(string)
		case "tags":
			st.Tags, err = asStrings(v)
		case "keep_null":
			st.KeepNull, err = protocol.AsBool(v)
		case "processors":
			st.Processors, err = asProcessors(v)
		case "fields":
			if v != nil {
				fm, ok := v.(map[string]any)
				if !ok {
					err = errors.New("must be a map")
				}
				st.Fields = fm
			}
		case "fields_under_root":
			st.FieldsUnderRoot, err = protocol.AsBool(v)
		case "procs":
			if pm, ok := v.(map[string]any); ok {
				st.MonitorProcs, err = protocol.AsBool(pm["enabled"])
				if err == nil {
					st.MonitoredProcs, err = asMonitored(pm["monitored"])
				}
			}
		case "monitor_processes":
			st.MonitorProcs, err = protocol.AsBool(v)
		case "interface":
			err = parseInterface(v, &iface)
		case "interfaces":
			// Fleet renders `interfaces: {with_vlans: true}`.
			if im, ok := v.(map[string]any); ok {
				err = parseInterface(im, &iface)
			}
		case "npcap":
			// Windows only: nothing to do on Linux.
		case "ignore_outgoing":
			ignoreOut, err = protocol.AsBool(v)
		case "internal_networks":
			// Packetbeat's interfaces.internal_networks, accepted on the
			// stream too: it sets network.direction.
			iface.InternalNetworks, err = asStrings(v)
		case "local_ips":
			iface.LocalIPs, err = localIPs(v)
		default:
			st.Options[k] = v
		}
		if err != nil {
			fail("%s: %v", k, err)
		}
	}
	if err := checkInterface(&iface); err != nil {
		fail("interface: %v", err)
	}
	if st.DataStream.Namespace != namespace {
		if err := CheckNamespace(st.DataStream.Namespace); err != nil {
			fail("data_stream.namespace: %v", err)
		}
	}
	if err := checkDataset(st.DataStream.Dataset); err != nil {
		fail("data_stream.dataset: %v", err)
	}
	// Every option is checked here, by the code that will use it, so a bad
	// value takes the stream out (reported, with the stream and option
	// named) before sniffers and BPF filters are planned, and the same
	// verdict reaches the CLI, the agent's unit state and diagnostics.
	if len(errs) == 0 {
		if err := validateOptions(st); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		st.Err = fmt.Errorf("stream %s (%s): %s", st.ID, st.Type, strings.Join(errs, "; "))
	}
	return st, iface, ignoreOut
}

func parseInterface(v any, iface *Interface) error {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if strings.Contains(x, ".pcap") {
			iface.File = x
			return nil
		}
		return parseDevices(x, iface)
	case map[string]any:
		for k, val := range x {
			var err error
			switch k {
			case "device":
				err = parseDevices(val, iface)
			case "exclude_devices":
				iface.ExcludeDevices, err = deviceList(val)
				if err == nil {
					err = checkPatterns(iface.ExcludeDevices)
				}
			case "file":
				iface.File, _ = val.(string)
			case "type":
				s, _ := val.(string)
				switch s {
				case "", TypePcap:
					iface.Type = TypePcap
				case TypeAFPacket:
					iface.Type = TypeAFPacket
				default:
					err = fmt.Errorf("capture type %q is not supported (pcap, af_packet)", s)
				}
			case "snaplen":
				iface.Snaplen, err = asInt(val)
			case "buffer_size_mb":
				iface.BufferSizeMB, err = asInt(val)
			case "auto_promisc_mode", "promiscuous":
				iface.Promiscuous, err = protocol.AsBool(val)
			case "with_vlans":
				iface.WithVLANs, err = protocol.AsBool(val)
			case "bpf_filter":
				iface.BPFFilter, _ = val.(string)
			case "top_speed":
				iface.TopSpeed, err = protocol.AsBool(val)
			case "loop":
				iface.Loop, err = asInt(val)
			case "internal_networks":
				iface.InternalNetworks, err = asStrings(val)
			case "local_ips":
				iface.LocalIPs, err = localIPs(val)
			case "tunnels":
				iface.Tunnels, err = parseTunnels(val)
			case "fanout_group":
				if val != nil {
					iface.FanoutGroup, err = asInt(val)
					iface.Fanout = err == nil
					if err == nil && (iface.FanoutGroup < 0 || iface.FanoutGroup > 0xffff) {
						err = fmt.Errorf("%d is not a fanout group id (0 to 65535)", iface.FanoutGroup)
					}
				}
			case "poll_default_route":
				if val != nil && val != "" {
					iface.PollDefaultRoute, err = protocol.AsDuration(val)
					if err == nil && iface.PollDefaultRoute < 0 {
						err = fmt.Errorf("%v is negative", val)
					}
				}
			case "poll_devices":
				if val != nil && val != "" {
					iface.PollDevices, err = protocol.AsDuration(val)
					if err == nil && (iface.PollDevices < 100*time.Millisecond || iface.PollDevices > time.Hour) {
						err = fmt.Errorf("%v is not a period from 100ms to 1h", val)
					}
				}
			case "workers":
				iface.Workers, err = asInt(val)
				if err == nil && (iface.Workers < 1 || iface.Workers > 64) {
					err = fmt.Errorf("%d is not a worker count (1 to 64)", iface.Workers)
				}
			case "capture_loss_threshold":
				if val != nil {
					iface.CaptureLossThreshold, err = asFraction(val)
					iface.CaptureLossSet = err == nil
				}
			case "metrics_interval":
				if val != nil && val != "" {
					iface.MetricsInterval, err = protocol.AsDuration(val)
					if err == nil && (iface.MetricsInterval < 100*time.Millisecond || iface.MetricsInterval > time.Hour) {
						err = fmt.Errorf("%v is not a period from 100ms to 1h", val)
					}
				}
			default:
				err = fmt.Errorf("unknown interface option %q%s", k, protocol.DidYouMean(k, interfaceKeys))
			}
			if err != nil {
				if strings.HasPrefix(err.Error(), "unknown interface option") {
					return err
				}
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	}
	return fmt.Errorf("must be a device name or a map")
}

func parseTunnels(v any) (*Tunnels, error) {
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("must be a map")
	}
	t := &Tunnels{}
	for k, val := range m {
		var err error
		switch k {
		case "enabled":
			var on bool
			on, err = protocol.AsBool(val)
			t.Disabled = !on
		case "max_depth":
			t.MaxDepth, err = asInt(val)
			if err == nil && (t.MaxDepth < 1 || t.MaxDepth > 4) {
				err = fmt.Errorf("%d is not between 1 and 4", t.MaxDepth)
			}
		case "vxlan_ports", "geneve_ports", "gtpu_ports":
			var ports []uint16
			if ports, err = protocol.AsPorts(val); err == nil && ports == nil {
				ports = []uint16{} // given but empty: that tunnel is off
			}
			switch k {
			case "vxlan_ports":
				t.VXLANPorts = ports
			case "geneve_ports":
				t.GenevePorts = ports
			default:
				t.GTPUPorts = ports
			}
		default:
			return nil, fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return t, nil
}

// parseDevices reads the device option: one name, a comma-separated
// string or a list. One entry stays in Device as before; several go to
// Devices (duplicates left out), Device then naming them all.
func parseDevices(v any, iface *Interface) error {
	list, err := deviceList(v)
	if err != nil {
		return err
	}
	if err := checkPatterns(list); err != nil {
		return err
	}
	iface.Devices = nil
	switch len(list) {
	case 0:
		iface.Device = "any"
	case 1:
		iface.Device = list[0]
	default:
		iface.Devices = list
		iface.Device = strings.Join(list, ",")
	}
	return nil
}

// deviceList reads a list of interface entries: a string of them separated
// by commas, or a YAML list (numbers are indexes); empty entries and
// repeats are left out.
func deviceList(v any) ([]string, error) {
	var raw []string
	switch x := v.(type) {
	case nil:
	case string:
		raw = strings.Split(x, ",")
	case int, int64, float64:
		n, _ := asInt(x)
		raw = []string{strconv.Itoa(n)}
	case []any:
		for i, it := range x {
			switch y := it.(type) {
			case string:
				raw = append(raw, strings.Split(y, ",")...)
			case int, int64, float64:
				n, _ := asInt(y)
				raw = append(raw, strconv.Itoa(n))
			default:
				return nil, fmt.Errorf("[%d]: %v is not an interface name", i, it)
			}
		}
	default:
		return nil, fmt.Errorf("must be an interface name, a comma-separated list of them or a list")
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range raw {
		if d = strings.TrimSpace(d); d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

func checkPatterns(list []string) error {
	for _, d := range list {
		if IsDevicePattern(d) {
			if _, err := path.Match(d, ""); err != nil {
				return fmt.Errorf("%q is not a valid pattern (%v)", d, err)
			}
		}
	}
	return nil
}

// Capture types of a live device.
const (
	TypePcap     = "pcap"
	TypeAFPacket = "af_packet"
)

// checkInterface rejects options the chosen capture type cannot honour, so
// that none is accepted and silently ignored.
func checkInterface(iface *Interface) error {
	if iface.Fanout && iface.Type != TypeAFPacket {
		return errors.New("fanout_group: needs type: af_packet (libpcap cannot join a PACKET_FANOUT group)")
	}
	if iface.File != "" && len(iface.ExcludeDevices) > 0 {
		return fmt.Errorf("exclude_devices: the file %s is replayed, not captured from interfaces", iface.File)
	}
	entries := iface.DeviceEntries()
	if iface.File == "" && len(entries) > 1 {
		for _, d := range entries {
			if d == "any" {
				return fmt.Errorf("device: any captures every interface and cannot be listed with others (%s): their packets would be captured twice", iface.Device)
			}
		}
	}
	multi := iface.File == "" && (len(entries) > 1 || IsDevicePattern(entries[0]))
	if iface.Fanout && iface.AnyExcept() {
		// device any alone is one socket, which can join a group; with
		// exclusions it is one socket per interface.
		return fmt.Errorf("fanout_group: a PACKET_FANOUT group is bound to one socket, and device any with exclude_devices %s is one capture per interface: use one stream per interface, or device any without exclude_devices", strings.Join(iface.ExcludeDevices, ","))
	}
	if iface.Fanout && multi {
		return fmt.Errorf("fanout_group: a PACKET_FANOUT group is bound to one interface, and device %s names several: use one stream per interface", iface.Device)
	}
	if iface.PollDevices > 0 {
		pattern := iface.File == "" && iface.AnyExcept()
		for _, d := range entries {
			pattern = pattern || (iface.File == "" && IsDevicePattern(d))
		}
		if !pattern {
			return fmt.Errorf("poll_devices: needs a device pattern such as eth* or device any with exclude_devices, whose interfaces can come and go (device is %q)", iface.Device)
		}
	}
	if iface.PollDefaultRoute > 0 {
		route := false
		for _, d := range entries {
			route = route || strings.HasPrefix(d, "default_route")
		}
		if !route {
			return fmt.Errorf("poll_default_route: needs device default_route, default_route_ipv4 or default_route_ipv6 (device is %q)", iface.Device)
		}
	}
	if iface.File != "" && (iface.Type == TypeAFPacket || iface.Fanout) {
		return fmt.Errorf("type: af_packet captures a device, not the file %s", iface.File)
	}
	return nil
}

// datasetFor is the data stream of a stream type, from the registry
// (memcache's is memcached); "generic" for an unknown or empty type, whose
// stream fails anyway.
func datasetFor(typ string) string {
	if ds := protocol.DataStreamOf(typ); ds != "" {
		return ds
	}
	return "generic"
}

// KnownTypes lists stream types this build understands.
func KnownTypes() []string {
	return append([]string{TypeFlow, TypeICMP}, protocol.Names()...)
}

// Timeout returns a duration option of a stream (flows' timeout/period).
func (s *Stream) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := s.Options[key]
	if !ok || v == nil || v == "" {
		return def, nil
	}
	return protocol.AsDuration(v)
}

func checkPortCollisions(in *Input) error {
	for _, c := range in.Captures {
		owner := map[string]string{} // "tcp/80" -> stream id
		for _, st := range c.Streams {
			spec, ok := protocol.Lookup(st.Type)
			if !ok {
				continue
			}
			common, _, err := protocol.SplitCommon(spec, st.Options)
			if err != nil {
				continue // reported by parseStream
			}
			for _, p := range common.Ports {
				for _, tr := range transports(spec) {
					key := fmt.Sprintf("%s/%d", tr, p)
					if prev, dup := owner[key]; dup {
						return fmt.Errorf("port collision: %s port %d is claimed by both stream %s and stream %s; give each protocol its own ports", tr, p, prev, st.ID)
					}
					owner[key] = st.ID
				}
			}
		}
	}
	return nil
}

func transports(s *protocol.Spec) []string {
	var out []string
	if s.TCP {
		out = append(out, "tcp")
	}
	if s.UDP {
		out = append(out, "udp")
	}
	return out
}

// MonitoredProc is one procs.monitored entry.
type MonitoredProc struct {
	Process     string // the name published as process.name
	CmdlineGrep string // a substring of the process's command line
}

// asMonitored reads procs.monitored: a list of {process, cmdline_grep}.
func asMonitored(v any) ([]MonitoredProc, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("monitored: must be a list of {process, cmdline_grep}")
	}
	var out []MonitoredProc
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("monitored[%d]: must be a map with process and cmdline_grep", i)
		}
		var e MonitoredProc
		for k, val := range m {
			str, ok := val.(string)
			switch {
			case k != "process" && k != "cmdline_grep":
				return nil, fmt.Errorf("monitored[%d]: unknown key %q (process, cmdline_grep)", i, k)
			case !ok || str == "":
				return nil, fmt.Errorf("monitored[%d].%s: must be a non-empty string", i, k)
			case k == "process":
				e.Process = str
			default:
				e.CmdlineGrep = str
			}
		}
		if e.Process == "" || e.CmdlineGrep == "" {
			return nil, fmt.Errorf("monitored[%d]: needs both process and cmdline_grep", i)
		}
		out = append(out, e)
	}
	return out, nil
}

func asStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, it := range x {
			s, ok := it.(string)
			if !ok {
				s = fmt.Sprint(it)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings")
}

func asInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		return int(x), nil
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func asProcessors(v any) ([]map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be a list")
	}
	out := make([]map[string]any, 0, len(list))
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("processors[%d] must be a map", i)
		}
		out = append(out, m)
	}
	return out, nil
}

// localIPs reads the local_ips option: a list of IP addresses (or one
// string of them separated by commas).
func localIPs(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		v = strings.Split(s, ",")
		var out []any
		for _, x := range v.([]string) {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		v = out
	}
	list, err := asStrings(v)
	if err != nil {
		return nil, err
	}
	for _, ip := range list {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("%q is not an IP address", ip)
		}
	}
	return list, nil
}

// asFraction reads a number from 0 to 1 (a YAML number or a numeric string).
func asFraction(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, fmt.Errorf("%q is not a number from 0 to 1", x)
		}
	default:
		return 0, fmt.Errorf("%v is not a number from 0 to 1", v)
	}
	if !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("%v is not a fraction from 0 to 1 (0.1 is 10%%)", v)
	}
	return f, nil
}
