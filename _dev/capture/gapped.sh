#!/usr/bin/env bash
# Derives a capture with loss from a real one: every 9th TCP data segment
# (the 5th, 14th, ...) of _dev/pcaps/amqp/session.pcap is deleted with
# editcap, as if the capture had dropped it while the peer received it (the
# peer's later ACKs still cover it). Used by the capture-loss tests:
#
#   _dev/pcaps/tcp/amqp-gapped.pcap   the capture without those segments
#   _dev/pcaps/tcp/amqp-gapped.txt    figures from tshark: the removed frames
#                                     and their payload bytes, the payload
#                                     bytes of the original, and how many of
#                                     the removed segments tshark sees
#                                     acknowledged (tcp.analysis.ack_lost_segment)
# Run from the repository root: _dev/capture/gapped.sh
set -euo pipefail

in=_dev/pcaps/amqp/session.pcap
out=_dev/pcaps/tcp/amqp-gapped.pcap
txt=_dev/pcaps/tcp/amqp-gapped.txt

data=$(tshark -r "$in" -Y 'tcp.len>0 && !tcp.analysis.retransmission' -T fields -e frame.number -e tcp.len 2>/dev/null)
frames=$(awk 'NR%9==5 {print $1}' <<<"$data")
removed=$(awk 'NR%9==5 {s+=$2} END {print s}' <<<"$data")
total=$(awk '{s+=$2} END {print s}' <<<"$data")
# shellcheck disable=SC2086 # one argument per frame number
editcap -F pcap "$in" "$out" $frames
acked=$(tshark -r "$out" -Y tcp.analysis.ack_lost_segment 2>/dev/null | wc -l)
{
	echo "source $in"
	echo "removed_frames $(echo $frames)"
	echo "removed_segments $(wc -w <<<"$frames")"
	echo "removed_bytes $removed"
	echo "original_bytes $total"
	echo "ack_lost_segment_frames $acked"
} >"$txt"
cat "$txt"
