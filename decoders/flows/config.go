// Package flows keeps the flow table: per bidirectional flow packet and byte
// counters, reported every period and once more, final, when the flow goes
// idle, as Packetbeat's flow data stream does. TCP and UDP flows also carry
// their connection state in Zeek's terms (connstate.go). The flow key, and
// so flow.id, is ecsmap.FlowKey: transactions derive the same id.
package flows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the flow stream's options.
type Config struct {
	Enabled bool
	// Timeout ends a flow after this much packet time without packets
	// (Packetbeat: 30s, at least 1s).
	Timeout time.Duration
	// Period is the interval of intermediate reports; zero or negative (the
	// integration's -1) disables them, leaving only the final report.
	Period time.Duration
	// KeepNull is honoured by the encoder (ecsmap.Meta.KeepNull).
	KeepNull bool
	// DeltaReports makes each report count only the packets and bytes since
	// the flow's previous report (enable_delta_flow_reports).
	DeltaReports bool
	// MaxFlows bounds the table. When full, the least recently active flow
	// is reported (final) and evicted to make room; counted in Stats.Evicted.
	MaxFlows int
	// SkipUnderlay turns off the flows of tunnel carriers (underlay_flows:
	// false): the VXLAN, Geneve, GTP-U, GRE and IP-in-IP packets between
	// tunnel endpoints are then only counted in their inner flows, as
	// before underlay flows existed. The zero value reports them.
	SkipUnderlay bool
}

// DefaultConfig is what a flow stream without options gets.
func DefaultConfig() Config {
	return Config{Enabled: true, Timeout: 30 * time.Second, Period: 10 * time.Second, MaxFlows: 65536}
}

// ParseConfig reads the flow stream's options: timeout, period, keep_null,
// enable_delta_flow_reports, max_flows, underlay_flows. Stream-layer keys are ignored; other
// unknown keys are errors.
func ParseConfig(opts map[string]any) (Config, error) {
	c := DefaultConfig()
	var errs []string
	for k, v := range opts {
		var err error
		switch k {
		case "enabled":
			c.Enabled, err = protocol.AsBool(v)
		case "keep_null":
			c.KeepNull, err = protocol.AsBool(v)
		case "enable_delta_flow_reports":
			c.DeltaReports, err = protocol.AsBool(v)
		case "timeout":
			c.Timeout, err = protocol.AsDuration(v)
			if err == nil && c.Timeout < time.Second {
				err = fmt.Errorf("must be at least 1s")
			}
		case "period":
			c.Period, err = protocol.AsDuration(v)
			if err == nil && c.Period > 0 && c.Period < time.Second {
				err = fmt.Errorf("must be -1 (no periodic reports) or at least 1s")
			}
		case "underlay_flows":
			if v != nil { // an empty template value keeps the default (on)
				var on bool
				on, err = protocol.AsBool(v)
				c.SkipUnderlay = !on
			}
		case "max_flows":
			c.MaxFlows, err = protocol.AsInt(v, 1, 1<<26)
		default:
			if !protocol.StreamKeys[k] {
				err = fmt.Errorf("unknown option")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return c, fmt.Errorf("flow: %s", strings.Join(errs, "; "))
	}
	return c, nil
}
