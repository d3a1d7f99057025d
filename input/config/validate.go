package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/network-traffic/network-traffic/decoders/flows"
	"github.com/network-traffic/network-traffic/decoders/icmp"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// inputKeys are the keys an input (a unit's source, or a standalone -c
// file) may carry: ours, and what Elastic Agent and Fleet put beside them.
var inputKeys = []string{
	"id", "name", "type", "revision", "use_output", "enabled", "log_level",
	"meta", "data_stream", "streams", "processors", "package_policy_id",
	"policy", "condition", "_conf", "original_id",
	// detect: the default of every content-detectable protocol's detect.
	"detect",
	// Standalone -c files only: the output unit and queue beside the input.
	"output", "queue",
}

// interfaceKeys are the options of a stream's interface map.
var interfaceKeys = []string{
	"device", "file", "type", "snaplen", "buffer_size_mb", "auto_promisc_mode",
	"promiscuous", "with_vlans", "bpf_filter", "top_speed", "loop",
	"internal_networks", "poll_default_route", "fanout_group", "metrics_interval",
	"tunnels", "local_ips", "workers", "capture_loss_threshold", "exclude_devices",
	"poll_devices",
}

// checkInputKeys refuses keys nobody reads: a misspelt `procesors` would
// otherwise silently run without the processors.
func checkInputKeys(m map[string]any) error {
	known := map[string]bool{}
	for _, k := range inputKeys {
		known[k] = true
	}
	var bad []string
	for k := range m {
		if !known[k] {
			bad = append(bad, fmt.Sprintf("unknown input option %q%s", k, protocol.DidYouMean(k, inputKeys)))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// CheckNamespace applies the data stream naming rules to a namespace, so a
// bad one is reported at configuration instead of every document being
// rejected by Elasticsearch later: lowercase, at most 100 bytes, none of
// \ / * ? " < > | , # : - or space.
func CheckNamespace(ns string) error {
	if ns == "" {
		return errors.New("must not be empty")
	}
	if len(ns) > 100 {
		return fmt.Errorf("%q is longer than 100 bytes", ns)
	}
	if strings.ToLower(ns) != ns {
		return fmt.Errorf("%q must be lowercase", ns)
	}
	if i := strings.IndexAny(ns, `\/*?"<>|,#:- `); i >= 0 {
		return fmt.Errorf("%q must not contain %q", ns, ns[i:i+1])
	}
	return nil
}

// checkDataset applies the same rules to a dataset, where '-' is also
// refused (it separates the parts of a data stream name) but '.' is usual.
func checkDataset(ds string) error {
	if len(ds) > 100 {
		return fmt.Errorf("%q is longer than 100 bytes", ds)
	}
	if strings.ToLower(ds) != ds {
		return fmt.Errorf("%q must be lowercase", ds)
	}
	if i := strings.IndexAny(ds, `\/*?"<>|,#:- `); i >= 0 {
		return fmt.Errorf("%q must not contain %q", ds, ds[i:i+1])
	}
	return nil
}

// validateOptions checks a stream's own options with the parser that will
// use them: flows' and icmp's, or the protocol's constructor (which is
// cheap and has no side effects; the instance is discarded).
func validateOptions(st *Stream) error {
	switch st.Type {
	case TypeFlow:
		_, err := flows.ParseConfig(st.Options)
		return err
	case TypeICMP:
		_, err := icmp.ParseConfig(st.Options)
		return err
	}
	spec, ok := protocol.Lookup(st.Type)
	if !ok {
		return nil // reported as an unknown type
	}
	common, opts, err := protocol.SplitCommon(spec, st.Options)
	if err != nil {
		return err
	}
	_, err = spec.New(common, opts, protocol.PublisherFunc(func(ecsmap.Event) {}))
	return err
}
