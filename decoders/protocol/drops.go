package protocol

// Drop is one kind of data a decoder discarded (or published early,
// incomplete), and how much: messages, transactions or, where the reason
// says so, bytes.
type Drop struct {
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// DropCounter is implemented by a protocol's TCP or UDP part (and by the
// flow and ICMP tables) to report every discard besides parse errors, which
// ErrorCounter reports. Together they are the protocol's rows of the
// "dropped, by reason" table of the exit summary, -stats-json, the agent
// diagnostics and unit health. Read from other goroutines: protocol parts
// use atomics.
type DropCounter interface {
	Drops() []Drop
}

// Drops builds a list from reason/count pairs, leaving out zeros.
func Drops(pairs ...any) []Drop {
	var out []Drop
	for i := 0; i+1 < len(pairs); i += 2 {
		var n uint64
		switch v := pairs[i+1].(type) {
		case int64:
			n = uint64(max(v, 0))
		case uint64:
			n = v
		}
		if n > 0 {
			out = append(out, Drop{Reason: pairs[i].(string), Count: n})
		}
	}
	return out
}
