#!/usr/bin/env bash
# Makes _dev/pcaps/detect/alt-gaps.pcap from alt.pcap (_dev/capture/detect/
# capture.sh: real servers on ports no protocol is configured on) with
# gap.sh, removing each chosen connection's first data segment in one
# direction, so the loss comes before detection could choose a protocol:
#   memcache text (22122)   the client's first command (set)
#   PostgreSQL (6543)       the client's SSLRequest
#   MariaDB (4406)          the server's greeting
#   python http.server      the client's first request (GET /index.html)
#   openssl s_server (9443) the client's first ClientHello (TLS 1.3 run)
#   random bytes (5555)     the client's 8 KB
#   gzip data (5556)        the client's 8 KB
#   SMTP-like (2525)        the server's banner
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/detect.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/detect}
f=$d/alt.pcap
# first SRC DST: the first data segment sent from port SRC to port DST
# (the first connection between them).
first() {
  tshark -r "$f" -Y "tcp.len > 0 && tcp.srcport == $1 && tcp.dstport == $2" -T fields -e frame.number | head -1
}
# cport SPORT: the client port of the first connection to SPORT.
cport() { tshark -r "$f" -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == $1" -T fields -e tcp.srcport | head -1; }
frames=()
for s in 22122 6543 8123 9443 5555 5556; do frames+=("$(first "$(cport "$s")" "$s")"); done
for s in 4406 2525; do frames+=("$(first "$s" "$(cport "$s")")"); done
"$here/gap.sh" "$f" "$d/alt-gaps.pcap" "${frames[@]}"
