package capture

import (
	"sort"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// DropRow is one line of the "dropped, by reason" table: where data was
// discarded (or published early, incomplete), why, and how much. It is the
// one source the exit summary, -stats-json, the agent diagnostics and unit
// health all read, so no discard is visible in one and missing in another.
type DropRow struct {
	// Layer is "kernel", "decode", "tcp", "processors", "output" or the
	// protocol ("http", "flow", ...).
	Layer  string `json:"layer"`
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}

// Intentional reports whether the row is something the configuration
// asked for (a drop_event processor, ignored_ops) or traffic that cannot be
// decoded by design (encrypted or compressed sessions, HTTP/2 inside TLS)
// rather than a loss: it is shown, but never turns a unit DEGRADED.
func (d DropRow) Intentional() bool {
	if d.Layer == "processors" && d.Reason == "drop_event" {
		return true
	}
	switch d.Reason {
	case "ignored_ops", "http2_in_tls_not_decoded", "encrypted_connection", "tls_connection",
		"compressed_connection", "replication_connection", "op_compressed", "v5_framing_connection":
		return true
	}
	return false
}

// dropTable gathers every discard counter of a stats snapshot plus the
// protocols' own reasons, sorted by layer then reason, zeros left out.
func dropTable(s *Stats, proto map[string][]protocol.Drop) []DropRow {
	var rows []DropRow
	add := func(layer, reason string, n uint64) {
		if n > 0 {
			rows = append(rows, DropRow{Layer: layer, Reason: reason, Count: n})
		}
	}
	add("kernel", "dropped_by_kernel", s.PcapDropped)
	add("kernel", "dropped_by_interface", s.PcapIfDropped)
	add("capture", "shard_stopped", s.ShardDropped)
	add("decode", "malformed_frame", s.Decode.Truncated)
	add("decode", "fragment_discarded", s.Decode.FragmentsDropped)
	add("decode", "tunnel_nested_too_deep", s.Decode.TunnelTooDeep)
	add("decode", "frame_not_decoded", s.DecodeErrors)
	add("tcp", "gap_bytes", s.TCP.GapBytes)
	add("tcp", "reorder_buffer_full", s.TCP.BufferDrops)
	add("tcp", "message_over_max_size", s.TCP.TailOverflows)
	add("tcp", "connection_table_full", s.TCP.Evicted)
	add("decode", "parser_panic", s.ParserPanics)
	add("processors", "drop_event", s.DroppedEvents)
	add("publish", "ignore_outgoing", s.IgnoredOutgoing)
	for name, pc := range s.Protocols {
		add(name, "unparsable", pc.ParseErrors)
	}
	for name, drops := range proto {
		for _, d := range drops {
			add(name, d.Reason, d.Count)
		}
	}
	// The same protocol may run on several captures: merge its rows.
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Layer != rows[j].Layer {
			return rows[i].Layer < rows[j].Layer
		}
		return rows[i].Reason < rows[j].Reason
	})
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && out[n-1].Layer == r.Layer && out[n-1].Reason == r.Reason {
			out[n-1].Count += r.Count
			continue
		}
		out = append(out, r)
	}
	return out
}

// DropsOf returns the counter of layer/reason in a table (0 if absent).
func DropsOf(rows []DropRow, layer, reason string) uint64 {
	for _, r := range rows {
		if r.Layer == layer && r.Reason == reason {
			return r.Count
		}
	}
	return 0
}

// protocolDrops asks a protocol instance's parts for their reasons.
func protocolDrops(parts ...any) []protocol.Drop {
	for _, part := range parts {
		if dc, ok := part.(protocol.DropCounter); ok {
			return dc.Drops() // one object often serves both transports
		}
	}
	return nil
}
