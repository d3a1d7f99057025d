#!/usr/bin/env bash
# gap.sh IN OUT FRAME...: writes OUT, a copy of the capture IN without the
# given frames (editcap). Removing a data segment while keeping the peer's
# ACKs is a real gap as the reassembler sees it: bytes acknowledged (so
# received by the peer) that the capture never saw, exactly what capture
# loss on a busy sensor looks like. It prints what it removed (tshark).
set -euo pipefail
in=$1 out=$2
shift 2
[[ $# -gt 0 ]] || { echo "no frames to remove" >&2; exit 1; }
for f in "$@"; do
  tshark -r "$in" -Y "frame.number == $f" -T fields -e frame.number -e tcp.stream \
    -e tcp.srcport -e tcp.dstport -e tcp.seq -e tcp.len | sed 's/^/removed: /'
done
editcap "$in" "$out" "$@"
