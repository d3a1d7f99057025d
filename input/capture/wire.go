package capture

import (
	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
)

// Wiring of the concrete reassembler, flow table and ICMP tracker.

func newTCPAssembler(e *engine.Engine) engine.TCPAssembler {
	return tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
}

func newFlows(st *config.Stream, pub protocol.Publisher) (engine.PacketHandler, error) {
	return nil, nil
}

func newICMP(st *config.Stream, pub protocol.Publisher) (engine.PacketHandler, error) {
	return nil, nil
}
