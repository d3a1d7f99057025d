package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/pkgbuild"
)

func parseYAML(t *testing.T, src string) (*config.Input, error) {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	return config.Parse(m)
}

// parseInterface parses src as the interface of a flow stream. With wantErr
// set, the stream must be refused with an error containing it; without, it
// must be accepted. ok says the stream was accepted as wanted, and iface is
// then its capture's interface.
func parseInterface(t *testing.T, src, wantErr string) (iface config.Interface, ok bool) {
	t.Helper()
	in, err := parseYAML(t, "type: packet\nstreams:\n  - {id: f, type: flow, interface: "+src+"}\n")
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	st := in.Streams[0]
	if wantErr != "" {
		if st.Err == nil || !strings.Contains(st.Err.Error(), wantErr) {
			t.Errorf("%s: err %v, want %q", src, st.Err, wantErr)
		}
		return iface, false
	}
	if st.Err != nil {
		t.Errorf("%s: %v", src, st.Err)
		return iface, false
	}
	return in.Captures[0].Interface, true
}

// Every data stream template of the package, rendered with its default
// vars as Fleet would, gives a stream this input accepts: its type is known
// (or reported as not implemented yet), its ports and _conf come through, and
// the target data stream is logs-network_traffic.<ds>-default.
func TestFleetRenderedStreamsParse(t *testing.T) {
	root := pkgbuild.SourceRoot()
	for _, ds := range pkgbuild.DataStreams {
		vars, err := pkgbuild.DefaultVars(root, ds)
		if err != nil {
			t.Fatal(err)
		}
		rendered, err := pkgbuild.RenderStream(ds, vars)
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		var stream map[string]any
		if err := yaml.Unmarshal([]byte(rendered), &stream); err != nil {
			t.Fatalf("%s: rendered template is not YAML: %v\n%s", ds, err, rendered)
		}
		stream["id"] = "packet-network_traffic." + ds + "-1"
		stream["data_stream"] = map[string]any{"dataset": "network_traffic." + ds, "type": "logs"}
		in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{stream}})
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		st := in.Streams[0]
		if st.Err != nil {
			if strings.Contains(st.Err.Error(), "unknown stream type") {
				if _, ok := protocol.Lookup(st.Type); !ok {
					t.Logf("%s: decoder not implemented yet (%v)", ds, st.Err)
					continue
				}
			}
			t.Errorf("%s: %v", ds, st.Err)
			continue
		}
		if got := st.Target(); got != "logs-network_traffic."+ds+"-default" {
			t.Errorf("%s: target %s", ds, got)
		}
		conf, _ := st.Fields["_conf"].(map[string]any)
		if conf["map_to_ecs"] != true || !st.FieldsUnderRoot {
			t.Errorf("%s: _conf %v under root %v", ds, st.Fields, st.FieldsUnderRoot)
		}
		if spec, ok := protocol.Lookup(st.Type); ok {
			common, _, err := protocol.SplitCommon(spec, st.Options)
			if err != nil {
				t.Errorf("%s: %v", ds, err)
			} else if len(common.Ports) == 0 {
				t.Errorf("%s: no ports", ds)
			}
		}
	}
}

func TestPortCollisionIsAClearError(t *testing.T) {
	_, err := parseYAML(t, `
streams:
  - {id: web, type: http, ports: [8080]}
  - {id: dns-alt, type: dns, ports: [53, 8080]}
`)
	if err == nil || !strings.Contains(err.Error(), "tcp port 8080 is claimed by both stream web and stream dns-alt") {
		t.Fatalf("want a collision error naming both streams, got %v", err)
	}
}

func TestBadStreamsAreReportedNotFatal(t *testing.T) {
	in, err := parseYAML(t, `
data_stream: {namespace: prod}
streams:
  - {id: good, type: http}
  - {id: typo, type: htttp}
  - {id: badport, type: dns, ports: [70000]}
  - {id: off, type: dns, enabled: false}
  - {id: badiface, type: flow, interface: {snaplen: big}}
`)
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, st := range in.Streams {
		if st.Err != nil {
			errs[st.ID] = st.Err.Error()
		}
	}
	if !strings.Contains(errs["typo"], `unknown stream type "htttp"`) {
		t.Errorf("typo: %q", errs["typo"])
	}
	if !strings.Contains(errs["badport"], "70000 is outside 1-65535") {
		t.Errorf("badport: %q", errs["badport"])
	}
	if !strings.Contains(errs["badiface"], "snaplen") {
		t.Errorf("badiface error should name the option: %q", errs["badiface"])
	}
	if _, ok := errs["good"]; ok || len(in.Captures) != 1 || len(in.Captures[0].Streams) != 1 {
		t.Errorf("good stream not kept alone: %v %+v", errs, in.Captures)
	}
	if in.Streams[0].DataStream.Namespace != "prod" {
		t.Errorf("namespace %q", in.Streams[0].DataStream.Namespace)
	}
}

func TestStreamsOnDifferentInterfacesGetTheirOwnSniffer(t *testing.T) {
	in, err := parseYAML(t, `
streams:
  - {id: a, type: http, interface: {device: lo}}
  - {id: b, type: dns, interface: {device: lo, with_vlans: true}}
  - {id: c, type: flow, interface: {device: any}}
  - {id: d, type: icmp, interface: /tmp/x.pcap}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Captures) != 3 {
		t.Fatalf("want 3 sniffers (lo, any, file), got %d", len(in.Captures))
	}
	if lo := in.Captures[0]; lo.Interface.Device != "lo" || !lo.Interface.WithVLANs || len(lo.Streams) != 2 {
		t.Errorf("lo sniffer %+v", lo.Interface)
	}
	if f := in.Captures[2]; f.Interface.File != "/tmp/x.pcap" {
		t.Errorf("pcap path as interface: %+v", f.Interface)
	}
}

// Capture options are honoured or refused by name: fanout_group and
// poll_default_route only where they can work.
func TestCaptureTypeOptions(t *testing.T) {
	cases := []struct {
		iface   string
		wantErr string // "" when accepted
		check   func(config.Interface) bool
	}{
		{`{device: eth0}`, "", func(i config.Interface) bool { return i.Type == "" && !i.Fanout }},
		{`{device: eth0, type: pcap}`, "", func(i config.Interface) bool { return i.Type == config.TypePcap }},
		{`{device: eth0, type: af_packet, buffer_size_mb: 64, fanout_group: 7}`, "",
			func(i config.Interface) bool {
				return i.Type == config.TypeAFPacket && i.Fanout && i.FanoutGroup == 7 && i.BufferSizeMB == 64
			}},
		{`{device: eth0, type: af_packet, fanout_group: 0}`, "", func(i config.Interface) bool { return i.Fanout && i.FanoutGroup == 0 }},
		{`{device: default_route, poll_default_route: 1m}`, "", func(i config.Interface) bool { return i.PollDefaultRoute.Minutes() == 1 }},
		{`{device: eth0, fanout_group: 7}`, "fanout_group: needs type: af_packet", nil},
		{`{device: eth0, type: pcap, fanout_group: 7}`, "fanout_group: needs type: af_packet", nil},
		{`{device: eth0, type: af_packet, fanout_group: 70000}`, "fanout_group", nil},
		{`{device: eth0, type: pf_ring}`, `capture type "pf_ring" is not supported`, nil},
		{`{device: eth0, poll_default_route: 1m}`, "poll_default_route: needs device default_route", nil},
		{`{device: default_route, poll_default_route: soon}`, "poll_default_route", nil},
		{`{file: x.pcap, type: af_packet}`, "type: af_packet captures a device", nil},
		{`{device: eth0, workers: 2}`, "", func(i config.Interface) bool { return i.Workers == 2 }},
		{`{file: x.pcap, workers: 4}`, "", func(i config.Interface) bool { return i.Workers == 4 }},
		{`{device: eth0}`, "", func(i config.Interface) bool { return i.Workers == 0 }},
		{`{device: eth0, workers: 0}`, "workers: 0 is not a worker count", nil},
		{`{device: eth0, workers: 65}`, "workers: 65 is not a worker count", nil},
		{`{device: eth0, workers: many}`, "workers", nil},
		{`{device: eth0}`, "", func(i config.Interface) bool { return i.LossThreshold() == 0.1 && !i.CaptureLossSet }},
		{`{device: eth0, capture_loss_threshold: 0.02}`, "", func(i config.Interface) bool { return i.LossThreshold() == 0.02 }},
		{`{device: eth0, capture_loss_threshold: 0}`, "", func(i config.Interface) bool { return i.CaptureLossSet && i.LossThreshold() == 0 }},
		{`{device: eth0, capture_loss_threshold: 1}`, "", func(i config.Interface) bool { return i.LossThreshold() == 1 }},
		{`{device: eth0, capture_loss_threshold: 10}`, "capture_loss_threshold: 10 is not a fraction from 0 to 1", nil},
		{`{device: eth0, capture_loss_threshold: -0.5}`, "capture_loss_threshold: -0.5 is not a fraction", nil},
		{`{device: eth0, capture_loss_threshold: lots}`, "capture_loss_threshold", nil},
		{`{device: eth0, metrics_interval: 30s}`, "", func(i config.Interface) bool { return i.MetricsInterval == 30*time.Second }},
		{`{device: eth0}`, "", func(i config.Interface) bool { return i.MetricsInterval == 0 }},
		{`{device: eth0, metrics_interval: 10ms}`, "metrics_interval: 10ms is not a period from 100ms to 1h", nil},
		{`{device: eth0, metrics_interval: 2h}`, "metrics_interval: 2h is not a period", nil},
		{`{device: eth0, metrics_interval: often}`, "metrics_interval", nil},
	}
	for _, c := range cases {
		if got, ok := parseInterface(t, c.iface, c.wantErr); ok && !c.check(got) {
			t.Errorf("%s: %+v", c.iface, got)
		}
	}
}

// Streams on one device share one socket: they must agree on its type and
// fanout group, or the later stream is refused, naming the earlier one.
func TestCaptureTypeConflicts(t *testing.T) {
	in, err := parseYAML(t, `type: packet
streams:
  - {id: a, type: flow, interface: {device: eth0, type: af_packet, fanout_group: 1}}
  - {id: b, type: icmp, interface: {device: eth0, type: pcap}}
  - {id: c, type: dns, interface: {device: eth0, type: af_packet, fanout_group: 2}}
  - {id: d, type: http, interface: {device: eth0, type: af_packet}}
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"b": "type pcap conflicts with type af_packet of stream a",
		"c": "fanout_group 2 conflicts with fanout_group 1 of stream a",
	}
	for _, st := range in.Streams {
		w := want[st.ID]
		switch {
		case w == "" && st.Err != nil:
			t.Errorf("%s: %v", st.ID, st.Err)
		case w != "" && (st.Err == nil || !strings.Contains(st.Err.Error(), w)):
			t.Errorf("%s: err %v, want %q", st.ID, st.Err, w)
		}
	}
	if len(in.Captures) != 1 || len(in.Captures[0].Streams) != 2 || !in.Captures[0].Interface.Fanout || in.Captures[0].Interface.FanoutGroup != 1 {
		t.Errorf("captures %+v", in.Captures[0])
	}
}

// Packetbeat's procs block: enabled and monitored (process names by
// cmdline_grep); a malformed entry takes the stream out, naming the option.
func TestProcsMonitored(t *testing.T) {
	in, err := parseYAML(t, `
streams:
  - id: named
    type: http
    procs:
      enabled: true
      monitored:
        - {process: mysqld, cmdline_grep: mariadbd}
        - {process: web, cmdline_grep: nginx}
  - {id: nogrep, type: dns, procs: {enabled: true, monitored: [{process: x}]}}
  - {id: typo, type: redis, procs: {enabled: true, monitored: [{process: x, cmdline: y}]}}
`)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*config.Stream{}
	for _, st := range in.Streams {
		byID[st.ID] = st
	}
	named := byID["named"]
	if named.Err != nil || !named.MonitorProcs || len(named.MonitoredProcs) != 2 ||
		named.MonitoredProcs[0] != (config.MonitoredProc{Process: "mysqld", CmdlineGrep: "mariadbd"}) ||
		named.MonitoredProcs[1] != (config.MonitoredProc{Process: "web", CmdlineGrep: "nginx"}) {
		t.Errorf("named: %+v %v", named.MonitoredProcs, named.Err)
	}
	for id, want := range map[string]string{"nogrep": "needs both process and cmdline_grep", "typo": `unknown key "cmdline"`} {
		if e := byID[id].Err; e == nil || !strings.Contains(e.Error(), "procs") || !strings.Contains(e.Error(), want) {
			t.Errorf("%s: error %v, want procs ... %s", id, e, want)
		}
	}
}

// The input-level detect is the default of every protocol that has a
// probe; a stream's own detect wins, and detect on a protocol that cannot
// be recognised by content takes that stream out with a clear error.
func TestDetectDefault(t *testing.T) {
	in, err := parseYAML(t, `
detect: true
streams:
  - {id: web, type: http}
  - {id: cache, type: redis, detect: false}
  - {id: dhcp, type: dhcpv4}
  - {id: q, type: quic, detect: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range in.Streams {
		if st.Err != nil {
			got[st.ID] = st.Err.Error()
			continue
		}
		spec, _ := protocol.Lookup(st.Type)
		c, _, err := protocol.SplitCommon(spec, st.Options)
		if err != nil {
			t.Fatalf("%s: %v", st.ID, err)
		}
		got[st.ID] = fmt.Sprint(c.Detect)
	}
	want := map[string]string{"web": "true", "cache": "false", "dhcp": "false",
		"q": "stream q (quic): detect: protocol quic cannot be detected by content"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if _, err := parseYAML(t, "detect: maybe\nstreams:\n  - {type: http}\n"); err == nil || !strings.Contains(err.Error(), "detect:") {
		t.Errorf("bad input-level detect: %v", err)
	}
}

func TestLocalIPsOption(t *testing.T) {
	in, err := config.Parse(map[string]any{"streams": []any{
		map[string]any{"id": "dns", "type": "dns", "interface": map[string]any{"file": "x.pcap", "local_ips": []any{"10.0.0.1", "fd00::1"}}},
		map[string]any{"id": "http", "type": "http", "local_ips": "10.0.0.1, 10.0.0.2", "interface": map[string]any{"file": "y.pcap"}},
		map[string]any{"id": "bad", "type": "redis", "interface": map[string]any{"local_ips": []any{"10.0.0.0/8"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range in.Captures {
		got[c.Interface.File] = c.Interface.LocalIPs
	}
	if fmt.Sprint(got["x.pcap"]) != "[10.0.0.1 fd00::1]" || fmt.Sprint(got["y.pcap"]) != "[10.0.0.1 10.0.0.2]" {
		t.Errorf("local_ips %v", got)
	}
	bad := in.Streams[2].Err
	if bad == nil || !strings.Contains(bad.Error(), `local_ips: "10.0.0.0/8" is not an IP address`) {
		t.Errorf("bad local_ips: %v", bad)
	}
}

// device takes one name, a comma-separated string or a list (names,
// indexes, default_route names, glob patterns), and exclude_devices names or
// patterns (also out of any); what cannot work (any beside others, fanout
// over several interfaces) is refused naming the option.
func TestDeviceLists(t *testing.T) {
	cases := []struct {
		iface, wantErr string
		devices        []string // Devices ("" entries: nil)
		device         string
		exclude        []string
	}{
		{iface: `{device: eth0}`, device: "eth0"},
		{iface: `eth0`, device: "eth0"},
		{iface: `{device: ""}`, device: "any"},
		{iface: `{device: "eth0, eth1"}`, device: "eth0,eth1", devices: []string{"eth0", "eth1"}},
		{iface: `"eth0,eth1"`, device: "eth0,eth1", devices: []string{"eth0", "eth1"}},
		{iface: `{device: [eth0, "eth1,eth2", eth0, 3]}`, device: "eth0,eth1,eth2,3", devices: []string{"eth0", "eth1", "eth2", "3"}},
		{iface: `{device: [eth0]}`, device: "eth0"},
		{iface: `{device: 2}`, device: "2"},
		{iface: `{device: "veth*", exclude_devices: [veth1, "vethx?"]}`, device: "veth*", exclude: []string{"veth1", "vethx?"}},
		{iface: `{device: [default_route, eth9], poll_default_route: 1m}`, device: "default_route,eth9", devices: []string{"default_route", "eth9"}},
		{iface: `{device: "eth*", exclude_devices: "eth1,eth2"}`, device: "eth*", exclude: []string{"eth1", "eth2"}},
		{iface: `{device: [any, eth0]}`, wantErr: "device: any captures every interface and cannot be listed with others"},
		{iface: `{device: "eth0,any"}`, wantErr: "device: any captures every interface"},
		{iface: `{device: any, exclude_devices: [lo, "veth*"]}`, device: "any", exclude: []string{"lo", "veth*"}},
		{iface: `{exclude_devices: [lo]}`, device: "any", exclude: []string{"lo"}},
		{iface: `{device: any, type: af_packet, fanout_group: 3}`, device: "any"},
		{iface: `{device: any, exclude_devices: [lo], type: af_packet, fanout_group: 3}`, wantErr: "fanout_group: a PACKET_FANOUT group is bound to one socket, and device any with exclude_devices lo is one capture per interface"},
		{iface: `{file: x.pcap, exclude_devices: [lo]}`, wantErr: "exclude_devices: the file x.pcap is replayed"},
		{iface: `{device: "eth[", exclude_devices: [lo]}`, wantErr: `device: "eth[" is not a valid pattern`},
		{iface: `{device: "eth*", exclude_devices: ["[x"]}`, wantErr: `exclude_devices: "[x" is not a valid pattern`},
		{iface: `{device: [eth0, {a: 1}]}`, wantErr: "device: [1]"},
		{iface: `{device: [eth0, eth1], type: af_packet, fanout_group: 3}`, wantErr: "fanout_group: a PACKET_FANOUT group is bound to one interface"},
		{iface: `{device: "eth*", type: af_packet, fanout_group: 3}`, wantErr: "fanout_group: a PACKET_FANOUT group is bound to one interface"},
		{iface: `{device: [eth0, eth1], poll_default_route: 1m}`, wantErr: "poll_default_route: needs device default_route"},
		{iface: `{device: "eth*", poll_devices: 500ms}`, device: "eth*"},
		{iface: `{device: any, exclude_devices: [lo], poll_devices: 10s}`, device: "any", exclude: []string{"lo"}},
		{iface: `{device: "eth*", poll_devices: 50ms}`, wantErr: "poll_devices: 50ms is not a period from 100ms to 1h"},
		{iface: `{device: "eth*", poll_devices: 2h}`, wantErr: "poll_devices: 2h is not a period from 100ms to 1h"},
		{iface: `{device: "eth*", poll_devices: often}`, wantErr: "poll_devices:"},
		{iface: `{device: [eth0, eth1], poll_devices: 1s}`, wantErr: "poll_devices: needs a device pattern such as eth* or device any with exclude_devices"},
		{iface: `{device: any, poll_devices: 1s}`, wantErr: "poll_devices: needs a device pattern"},
	}
	for _, c := range cases {
		got, ok := parseInterface(t, c.iface, c.wantErr)
		if !ok {
			continue
		}
		if got.Device != c.device || !reflect.DeepEqual(got.Devices, c.devices) || !reflect.DeepEqual(got.ExcludeDevices, c.exclude) {
			t.Errorf("%s: device %q devices %q exclude %q; want %q %q %q", c.iface, got.Device, got.Devices, got.ExcludeDevices, c.device, c.devices, c.exclude)
		}
	}
}

// device any with exclude_devices selects with the pattern "*" (every
// interface less those); any alone, a name or a list keep their entries.
func TestSelectEntries(t *testing.T) {
	for _, c := range []struct {
		iface config.Interface
		want  string
	}{
		{config.Interface{Device: "any"}, "[any]"},
		{config.Interface{Device: "any", ExcludeDevices: []string{"lo"}}, "[*]"},
		{config.Interface{Device: "", ExcludeDevices: []string{"lo"}}, "[*]"},
		{config.Interface{Device: "eth*", ExcludeDevices: []string{"eth1"}}, "[eth*]"},
		{config.Interface{Device: "eth0,eth1", Devices: []string{"eth0", "eth1"}, ExcludeDevices: []string{"eth1"}}, "[eth0 eth1]"},
		{config.Interface{File: "x.pcap", Device: "any", ExcludeDevices: []string{"lo"}}, "[any]"},
	} {
		if got := fmt.Sprint(c.iface.SelectEntries()); got != c.want {
			t.Errorf("%+v: %s, want %s", c.iface, got, c.want)
		}
	}
}

// poll_devices is the set's look interval, its default 2s; streams on one
// set that ask for different intervals get the shortest.
func TestPollDevices(t *testing.T) {
	in, err := parseYAML(t, `type: packet
streams:
  - {id: a, type: flow, interface: {device: "eth*", poll_devices: 5s}}
  - {id: b, type: icmp, interface: {device: "eth*", poll_devices: 300ms}}
  - {id: c, type: dns, interface: {device: "veth*"}}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Captures) != 2 {
		t.Fatalf("%d captures", len(in.Captures))
	}
	if got := in.Captures[0].Interface.PollDevicesEvery(); got != 300*time.Millisecond {
		t.Errorf("eth*: every %v, want 300ms", got)
	}
	if got := in.Captures[1].Interface.PollDevicesEvery(); got != 2*time.Second {
		t.Errorf("veth*: every %v, want the default 2s", got)
	}
}

// Streams naming the same device set, in any order, share one capture;
// streams on that set that disagree on the capture type are refused as for
// one device; another exclusion is another capture.
func TestDeviceSetsGroupStreams(t *testing.T) {
	in, err := parseYAML(t, `type: packet
streams:
  - {id: a, type: flow, interface: {device: [eth0, eth1], type: af_packet}}
  - {id: b, type: icmp, interface: {device: "eth1,eth0", type: af_packet}}
  - {id: c, type: dns, interface: {device: [eth1, eth0], type: pcap}}
  - {id: d, type: http, interface: {device: "eth*", exclude_devices: [eth2]}}
  - {id: e, type: redis, interface: {device: "eth*"}}
`)
	if err != nil {
		t.Fatal(err)
	}
	if st := in.Streams[2]; st.Err == nil || !strings.Contains(st.Err.Error(), "type pcap conflicts with type af_packet of stream a") {
		t.Errorf("c: %v", st.Err)
	}
	if len(in.Captures) != 3 {
		t.Fatalf("%d captures, want 3", len(in.Captures))
	}
	if n := len(in.Captures[0].Streams); n != 2 {
		t.Errorf("eth0+eth1 capture has %d streams, want 2", n)
	}
	if k0, k1 := in.Captures[1].Interface.Key(), in.Captures[2].Interface.Key(); k0 == k1 {
		t.Errorf("keys %q and %q should differ", k0, k1)
	}
}

// The Fleet capture vars, rendered by every stream template, parse into the
// interface they say.
func TestFleetCaptureVarsParse(t *testing.T) {
	root := pkgbuild.SourceRoot()
	for _, ds := range pkgbuild.DataStreams {
		vars, err := pkgbuild.DefaultVars(root, ds)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"interface": "eth0, veth*", "exclude_devices": []any{"veth9"},
			"capture_type": "af_packet", "buffer_size_mb": 64, "snaplen": 9000, "workers": 2} {
			vars[k] = v
		}
		rendered, err := pkgbuild.RenderStream(ds, vars)
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		var stream map[string]any
		if err := yaml.Unmarshal([]byte(rendered), &stream); err != nil {
			t.Fatalf("%s: %v\n%s", ds, err, rendered)
		}
		in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{stream}})
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		if st := in.Streams[0]; st.Err != nil {
			if _, ok := protocol.Lookup(st.Type); !ok && st.Type != config.TypeFlow && st.Type != config.TypeICMP {
				continue
			}
			t.Errorf("%s: %v", ds, st.Err)
			continue
		}
		got := in.Captures[0].Interface
		if fmt.Sprintf("%v %v %s %d %d %d", got.Devices, got.ExcludeDevices, got.Type, got.BufferSizeMB, got.Snaplen, got.Workers) != "[eth0 veth*] [veth9] af_packet 64 9000 2" {
			t.Errorf("%s: interface %+v", ds, got)
		}
	}
}
