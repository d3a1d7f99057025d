package icmp

import "github.com/network-traffic/network-traffic/decoders/engine"

// The engine drives the tracker through its PacketHandler interface.
var _ engine.PacketHandler = (*Tracker)(nil)
