package capture

// Planning a live reconfiguration: a pure function of the old and the new
// config, kept apart from carrying it out (reconfigure.go) so that what is
// kept and what is rebuilt can be read, and tested, on its own.

import (
	"reflect"

	"github.com/network-traffic/network-traffic/input/config"
)

// reconfigKind says how much of the running captures a new config keeps.
type reconfigKind int

const (
	// keepAll: only stream metadata changed (tags, processors, fields,
	// data stream): every instance and publisher stays and is re-configured.
	keepAll reconfigKind = iota
	// inPlace: every capture keeps its interface, so its sniffer, link
	// decoder and TCP reassembler stay; streams are kept, rebuilt or retired
	// one by one.
	inPlace
	// rebuild: an interface (or the set of them) changed: every capture is
	// flushed and built anew.
	rebuild
)

func (k reconfigKind) String() string {
	return [...]string{"metadata only", "in place", "rebuild"}[k]
}

// reconfigPlan is what a reconfiguration will do.
type reconfigPlan struct {
	kind reconfigKind
	// captures has, for inPlace, one entry per capture of the new config
	// (same index as in the old one).
	captures []capturePlan
}

// capturePlan sorts one capture's streams, by stream id.
type capturePlan struct {
	// keep decode as before: their instance (with its connections and
	// pending transactions) and publisher stay; metadata is reapplied.
	keep map[string]bool
	// build are added streams and streams whose decoding changed.
	build []string
	// retire are old streams that are gone or changed: their UDP side is
	// flushed, their TCP connections finish on the parsers they began with.
	retire []string
}

// planReconfigure decides, from the configs alone, how old becomes new.
// Whether a capture actually runs (it may have failed to start) is for the
// caller to check: a plan can only keep what exists.
func planReconfigure(old, new *config.Input) reconfigPlan {
	if len(old.Captures) != len(new.Captures) {
		return reconfigPlan{kind: rebuild}
	}
	plan := reconfigPlan{kind: keepAll}
	for i, nc := range new.Captures {
		oc := old.Captures[i]
		if !reflect.DeepEqual(oc.Interface, nc.Interface) || oc.IgnoreOutgoing != nc.IgnoreOutgoing {
			return reconfigPlan{kind: rebuild}
		}
		oldStreams := make(map[string]*config.Stream, len(oc.Streams))
		for _, st := range oc.Streams {
			oldStreams[st.ID] = st
		}
		cp := capturePlan{keep: map[string]bool{}}
		for _, st := range nc.Streams {
			if ost, ok := oldStreams[st.ID]; ok && sameDecoding(ost, st) {
				cp.keep[st.ID] = true
			} else {
				cp.build = append(cp.build, st.ID)
			}
		}
		for _, st := range oc.Streams {
			if !cp.keep[st.ID] {
				cp.retire = append(cp.retire, st.ID)
			}
		}
		// Same streams in the same order, all decoding as before: the
		// engines need no change at all.
		if len(cp.build) > 0 || len(cp.retire) > 0 || !sameOrder(oc.Streams, nc.Streams) {
			plan.kind = inPlace
		}
		plan.captures = append(plan.captures, cp)
	}
	if plan.kind == keepAll {
		plan.captures = nil
	}
	return plan
}

func sameOrder(a, b []*config.Stream) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// sameDecoding reports whether a stream decodes and publishes the same way
// in both configs, so its protocol instance and publisher can be kept
// (metadata is reapplied with configure).
func sameDecoding(a, b *config.Stream) bool {
	return a.ID == b.ID && a.Type == b.Type && a.KeepNull == b.KeepNull &&
		a.MonitorProcs == b.MonitorProcs && reflect.DeepEqual(a.MonitoredProcs, b.MonitoredProcs) &&
		reflect.DeepEqual(a.Options, b.Options)
}

// streamStates are the states the config itself gives each stream: FAILED
// for an invalid one, STOPPED when disabled, HEALTHY otherwise (building
// may still fail it).
func streamStates(in *config.Input) map[string]StreamState {
	states := make(map[string]StreamState, len(in.Streams))
	for _, st := range in.Streams {
		switch {
		case st.Err != nil:
			states[st.ID] = StreamState{Status: "FAILED", Error: st.Err.Error()}
		case !st.Enabled:
			states[st.ID] = StreamState{Status: "STOPPED"}
		default:
			states[st.ID] = StreamState{Status: "HEALTHY"}
		}
	}
	return states
}
