#!/usr/bin/env bash
# Makes _dev/pcaps/mysql/cli-gaps.pcap from cli.pcap (real MariaDB server and
# mariadb client, _dev/capture/mysql.sh) with gap.sh: without the segment of
# the 6th COM_QUERY (client-side gap: a whole command lost) and without the
# response segment of the 10th (server-side gap: a result set lost).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/mysql.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/mysql}
f=$d/cli.pcap
q() { tshark -r "$f" -Y 'mysql.command == 3' -T fields -e frame.number | sed -n "$1p"; }
q6=$(q 6)
q10=$(q 10)
r10=$(tshark -r "$f" -Y "tcp.srcport == 3306 && tcp.len > 0 && frame.number > $q10" -T fields -e frame.number | sed -n 1p)
"$here/gap.sh" "$f" "$d/cli-gaps.pcap" "$q6" "$r10"
