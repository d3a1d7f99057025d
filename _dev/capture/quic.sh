#!/usr/bin/env bash
# Captures the QUIC test pcaps under _dev/pcaps/quic/ from real HTTP/3
# exchanges between quic-go (Go module, _dev/capture/quic/goquic) and
# aioquic (PyPI, _dev/capture/quic/aio.py), clients and servers both, on
# the loopback of a throwaway network namespace. Only long-header packets
# are kept (Initial, 0-RTT, Handshake, Retry, Version Negotiation): the
# 1-RTT rest says nothing to the decoder and would only make the files big.
#
#   gov1.pcap    quic-go client -> quic-go server, QUIC v1, GET / (its
#                ClientHello, with an X25519MLKEM768 key share, spans two
#                Initial packets)
#   gov2.pcap    quic-go client speaking only v2 -> quic-go server (2,1)
#   retry.pcap   aioquic client -> quic-go server that validates addresses
#                (Retry), aioquic client -> aioquic server with retry, and a
#                v2 Retry: quic-go client (v2) -> quic-go server (2,1, retry)
#   vn.pcap      aioquic client whose first Initial is QUIC v2 -> quic-go
#                server that only speaks v1: Version Negotiation, then v1
#   compat.pcap  aioquic client starting in v1 but preferring v2 -> aioquic
#                server: compatible version negotiation (RFC 9368), the
#                server's Initials in v2
#   aioquic.pcap aioquic client -> aioquic server; the same with 60 ALPN
#                names; quic-go client -> aioquic server on port 8443;
#                aioquic client -> aioquic server over IPv6 (::1)
#
# Needs root, iproute2, tcpdump, openssl, go, python3 (venv, pip).
# Run from the repo root:  sudo _dev/capture/quic.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-_dev/pcaps/quic}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-quic
work=$(mktemp -d)
VENV=${VENV:-$work/venv}
SPID=""
TPID=""
cleanup() {
  for p in "$SPID" "$TPID"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up

[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q aioquic==1.7.2 ja4plus==1.4.0
(cd "$here/quic/goquic" && go build -o "$work/goquic" .)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 30 -subj "/CN=quic.example.test" \
  -addext "subjectAltName=DNS:quic.example.test,IP:127.0.0.1" 2>/dev/null
cd "$work"

# server CMD...: started with ip netns exec itself so $! is the server's pid.
server() {
  ip netns exec "$NS" "$@" >"$work/server.log" 2>&1 &
  SPID=$!
  for _ in $(seq 50); do grep -q listening "$work/server.log" && break; sleep 0.1; done
}
stop_server() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=""; }
# The namespace carries only the test traffic, so the live capture takes
# everything: on this kernel a live filter, even plain `udp`, matched none
# of quic-go's datagrams (quic-go sends with UDP GSO, the likely cause),
# while the same filter on the written file matches them. So the filter
# runs afterwards on the file: long-header packets only (first byte's top
# bit).
capture() {
  NAME=$1
  ip netns exec "$NS" tcpdump -Z root -i lo -U -s 0 -w "$work/raw.pcap" 2>>"$work/tcpdump.log" &
  TPID=$!
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  sleep 2 # "listening" comes before packets are seen on a busy machine
}
stop_capture() {
  sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=""
  cat "$work/tcpdump.log" >&2; : >"$work/tcpdump.log"
  # udp[] does not reach into IPv6 packets: there the payload's first byte
  # is at 48 (no extension headers on loopback).
  tcpdump -r "$work/raw.pcap" -w "$out/$NAME" \
    "(ip and udp and (udp[8] & 0x80) != 0) or (ip6 and udp and (ip6[48] & 0x80) != 0)" 2>/dev/null
}
goclient() { ip netns exec "$NS" ./goquic client "$@" || echo "goquic client failed" >&2; }
aioclient() { ip netns exec "$NS" "$VENV/bin/python" "$here/quic/aio.py" client "$@" || echo "aio client failed" >&2; }
goserver() { server ./goquic server "127.0.0.1:$1" cert.pem key.pem "$2" "$3"; }
aioserver() { server "$VENV/bin/python" "$here/quic/aio.py" server 127.0.0.1 "$1" cert.pem key.pem "${2:-}"; }

goserver 443 1 noretry
capture gov1.pcap
goclient https://127.0.0.1:443/ 1 quic.example.test
stop_server
stop_capture

goserver 443 2,1 noretry
capture gov2.pcap
goclient https://127.0.0.1:443/ 2 quic.example.test
stop_server
stop_capture

goserver 443 1 retry
capture retry.pcap
aioclient 127.0.0.1 443 quic.example.test
stop_server
aioserver 443 retry
aioclient 127.0.0.1 443 quic.example.test
stop_server
goserver 443 2,1 retry
goclient https://127.0.0.1:443/ 2 quic.example.test
stop_server
stop_capture

goserver 443 1 noretry
capture vn.pcap
aioclient 127.0.0.1 443 quic.example.test --original-version 0x6b3343cf --version 0x00000001,0x6b3343cf
stop_server
stop_capture

aioserver 443
capture compat.pcap
aioclient 127.0.0.1 443 quic.example.test --original-version 0x00000001 --version 0x6b3343cf,0x00000001
stop_server
stop_capture

aioserver 443
capture aioquic.pcap
aioclient 127.0.0.1 443 quic.example.test
aioclient 127.0.0.1 443 quic.example.test --alpn "$(python3 -c 'print(",".join(["h3"]+["x-proto-%02d" % i for i in range(60)]))')"
stop_server
aioserver 8443
goclient https://127.0.0.1:8443/ 1 quic.example.test
stop_server
server "$VENV/bin/python" "$here/quic/aio.py" server ::1 443 cert.pem key.pem
aioclient ::1 443 quic.example.test
stop_server
stop_capture

# A second implementation's JA4 (ja4plus, which decrypts v1 Initials
# itself; it has no v2) per capture and client port, for the tests:
# "pcap port ja4 ja4_r", the first ClientHello of each connection.
ja4plus_expected() {
  "$VENV/bin/python" - "$out" <<'PY'
import os, sys
from scapy.all import rdpcap, UDP
from ja4plus.fingerprinters.ja4 import JA4Fingerprinter
for name in sorted(os.listdir(sys.argv[1])):
    if not name.endswith(".pcap"):
        continue
    fp, seen = JA4Fingerprinter(), set()
    # (IPv4 and IPv6 alike: ja4plus reads both.)
    for pkt in rdpcap(os.path.join(sys.argv[1], name)):
        if UDP in pkt and pkt[UDP].dport in (443, 8443) and fp.process_packet(pkt):
            if pkt[UDP].sport not in seen:
                seen.add(pkt[UDP].sport)
                print(name, pkt[UDP].sport, fp.fingerprints[-1]["fingerprint"], fp.last_raw)
PY
}
ja4plus_expected >"$out/ja4.expected"
cat "$out/ja4.expected"
ls -l "$out"
