#!/usr/bin/env bash
# Makes the Thrift gap captures from the real ones of _dev/capture/thrift.sh
# (Python thrift server and client) with gap.sh: socket-gaps.pcap and
# framed-gaps.pcap lose the 3rd call segment (client-side gap) and the 5th
# reply segment (server-side gap) of their first connection.
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/thrift.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/thrift}
for t in socket framed; do
  f=$d/$t.pcap
  seg() { tshark -r "$f" -Y "tcp.stream == 0 && tcp.len > 0 && tcp.$1 == 9090" -T fields -e frame.number | sed -n "$2p"; }
  "$here/gap.sh" "$f" "$d/$t-gaps.pcap" "$(seg dstport 3)" "$(seg srcport 5)"
done
