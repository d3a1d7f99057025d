#!/usr/bin/env bash
# Captures the memcache test pcaps under _dev/pcaps/memcache/ from real
# traffic against memcached 1.6 inside a throwaway network namespace (own lo,
# so port 11211 is free and nothing else ends up in the files).
#
#   text.pcap      text protocol over TCP (memcache_client.py text): storage
#                  commands with their success and failure answers, get/gets
#                  hits, misses and a multi-get, cas, incr/decr (also on a
#                  non-numeric value), touch, delete, noreply, version,
#                  verbosity, an unknown command, stats, stats slabs,
#                  flush_all, quit.
#   binary.pcap    binary protocol over TCP (memcache_client.py binary): Set,
#                  Get/GetK, error statuses, Append/Prepend, Increment/
#                  Decrement, Touch, a quiet GetQ/GetKQ/SetQ pipeline closed
#                  by NoOp, Delete, Version, Stat (multi-response), Flush, Quit.
#   udp.pcap       text and binary over UDP with the 8-byte frame header,
#                  including a 3000-byte value answered in three datagrams.
#   memcslap.pcap  a short memcslap load (text, then --binary), 2 clients.
#
# Needs root, iproute2, tcpdump, memcached, memcslap (libmemcached-tools),
# python3. Run from the repo root:
#   sudo _dev/capture/memcache.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/memcache}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
NS=ntcap-memcache
tmp=$(mktemp -d)

cleanup() {
  for p in "${TPID:-}" "${MPID:-}"; do
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

capture() { # file -> starts tcpdump on the namespace's lo, sets TPID
  : >"$tmp/tcpdump.log"
  ip netns exec "$NS" tcpdump -i lo --immediate-mode -B 65536 -U -s 0 -w "$1" 'port 11211' 2>"$tmp/tcpdump.log" &
  TPID=$!
  for _ in $(seq 50); do
    grep -q listening "$tmp/tcpdump.log" && break
    sleep 0.1
  done
  sleep 0.5
}
stop_capture() {
  # Without --immediate-mode the last packets sit in a capture block that
  # a kill would discard.
  sleep 1
  kill "$TPID"; wait "$TPID" 2>/dev/null || true
  TPID=
}
server() { # fresh memcached (empty cache, known cas ids) per capture
  [[ -n "${MPID:-}" ]] && { kill "$MPID"; wait "$MPID" 2>/dev/null || true; }
  ip netns exec "$NS" memcached -u root -l 127.0.0.1 -p 11211 -U 11211 &
  MPID=$!
  sleep 0.5
}

for mode in text binary udp; do
  server
  capture "$out/$mode.pcap"
  run python3 "$here/memcache_client.py" "$mode" 127.0.0.1 11211
  stop_capture
done

server
capture "$out/memcslap.pcap"
run memcslap --servers=127.0.0.1:11211 --concurrency=2 --execute-number=20 >/dev/null
run memcslap --servers=127.0.0.1:11211 --concurrency=2 --execute-number=20 --binary >/dev/null
stop_capture
ls -l "$out"
