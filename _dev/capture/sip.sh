#!/usr/bin/env bash
# Captures the SIP test pcaps under _dev/pcaps/sip/ from real sipp traffic in
# a throwaway network namespace (own lo):
#
#   udp.pcap  sipp's built-in uac against its built-in uas on 127.0.0.1:5060
#             (3 calls: INVITE/100/180/200/ACK with SDP, BYE/200), then a
#             REGISTER challenged with a digest 401 and retried with an
#             Authorization header (sip/register_*.xml, compact headers).
#   tcp.pcap  the same built-in call flow over TCP (sipp -t t1), 2 calls.
#
# Needs root, iproute2, tcpdump, sipp (Debian: sip-tester). Run from the
# repo root:
#   sudo _dev/capture/sip.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-_dev/pcaps/sip}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-sip
tmp=$(mktemp -d)

cleanup() {
  for p in "${TPID:-}" "${SPID:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
run() { ip netns exec "$NS" "$@"; }

capture() { # file filter
  : >"$tmp/tcpdump.log"
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$tmp/tcpdump.log" &
  TPID=$!
  for _ in $(seq 50); do
    grep -q listening "$tmp/tcpdump.log" && break
    sleep 0.1
  done
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill "$TPID"; wait "$TPID" 2>/dev/null || true
  TPID=
}
uas() { # args...: starts a sipp server in the background, sets SPID
  (cd "$tmp" && exec ip netns exec "$NS" sipp -bg -nostdin "$@" >/dev/null 2>&1) || true
  sleep 0.5
  SPID=$(pgrep -n -f "sipp -bg -nostdin $*" || true)
}
stop_uas() {
  [[ -n "${SPID:-}" ]] && kill "$SPID" 2>/dev/null || true
  SPID=
  sleep 0.3
}

cd "$tmp"
# UDP: calls, then the registration on 5062 (same capture filter).
capture "$out/udp.pcap" 'udp and (port 5060 or port 5062)'
uas -sn uas -i 127.0.0.1 -p 5060
run sipp -nostdin -sn uac -i 127.0.0.1 -p 5061 -m 3 -l 1 -d 200 127.0.0.1:5060 >/dev/null 2>&1
stop_uas
uas -sf "$here/sip/register_uas.xml" -i 127.0.0.1 -p 5062
run sipp -nostdin -sf "$here/sip/register_uac.xml" -i 127.0.0.1 -p 5063 -m 1 \
  -au alice -ap secret 127.0.0.1:5062 >/dev/null 2>&1
stop_uas
stop_capture

# TCP: built-in calls over one connection.
capture "$out/tcp.pcap" 'tcp port 5060'
uas -sn uas -t t1 -i 127.0.0.1 -p 5060
run sipp -nostdin -sn uac -t t1 -i 127.0.0.1 -p 5061 -m 2 -l 1 -d 200 127.0.0.1:5060 >/dev/null 2>&1
stop_uas
stop_capture
ls -l "$out"
