package capture

import (
	"errors"
	"reflect"
	"testing"

	"github.com/network-traffic/network-traffic/input/config"
)

// planInput is a config of one capture per device, each with the given
// streams (copied, so a case can change one without touching the base).
func planInput(devices map[string][]config.Stream, order ...string) *config.Input {
	in := &config.Input{}
	for _, dev := range order {
		c := &config.Capture{Interface: config.Interface{Device: dev}}
		for _, st := range devices[dev] {
			s := st
			s.Enabled = true
			c.Streams = append(c.Streams, &s)
			in.Streams = append(in.Streams, &s)
		}
		in.Captures = append(in.Captures, c)
	}
	return in
}

func TestPlanReconfigure(t *testing.T) {
	httpS := config.Stream{ID: "http-1", Type: "http", Options: map[string]any{"ports": []any{80}}}
	dnsS := config.Stream{ID: "dns-1", Type: "dns", Options: map[string]any{"ports": []any{53}}}
	flowS := config.Stream{ID: "flow-1", Type: "flow", Options: map[string]any{"timeout": "30s"}}
	base := planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS}}, "eth0")

	with := func(change func(*config.Stream), id string) *config.Input {
		var list []config.Stream
		for _, st := range []config.Stream{httpS, dnsS, flowS} {
			if st.ID == id {
				change(&st)
			}
			list = append(list, st)
		}
		return planInput(map[string][]config.Stream{"eth0": list}, "eth0")
	}
	type want struct {
		kind          reconfigKind
		keep          []string
		build, retire []string
	}
	cases := []struct {
		name string
		new  *config.Input
		want want
	}{
		{"identical", planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS}}, "eth0"), want{kind: keepAll}},
		{"tags and processors only", with(func(s *config.Stream) {
			s.Tags = []string{"web"}
			s.Processors = []map[string]any{{"add_tags": map[string]any{"tags": []any{"x"}}}}
			s.Fields = map[string]any{"team": "a"}
		}, "http-1"), want{kind: keepAll}},
		{"a protocol option", with(func(s *config.Stream) { s.Options = map[string]any{"ports": []any{80, 8080}} }, "http-1"),
			want{inPlace, []string{"dns-1", "flow-1"}, []string{"http-1"}, []string{"http-1"}}},
		{"keep_null", with(func(s *config.Stream) { s.KeepNull = true }, "dns-1"),
			want{inPlace, []string{"http-1", "flow-1"}, []string{"dns-1"}, []string{"dns-1"}}},
		// Process monitoring is set up when the publisher is built: a change
		// must rebuild the stream, not be taken for metadata.
		{"monitor_processes", with(func(s *config.Stream) { s.MonitorProcs = true }, "http-1"),
			want{inPlace, []string{"dns-1", "flow-1"}, []string{"http-1"}, []string{"http-1"}}},
		{"the flow timeout", with(func(s *config.Stream) { s.Options = map[string]any{"timeout": "10s"} }, "flow-1"),
			want{inPlace, []string{"http-1", "dns-1"}, []string{"flow-1"}, []string{"flow-1"}}},
		{"a stream added", planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS,
			{ID: "redis-1", Type: "redis", Options: map[string]any{"ports": []any{6379}}}}}, "eth0"),
			want{inPlace, []string{"http-1", "dns-1", "flow-1"}, []string{"redis-1"}, nil}},
		{"a stream removed", planInput(map[string][]config.Stream{"eth0": {httpS, flowS}}, "eth0"),
			want{inPlace, []string{"http-1", "flow-1"}, nil, []string{"dns-1"}}},
		{"a stream's type changed under its id", with(func(s *config.Stream) { s.Type = "tls" }, "http-1"),
			want{inPlace, []string{"dns-1", "flow-1"}, []string{"http-1"}, []string{"http-1"}}},
		{"streams reordered", planInput(map[string][]config.Stream{"eth0": {dnsS, httpS, flowS}}, "eth0"),
			want{inPlace, []string{"http-1", "dns-1", "flow-1"}, nil, nil}},
		{"another device", planInput(map[string][]config.Stream{"eth1": {httpS, dnsS, flowS}}, "eth1"), want{kind: rebuild}},
		{"a second capture", planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS}, "eth1": {dnsS}}, "eth0", "eth1"), want{kind: rebuild}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := planReconfigure(base, c.new)
			if plan.kind != c.want.kind {
				t.Fatalf("kind %v, want %v", plan.kind, c.want.kind)
			}
			if plan.kind != inPlace {
				if plan.captures != nil {
					t.Fatalf("%v plan has capture plans: %+v", plan.kind, plan.captures)
				}
				return
			}
			if len(plan.captures) != 1 {
				t.Fatalf("%d capture plans", len(plan.captures))
			}
			cp := plan.captures[0]
			keep := map[string]bool{}
			for _, id := range c.want.keep {
				keep[id] = true
			}
			if !reflect.DeepEqual(cp.keep, keep) {
				t.Errorf("keep %v, want %v", cp.keep, keep)
			}
			if !reflect.DeepEqual(cp.build, c.want.build) {
				t.Errorf("build %v, want %v", cp.build, c.want.build)
			}
			if !reflect.DeepEqual(cp.retire, c.want.retire) {
				t.Errorf("retire %v, want %v", cp.retire, c.want.retire)
			}
		})
	}
	// ignore_outgoing is a capture setting: the captures are rebuilt.
	flipped := planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS}}, "eth0")
	flipped.Captures[0].IgnoreOutgoing = true
	if k := planReconfigure(base, flipped).kind; k != rebuild {
		t.Errorf("ignore_outgoing changed: %v, want rebuild", k)
	}
	// So is every interface option (here the snap length).
	snap := planInput(map[string][]config.Stream{"eth0": {httpS, dnsS, flowS}}, "eth0")
	snap.Captures[0].Interface.Snaplen = 1500
	if k := planReconfigure(base, snap).kind; k != rebuild {
		t.Errorf("snaplen changed: %v, want rebuild", k)
	}
}

func TestStreamStates(t *testing.T) {
	in := &config.Input{Streams: []*config.Stream{
		{ID: "a", Enabled: true},
		{ID: "b", Enabled: false},
		{ID: "c", Enabled: true, Err: errors.New(`unknown option "prots"`)},
	}}
	got := streamStates(in)
	want := map[string]StreamState{
		"a": {Status: "HEALTHY"}, "b": {Status: "STOPPED"}, "c": {Status: "FAILED", Error: `unknown option "prots"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}
