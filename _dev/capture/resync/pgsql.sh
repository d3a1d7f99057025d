#!/usr/bin/env bash
# Makes _dev/pcaps/pgsql/psql-gaps.pcap from psql.pcap (real PostgreSQL and
# psql, _dev/capture/pgsql.sh) with gap.sh: without the segment of the 2nd
# simple Query after the startup (client-side gap: a whole statement lost)
# and without the segment of the results of the 5th one (server-side gap:
# RowDescription, DataRows, CommandComplete and ReadyForQuery lost).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/pgsql.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/pgsql}
f=$d/psql.pcap
q2=$(tshark -r "$f" -Y 'pgsql.type == "Simple query"' -T fields -e frame.number | sed -n 2p)
q5=$(tshark -r "$f" -Y 'pgsql.type == "Simple query"' -T fields -e frame.number | sed -n 5p)
r5=$(tshark -r "$f" -Y "tcp.srcport == 5432 && tcp.len > 0 && frame.number > $q5" -T fields -e frame.number | sed -n 1p)
"$here/gap.sh" "$f" "$d/psql-gaps.pcap" "$q2" "$r5"
