package pkgbuild

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var packetbeatType = map[string]string{"memcached": "memcache"}

func renderDefault(t *testing.T, ds string, override map[string]any) map[string]any {
	t.Helper()
	vars, err := DefaultVars(SourceRoot(), ds)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range override {
		vars[k] = v
	}
	out, err := RenderStream(ds, vars)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("%s: rendered config is not YAML: %v\n%s", ds, err, out)
	}
	return cfg
}

// Every stream template renders with Fleet's defaults into the config our packet input reads.
func TestStreamTemplatesRenderDefaults(t *testing.T) {
	for _, ds := range DataStreams {
		t.Run(ds, func(t *testing.T) {
			cfg := renderDefault(t, ds, nil)
			want := ds
			if pt, ok := packetbeatType[ds]; ok {
				want = pt
			}
			if cfg["type"] != want {
				t.Errorf("type = %v, want %s", cfg["type"], want)
			}
			vars, _ := DefaultVars(SourceRoot(), ds)
			if ports, ok := vars["port"]; ok {
				if !reflect.DeepEqual(cfg["ports"], ports) {
					t.Errorf("ports = %v, want manifest default %v", cfg["ports"], ports)
				}
			} else if _, has := cfg["ports"]; has {
				t.Errorf("%s has no port var but renders ports", ds)
			}
			if cfg["fields_under_root"] != true {
				t.Errorf("fields_under_root = %v", cfg["fields_under_root"])
			}
			conf, _ := cfg["fields"].(map[string]any)["_conf"].(map[string]any)
			if conf["geoip_enrich"] != true || conf["map_to_ecs"] != true {
				t.Errorf("fields._conf = %v, want geoip_enrich and map_to_ecs true", conf)
			}
			procs, _ := cfg["processors"].([]any)
			if len(procs) != 1 || !hasKey(procs[0], "add_host_metadata") {
				t.Errorf("processors = %v, want [add_host_metadata]", procs)
			}
			// Defaults leave the capture settings to the input: the
			// interfaces block (rendered whole, since Fleet's Handlebars has
			// no "or" for its optional keys) holds an empty tunnels map.
			if ifs, has := cfg["interfaces"]; has && !reflect.DeepEqual(ifs, map[string]any{"tunnels": nil}) {
				t.Errorf("default config has interfaces: %v", ifs)
			}
			if _, has := cfg["detect"]; has {
				t.Errorf("default config has detect: %v", cfg["detect"])
			}
			for _, k := range []string{"interface", "tags", "procs", "npcap", "ignore_outgoing"} {
				if _, has := cfg[k]; has {
					t.Errorf("default config has %s: %v", k, cfg[k])
				}
			}
		})
	}
}

func hasKey(v any, k string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, has := m[k]
	return has
}

// User settings reach the config: forwarded tag, processors, pcap file vs device, VLANs,
// protocol options, booleans that default to true can be turned off.
func TestStreamTemplateUserSettings(t *testing.T) {
	cfg := renderDefault(t, "http", map[string]any{
		"tags":                []any{"forwarded", "lab"},
		"processors":          "- drop_fields:\n    fields: [http.request.headers]",
		"interface":           "/tmp/capture.pcap",
		"with_vlans":          true,
		"ignore_outgoing":     true,
		"monitor_processes":   true,
		"send_headers":        []any{"User-Agent", "Host"},
		"decode_body":         false,
		"transaction_timeout": "30s",
		"port":                []any{8080},
	})
	procs := cfg["processors"].([]any)
	if len(procs) != 2 || !hasKey(procs[0], "add_observer_metadata") || !hasKey(procs[1], "drop_fields") {
		t.Errorf("processors = %v", procs)
	}
	// The capture's observer.ingress.interface.name is kept.
	if obs, _ := procs[0].(map[string]any)["add_observer_metadata"].(map[string]any); obs["replace_fields"] != false {
		t.Errorf("add_observer_metadata = %v, want replace_fields false", procs[0])
	}
	checks := map[string]any{
		"tags":                []any{"forwarded", "lab"},
		"interface":           map[string]any{"file": "/tmp/capture.pcap"},
		"interfaces":          map[string]any{"with_vlans": true, "tunnels": nil},
		"ignore_outgoing":     true,
		"procs":               map[string]any{"enabled": true},
		"send_headers":        []any{"User-Agent", "Host"},
		"decode_body":         false,
		"transaction_timeout": "30s",
		"ports":               []any{8080},
	}
	for k, want := range checks {
		if !reflect.DeepEqual(cfg[k], want) {
			t.Errorf("%s = %#v, want %#v", k, cfg[k], want)
		}
	}

	dev := renderDefault(t, "dns", map[string]any{"interface": "eth0"})
	if !reflect.DeepEqual(dev["interface"], map[string]any{"device": "eth0"}) {
		t.Errorf("interface = %v, want device eth0", dev["interface"])
	}
	sip := renderDefault(t, "sip", map[string]any{"use_tcp": true})
	if sip["transport_protocol"] != "tcp" {
		t.Errorf("sip transport_protocol = %v", sip["transport_protocol"])
	}
	flow := renderDefault(t, "flow", map[string]any{"period": "-1s"})
	if flow["period"] != "-1s" || flow["timeout"] != "30s" || flow["underlay_flows"] != true {
		t.Errorf("flow period/timeout/underlay_flows = %v/%v/%v", flow["period"], flow["timeout"], flow["underlay_flows"])
	}
	if off := renderDefault(t, "flow", map[string]any{"underlay_flows": false}); off["underlay_flows"] != false {
		t.Errorf("flow underlay_flows = %v, want false", off["underlay_flows"])
	}
}

func TestHandlebarsSubset(t *testing.T) {
	tmpl := "a: {{x}}\n{{#if l}}\nl:\n{{#each l}}\n  - {{this}}\n{{/each}}\n{{/if}}\n{{#contains \"b\" l}}\nhas: b\n{{else}}\nhas: none\n{{/contains}}\n{{#if (contains \".pcap\" f)}}\nfile: {{f}}\n{{/if}}\nend\n"
	cases := []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"x": 1, "l": []any{"a", "b"}, "f": "x.pcap"}, "a: 1\nl:\n  - a\n  - b\nhas: b\nfile: x.pcap\nend\n"},
		{map[string]any{"x": "s", "l": []any{}, "f": "eth0"}, "a: s\nhas: none\nend\n"},
		{map[string]any{}, "a: \nhas: none\nend\n"},
	}
	for _, c := range cases {
		got, err := renderTemplate(tmpl, c.vars)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("vars %v:\ngot  %q\nwant %q", c.vars, got, c.want)
		}
	}
	for _, bad := range []string{"{{#if x}}never closed", "{{#with x}}{{/with}}", "{{x", "{{#if x}}{{/each}}"} {
		if _, err := renderTemplate(bad, nil); err == nil {
			t.Errorf("%q rendered without error", bad)
		}
	}
}

func TestRenderStreamUnknownDataStream(t *testing.T) {
	if _, err := RenderStream("nosuch", nil); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("want error naming nosuch, got %v", err)
	}
}

// The interface vars of a production host reach the interface map of every
// stream: several devices (comma-separated), exclusions, the capture type
// and ring options; any one of them alone opens the map.
func TestStreamTemplateCaptureVars(t *testing.T) {
	for _, ds := range DataStreams {
		cfg := renderDefault(t, ds, map[string]any{
			"interface":       "eth0,veth*",
			"exclude_devices": []any{"veth9", "vethx*"},
			"capture_type":    "af_packet",
			"buffer_size_mb":  64,
			"snaplen":         9000,
			"workers":         2,
			"poll_devices":    "500ms",
		})
		want := map[string]any{"device": "eth0,veth*", "exclude_devices": []any{"veth9", "vethx*"},
			"type": "af_packet", "buffer_size_mb": 64, "snaplen": 9000, "workers": 2, "poll_devices": "500ms"}
		if !reflect.DeepEqual(cfg["interface"], want) {
			t.Errorf("%s: interface = %#v, want %#v", ds, cfg["interface"], want)
		}
		one := renderDefault(t, ds, map[string]any{"capture_type": "af_packet", "fanout_group": 7})
		if want := map[string]any{"type": "af_packet", "fanout_group": 7}; !reflect.DeepEqual(one["interface"], want) {
			t.Errorf("%s: interface = %#v, want %#v", ds, one["interface"], want)
		}
		// Group 0 is a group the kernel accepts: rendered, not taken for unset.
		zero := renderDefault(t, ds, map[string]any{"capture_type": "af_packet", "fanout_group": 0})
		if want := map[string]any{"type": "af_packet", "fanout_group": 0}; !reflect.DeepEqual(zero["interface"], want) {
			t.Errorf("%s: interface = %#v, want %#v", ds, zero["interface"], want)
		}
		if none := renderDefault(t, ds, map[string]any{"fanout_group": nil}); none["interface"] != nil {
			t.Errorf("%s: fanout_group unset renders interface %#v", ds, none["interface"])
		}
		poll := renderDefault(t, ds, map[string]any{"poll_devices": "1s"})
		if want := map[string]any{"poll_devices": "1s"}; !reflect.DeepEqual(poll["interface"], want) {
			t.Errorf("%s: interface = %#v, want %#v", ds, poll["interface"], want)
		}
		file := renderDefault(t, ds, map[string]any{"interface": "/tmp/x.pcap", "workers": 2})
		if want := map[string]any{"file": "/tmp/x.pcap", "workers": 2}; !reflect.DeepEqual(file["interface"], want) {
			t.Errorf("%s: interface = %#v, want %#v", ds, file["interface"], want)
		}
	}
}

// includeZero=true makes 0 true, as handlebars.js's if does; nil, "" and
// false stay false.
func TestHBSIncludeZero(t *testing.T) {
	tmpl := "{{#if n includeZero=true}}yes {{n}}{{else}}no{{/if}}|{{#if n}}t{{else}}f{{/if}}"
	for _, c := range []struct {
		n    any
		want string
	}{{0, "yes 0|f"}, {7, "yes 7|t"}, {nil, "no|f"}, {"", "no|f"}, {false, "no|f"}, {0.0, "yes 0|f"}} {
		got, err := renderTemplate(tmpl, map[string]any{"n": c.n})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("n=%#v: %q, want %q", c.n, got, c.want)
		}
	}
	if _, err := renderTemplate("{{#if n includeZero=yes}}x{{/if}}", nil); err == nil {
		t.Error("includeZero=yes accepted")
	}
}
