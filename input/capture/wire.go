package capture

import (
	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/flows"
	"github.com/network-traffic/network-traffic/decoders/icmp"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/processors"
)

// Wiring of the concrete reassembler, flow table and ICMP tracker into the
// engine's small interfaces.

func newTCPAssembler(factory tcp.Factory, shards int) *tcp.Assembler {
	return tcp.NewAssembler(tcpConfig(shards), factory)
}

func newFlows(st *config.Stream, pub protocol.Publisher, shards int) (engine.PacketHandler, error) {
	cfg, err := flows.ParseConfig(withKeepNull(st))
	if err != nil {
		return nil, err
	}
	cfg.MaxFlows = shareOf(cfg.MaxFlows, shards)
	return flows.New(cfg, pub), nil
}

func newICMP(st *config.Stream, pub protocol.Publisher, shards int) (engine.PacketHandler, error) {
	cfg, err := icmp.ParseConfig(withKeepNull(st))
	if err != nil {
		return nil, err
	}
	cfg.MaxPending = shareOf(cfg.MaxPending, shards)
	return icmp.New(cfg, pub), nil
}

// withKeepNull gives the stream's options back their keep_null, which the
// config layer lifted out for the publisher.
func withKeepNull(st *config.Stream) map[string]any {
	opts := make(map[string]any, len(st.Options)+1)
	for k, v := range st.Options {
		opts[k] = v
	}
	if st.KeepNull {
		opts["keep_null"] = true
	}
	return opts
}

func init() {
	NewProcessors = func(cfgs []map[string]any) (DocProcessor, error) {
		chain, err := processors.New(cfgs)
		if err != nil || chain == nil {
			return nil, err // a nil interface keeps the no-processor path free
		}
		return chain, nil
	}
}
