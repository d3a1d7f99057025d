#!/usr/bin/env bash
# Makes _dev/pcaps/memcache/text-gaps.pcap from text.pcap (real memcached
# and client, _dev/capture/memcache.sh) with gap.sh: without the segment of
# the command "add key 0 0 3" (client-side gap: a whole command lost) and
# without the response to "replace nokey 0 0 1" (server-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/memcache.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/memcache}
frame() { tshark -r "$d/text.pcap" -Y "$1" -T fields -e frame.number | sed -n 1p; }
add=$(frame 'tcp.dstport == 11211 && tcp.payload contains "add key 0 0 3"')
rep=$(frame 'tcp.dstport == 11211 && tcp.payload contains "replace nokey"')
resp=$(frame "tcp.srcport == 11211 && tcp.len > 0 && frame.number > $rep")
"$here/gap.sh" "$d/text.pcap" "$d/text-gaps.pcap" "$add" "$resp"
