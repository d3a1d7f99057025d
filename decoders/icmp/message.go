package icmp

import "strconv"

// Message classification. Like Packetbeat, every type that is not a reply is
// treated as a "request": an unreachable is reported as a request from the
// router to the original sender, with status Error.

func isResponse(version, typ uint8) bool {
	if version == 4 {
		switch typ {
		case 0, 14, 16, 18: // echo, timestamp, information, address mask replies
			return true
		}
		return false
	}
	return typ == 129 // echo reply
}

// needsCounterpart reports query/reply types: a request of these types waits
// for its reply, matched by identifier and sequence number.
func needsCounterpart(version, typ uint8) bool {
	if version == 4 {
		switch typ {
		case 0, 8, 13, 14, 15, 16, 17, 18:
			return true
		}
		return false
	}
	return typ == 128 || typ == 129
}

func isError(version, typ uint8) bool {
	if version == 4 {
		switch typ {
		case 3, 4, 11, 12: // unreachable, source quench, time exceeded, parameter problem
			return true
		}
		return false
	}
	return typ >= 1 && typ <= 4 // unreachable, packet too big, time exceeded, parameter problem
}

// Human readable names in the form Packetbeat writes to icmp.*.message:
// "EchoRequest(0)", "DestinationUnreachable(Port)", and "<type>(<code>)"
// for types without a name.

var v4Types = map[uint8]string{
	0: "EchoReply", 3: "DestinationUnreachable", 4: "SourceQuench", 5: "Redirect",
	8: "EchoRequest", 9: "RouterAdvertisement", 10: "RouterSolicitation",
	11: "TimeExceeded", 12: "ParameterProblem", 13: "TimestampRequest",
	14: "TimestampReply", 15: "InfoRequest", 16: "InfoReply",
	17: "AddressMaskRequest", 18: "AddressMaskReply",
}

var v4Codes = map[uint8][]string{
	3: {"Net", "Host", "Protocol", "Port", "FragmentationNeeded", "SourceRoutingFailed",
		"NetUnknown", "HostUnknown", "SourceIsolated", "NetAdminProhibited",
		"HostAdminProhibited", "NetTOS", "HostTOS", "CommAdminProhibited",
		"HostPrecedence", "PrecedenceCutoff"},
	5:  {"Net", "Host", "TOS+Net", "TOS+Host"},
	11: {"TTLExceeded", "FragmentReassemblyTimeExceeded"},
	12: {"PointerIndicatesError", "MissingOption", "BadLength"},
}

var v6Types = map[uint8]string{
	1: "DestinationUnreachable", 2: "PacketTooBig", 3: "TimeExceeded", 4: "ParameterProblem",
	128: "EchoRequest", 129: "EchoReply", 130: "MLDv1MulticastListenerQueryMessage",
	131: "MLDv1MulticastListenerReportMessage", 132: "MLDv1MulticastListenerDoneMessage",
	133: "RouterSolicitation", 134: "RouterAdvertisement", 135: "NeighborSolicitation",
	136: "NeighborAdvertisement", 137: "Redirect", 143: "MLDv2MulticastListenerReportMessageV2",
}

var v6Codes = map[uint8][]string{
	1: {"NoRouteToDst", "AdminProhibited", "BeyondScopeOfSrc", "AddressUnreachable",
		"PortUnreachable", "SrcAddressFailedPolicy", "RejectRouteToDst"},
	3: {"HopLimitExceeded", "FragmentReassemblyTimeExceeded"},
	4: {"ErroneousHeaderField", "UnrecognizedNextHeader", "UnrecognizedIPv6Option"},
}

// MessageText returns the human readable form of an ICMP type and code.
func MessageText(version, typ, code uint8) string {
	types, codes := v4Types, v4Codes
	if version == 6 {
		types, codes = v6Types, v6Codes
	}
	name, ok := types[typ]
	if !ok {
		name = strconv.Itoa(int(typ))
	}
	if cs := codes[typ]; int(code) < len(cs) {
		return name + "(" + cs[code] + ")"
	}
	return name + "(" + strconv.Itoa(int(code)) + ")"
}
