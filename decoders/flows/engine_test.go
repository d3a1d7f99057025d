package flows

import "github.com/network-traffic/network-traffic/decoders/engine"

// The engine drives the table through its PacketHandler interface.
var _ engine.PacketHandler = (*Table)(nil)
