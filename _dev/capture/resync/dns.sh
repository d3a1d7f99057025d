#!/usr/bin/env bash
# Makes _dev/pcaps/dns/tcp-gaps.pcap from tcp.pcap (real BIND/dig over TCP,
# _dev/capture/dns.sh) with gap.sh: on the second connection (three
# queries), without the first response (server-side gap) and without the
# second query (client-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/dns.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/dns}
f=$d/tcp.pcap
seg() { tshark -r "$f" -Y "tcp.stream == 1 && tcp.len > 0 && tcp.$1 == 53" -T fields -e frame.number | sed -n "$2p"; }
"$here/gap.sh" "$f" "$d/tcp-gaps.pcap" "$(seg srcport 1)" "$(seg dstport 2)"
