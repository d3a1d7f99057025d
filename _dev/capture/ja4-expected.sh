#!/usr/bin/env bash
# Writes _dev/pcaps/tls/ja4.expected: the JA4 and JA4_r that a second
# implementation, the ja4plus package from PyPI (in a venv), computes for the
# first ClientHello of every TCP connection of every capture under
# _dev/pcaps/tls/ ("pcap client-port ja4 ja4_r" lines). The tls tests compare
# tls.client.ja4 and ja4_r with it. _dev/capture/ja4.sh runs it; rerun it
# alone after _dev/capture/tls.sh.
#
# Needs python3 (venv, pip). Run from the repo root:  _dev/capture/ja4-expected.sh
set -euo pipefail
dir=${OUT:-_dev/pcaps/tls}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
VENV=${VENV:-$work/venv}
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q ja4plus==1.4.0
"$VENV/bin/python" - "$dir" >"$dir/ja4.expected" <<'PY'
import os, sys
from scapy.all import rdpcap, TCP
from ja4plus.fingerprinters.ja4 import JA4Fingerprinter
for name in sorted(os.listdir(sys.argv[1])):
    if not name.endswith(".pcap"):
        continue
    fp, seen = JA4Fingerprinter(), set()
    for pkt in rdpcap(os.path.join(sys.argv[1], name)):
        if TCP in pkt and fp.process_packet(pkt) and pkt[TCP].sport not in seen:
            seen.add(pkt[TCP].sport)
            print(name, pkt[TCP].sport, fp.fingerprints[-1]["fingerprint"], fp.last_raw)
PY
cat "$dir/ja4.expected"
