#!/usr/bin/env bash
# Makes _dev/pcaps/nfs/v4-gaps.pcap from v4.pcap (real Linux NFS server and
# client, _dev/capture/nfs.sh) with gap.sh: without the segment of the first
# connection's SETCLIENTID_CONFIRM call (client-side gap) and without the
# segment of the third connection's OPEN reply (server-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/nfs.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/nfs}
f=$d/v4.pcap
frame() { tshark -r "$f" -Y "$1" -T fields -e frame.number | sed -n 1p; }
call=$(frame 'tcp.stream == 0 && rpc.msgtyp == 0 && nfs.opcode == 36')
reply=$(frame 'tcp.stream == 2 && rpc.msgtyp == 1 && nfs.opcode == 18')
"$here/gap.sh" "$f" "$d/v4-gaps.pcap" "$call" "$reply"
