#!/usr/bin/env bash
# Makes the Redis gap captures from the real ones of _dev/capture/redis.sh
# (redis-server 7, redis-cli / redis-py), with gap.sh:
#   pubsub-gaps.pcap    pubsub.pcap without the 2nd PUBLISH of the publisher's
#                       first three (client-side gap: a whole command lost) and
#                       without the reply to the 2nd of its last three
#                       (server-side gap).
#   pipeline-gap.pcap   pipeline.pcap without the segment carrying the 20 +OK
#                       replies to 20 pipelined SETs; the ACK that reveals the
#                       loss rides on the next command (ECHO).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/redis.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/redis}
nth() { sed -n "$1p"; }
pub() { tshark -r "$d/pubsub.pcap" -Y "tcp.stream == 0 && tcp.len > 0 && tcp.$1 == 6379" -T fields -e frame.number | nth "$2"; }
"$here/gap.sh" "$d/pubsub.pcap" "$d/pubsub-gaps.pcap" "$(pub dstport 2)" "$(pub srcport 5)"
oks=$(tshark -r "$d/pipeline.pcap" -Y 'tcp.stream == 1 && tcp.srcport == 6379 && tcp.len == 100' -T fields -e frame.number)
"$here/gap.sh" "$d/pipeline.pcap" "$d/pipeline-gap.pcap" "$oks"
