package protocol

// ProbeResult is what a probe says about the first bytes of a direction.
type ProbeResult uint8

const (
	// ProbeNo: these bytes cannot start this protocol in this direction.
	ProbeNo ProbeResult = iota
	// ProbeNeedMore: too few bytes to tell.
	ProbeNeedMore
	// ProbeYes: these bytes start a message of this protocol.
	ProbeYes
)

func (r ProbeResult) String() string {
	switch r {
	case ProbeYes:
		return "yes"
	case ProbeNeedMore:
		return "need-more"
	}
	return "no"
}

// Probe recognises a protocol by content: data is the first bytes a
// direction sent on a connection (from its start). It must be pure (same
// answer for the same input), cheap, never retain data, and answer Yes or
// No once it has MaxProbeBytes bytes. A direction the protocol cannot be
// recognised from (the server side of a client-speaks-first protocol)
// answers No there.
type Probe func(dir Dir, data []byte) ProbeResult

// MaxProbeBytes is how many bytes of each direction the engine buffers
// while probing; a connection no probe claimed by then is left alone.
const MaxProbeBytes = 512

// DetectedByContent is the value of network.detected_by for connections
// whose protocol was found by a probe rather than by port.
const DetectedByContent = "content"
