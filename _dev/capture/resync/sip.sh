#!/usr/bin/env bash
# Makes _dev/pcaps/sip/tcp-gaps.pcap from tcp.pcap (real SIPp over TCP,
# _dev/capture/sip.sh) with gap.sh: without the first 200 OK to INVITE
# (gap in the callee's direction) and the first BYE (gap in the caller's).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/sip.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/sip}
f=$d/tcp.pcap
frame() { tshark -r "$f" -Y "$1" -T fields -e frame.number | sed -n 1p; }
"$here/gap.sh" "$f" "$d/tcp-gaps.pcap" "$(frame 'sip.Status-Code == 200 && sip.CSeq.method == "INVITE"')" "$(frame 'sip.Method == "BYE"')"
