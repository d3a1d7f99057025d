#!/usr/bin/env bash
# Makes _dev/pcaps/cassandra/v4-gaps.pcap from v4.pcap (real Cassandra and
# Python driver, _dev/capture/cassandra.sh) with gap.sh: on the fifth
# connection, without the 3rd request segment (client-side gap) and the 5th
# response segment (server-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/cassandra.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/cassandra}
f=$d/v4.pcap
seg() { tshark -r "$f" -Y "tcp.stream == 4 && tcp.len > 0 && tcp.$1 == 9042" -T fields -e frame.number | sed -n "$2p"; }
"$here/gap.sh" "$f" "$d/v4-gaps.pcap" "$(seg dstport 3)" "$(seg srcport 5)"
