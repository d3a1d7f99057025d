package config_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/pkgbuild"
)

// renderPolicy renders the given data streams with their default vars
// plus vars (input-level and stream-level alike, as Fleet merges them)
// and parses the result as one packet input.
func renderPolicy(t *testing.T, vars map[string]map[string]any, common map[string]any, dss ...string) *config.Input {
	t.Helper()
	var streams []any
	for _, ds := range dss {
		v, err := pkgbuild.DefaultVars(pkgbuild.SourceRoot(), ds)
		if err != nil {
			t.Fatal(err)
		}
		for k, x := range common {
			v[k] = x
		}
		for k, x := range vars[ds] {
			v[k] = x
		}
		out, err := pkgbuild.RenderStream(ds, v)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := yaml.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("%s: %v\n%s", ds, err, out)
		}
		st["id"] = ds
		st["data_stream"] = map[string]any{"dataset": "network_traffic." + ds, "type": "logs"}
		streams = append(streams, st)
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range in.Streams {
		if st.Err != nil {
			t.Fatalf("%s: %v", st.ID, st.Err)
		}
	}
	return in
}

func detectOf(t *testing.T, in *config.Input) map[string]bool {
	got := map[string]bool{}
	for _, st := range in.Streams {
		spec, _ := protocol.Lookup(st.Type)
		if spec == nil {
			continue
		}
		c, _, err := protocol.SplitCommon(spec, st.Options)
		if err != nil {
			t.Fatalf("%s: %v", st.ID, err)
		}
		got[st.ID] = c.Detect
	}
	return got
}

// The Fleet vars of detection and tunnels (manifest.yml's input vars,
// each TCP protocol's `detect`) reach the options input/config parses.
func TestFleetDetectAndTunnelVars(t *testing.T) {
	// Defaults: no detection, tunnels as built in.
	in := renderPolicy(t, nil, nil, "http", "redis", "flow")
	if got := detectOf(t, in); got["http"] || got["redis"] {
		t.Errorf("detect by default: %v", got)
	}
	if tun := in.Captures[0].Interface.Tunnels; tun != nil {
		t.Errorf("default tunnels %+v, want nil (built-in defaults)", *tun)
	}

	// One stream's own switch (the select var detection: default, on, off).
	in = renderPolicy(t, map[string]map[string]any{"redis": {"detection": "on"}}, nil, "http", "redis", "flow")
	if got := detectOf(t, in); got["http"] || !got["redis"] {
		t.Errorf("redis detect only: %v", got)
	}

	// The input-level default turns it on for every protocol with a probe,
	// and renders nothing into streams that have none (flow, icmp, quic).
	in = renderPolicy(t, nil, map[string]any{"detect_default": true},
		"http", "tls", "redis", "pgsql", "mysql", "mongodb", "amqp", "cassandra", "memcached",
		"thrift", "nfs", "sip", "dns", "flow", "icmp", "quic")
	got := detectOf(t, in)
	for _, ds := range []string{"http", "tls", "redis", "pgsql", "mysql", "mongodb", "amqp", "cassandra",
		"memcached", "thrift", "nfs", "sip", "dns"} {
		if !got[ds] {
			t.Errorf("%s: detect off under detect_default", ds)
		}
	}
	if got["quic"] {
		t.Error("quic detected")
	}

	// Tunnels: every option, with VLANs on alongside.
	in = renderPolicy(t, nil, map[string]any{
		"with_vlans":           true,
		"tunnels_disabled":     true,
		"tunnels_max_depth":    2,
		"tunnels_vxlan_ports":  []any{"4789", "8472"},
		"tunnels_geneve_ports": []any{"6081"},
		"tunnels_gtpu_ports":   []any{"2152", "2123"},
	}, "http", "dns")
	if len(in.Captures) != 1 {
		t.Fatalf("%d captures", len(in.Captures))
	}
	iface := in.Captures[0].Interface
	want := &config.Tunnels{Disabled: true, MaxDepth: 2, VXLANPorts: []uint16{4789, 8472},
		GenevePorts: []uint16{6081}, GTPUPorts: []uint16{2152, 2123}}
	if !iface.WithVLANs || !reflect.DeepEqual(iface.Tunnels, want) {
		t.Errorf("with_vlans %v tunnels %+v, want %+v", iface.WithVLANs, iface.Tunnels, want)
	}
	// Only a port list: the rest keeps the built-in defaults.
	in = renderPolicy(t, nil, map[string]any{"tunnels_vxlan_ports": []any{"8472"}}, "flow")
	if tun := in.Captures[0].Interface.Tunnels; tun == nil || tun.Disabled || tun.MaxDepth != 0 ||
		!reflect.DeepEqual(tun.VXLANPorts, []uint16{8472}) || tun.GenevePorts != nil {
		t.Errorf("vxlan ports only: %+v", tun)
	}
	// A bad depth is an error naming the option.
	err := flowStreamErr(t, map[string]any{"tunnels_max_depth": 9})
	if err == nil || !strings.Contains(err.Error(), "max_depth") {
		t.Errorf("tunnels_max_depth 9: %v", err)
	}
}

// A stream's detection select has three values, and each does what its
// label says whatever the input-level detect_default: "default" follows
// it, "on" and "off" override it (off could not be said while detection
// was a bool: false and unset rendered the same).
func TestFleetDetectionThreeWays(t *testing.T) {
	for _, tc := range []struct {
		detection     any // nil: the stream var's default
		detectDefault bool
		want          bool
		rendered      string // the detect line of the rendered stream, "" for none
	}{
		{nil, false, false, ""},
		{nil, true, true, "detect: true"},
		{"default", false, false, ""},
		{"default", true, true, "detect: true"},
		{"on", false, true, "detect: true"},
		{"on", true, true, "detect: true"},
		{"off", false, false, "detect: false"},
		{"off", true, false, "detect: false"},
	} {
		name := fmt.Sprintf("detection=%v,detect_default=%v", tc.detection, tc.detectDefault)
		for _, ds := range []string{"http", "redis", "memcached", "dns"} {
			v, err := pkgbuild.DefaultVars(pkgbuild.SourceRoot(), ds)
			if err != nil {
				t.Fatal(err)
			}
			if v["detection"] != "default" {
				t.Fatalf("%s: detection defaults to %v", ds, v["detection"])
			}
			vars := map[string]map[string]any{ds: {}}
			if tc.detection != nil {
				vars[ds]["detection"] = tc.detection
			}
			common := map[string]any{"detect_default": tc.detectDefault}
			v["detect_default"] = tc.detectDefault
			for k, x := range vars[ds] {
				v[k] = x
			}
			out, err := pkgbuild.RenderStream(ds, v)
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "detect:") {
					if line != "" {
						t.Errorf("%s %s: two detect lines", name, ds)
					}
					line = l
				}
			}
			if line != tc.rendered {
				t.Errorf("%s %s: rendered %q, want %q", name, ds, line, tc.rendered)
			}
			if got := detectOf(t, renderPolicy(t, vars, common, ds)); got[ds] != tc.want {
				t.Errorf("%s %s: detect %v, want %v", name, ds, got[ds], tc.want)
			}
		}
	}
}

// poll_devices reaches the interface of every stream, with device any and
// exclusions; an out-of-range value fails the stream naming the option.
func TestFleetPollDevicesVar(t *testing.T) {
	in := renderPolicy(t, nil, map[string]any{"exclude_devices": []any{"lo", "veth*"}, "poll_devices": "500ms"}, "http", "dns", "flow")
	if len(in.Captures) != 1 {
		t.Fatalf("%d captures", len(in.Captures))
	}
	iface := in.Captures[0].Interface
	if !iface.AnyExcept() || iface.PollDevicesEvery() != 500*time.Millisecond || fmt.Sprint(iface.ExcludeDevices) != "[lo veth*]" {
		t.Errorf("interface %+v", iface)
	}
	err := flowStreamErr(t, map[string]any{"interface": "veth*", "poll_devices": "10ms"})
	if err == nil || !strings.Contains(err.Error(), "poll_devices: 10ms is not a period from 100ms to 1h") {
		t.Errorf("poll_devices 10ms: %v", err)
	}
}

// fanout_group 0 (a group id the kernel accepts) reaches the interface as
// group 0 with fanout on; unset, no fanout.
func TestFleetFanoutGroupZero(t *testing.T) {
	in := renderPolicy(t, nil, map[string]any{"interface": "eth0", "capture_type": "af_packet", "fanout_group": 0}, "http", "flow")
	iface := in.Captures[0].Interface
	if !iface.Fanout || iface.FanoutGroup != 0 || iface.Type != config.TypeAFPacket {
		t.Errorf("fanout_group 0: fanout %v group %d type %s", iface.Fanout, iface.FanoutGroup, iface.Type)
	}
	in = renderPolicy(t, nil, map[string]any{"interface": "eth0", "capture_type": "af_packet"}, "http", "flow")
	if iface := in.Captures[0].Interface; iface.Fanout {
		t.Errorf("fanout_group unset: fanout on, group %d", iface.FanoutGroup)
	}
}

// flowStreamErr renders the flow stream with its default vars and the
// given ones, as Fleet compiles it, and returns the error parsing it
// reports for the input or the stream (nil if it is accepted).
func flowStreamErr(t *testing.T, vars map[string]any) error {
	t.Helper()
	v, err := pkgbuild.DefaultVars(pkgbuild.SourceRoot(), "flow")
	if err != nil {
		t.Fatal(err)
	}
	for k, x := range vars {
		v[k] = x
	}
	out, err := pkgbuild.RenderStream("flow", v)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := yaml.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	st["id"] = "flow"
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{st}})
	if err == nil {
		err = in.Streams[0].Err
	}
	return err
}
