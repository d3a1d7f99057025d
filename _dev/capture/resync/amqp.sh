#!/usr/bin/env bash
# Makes _dev/pcaps/amqp/session-gaps.pcap from session.pcap (real RabbitMQ
# and pika, _dev/capture/amqp.sh) with gap.sh: without the segment of the
# Queue.Declare (client-side gap) and without that of the first
# Basic.Get-Ok with its content (server-side gap).
# Needs tshark (editcap). Run from the repo root: _dev/capture/resync/amqp.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
d=${OUT:-_dev/pcaps/amqp}
f=$d/session.pcap
frame() { tshark -r "$f" -Y "$1" -T fields -e frame.number | sed -n 1p; }
decl=$(frame 'amqp.method.class == 50 && amqp.method.method == 10')
getok=$(frame 'amqp.method.class == 60 && amqp.method.method == 71')
"$here/gap.sh" "$f" "$d/session-gaps.pcap" "$decl" "$getok"
