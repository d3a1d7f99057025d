#!/usr/bin/env bash
# Makes _dev/pcaps/mongodb/opmsg-gaps.pcap from opmsg.pcap (real mongod and
# driver, _dev/capture/mongodb.sh) with gap.sh: on the second connection,
# without the 3rd request segment (client-side gap) and the 6th reply
# segment (server-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/mongodb.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/mongodb}
f=$d/opmsg.pcap
seg() { tshark -r "$f" -Y "tcp.stream == 1 && tcp.len > 0 && tcp.$1 == 27017" -T fields -e frame.number | sed -n "$2p"; }
"$here/gap.sh" "$f" "$d/opmsg-gaps.pcap" "$(seg dstport 3)" "$(seg srcport 6)"
