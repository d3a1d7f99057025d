#!/usr/bin/env bash
# Captures the MongoDB test pcaps under _dev/pcaps/mongodb/.
#
# THE SERVER SIDE IS A STAND-IN: Debian 12 ships no MongoDB server, so
# _dev/capture/mongodb/standin_server.py (pymongo's BSON codec, an in-memory
# store) answers on 127.0.0.1:27017 inside a throwaway network namespace.
# The client side is the real driver, python3-pymongo 3.11
# (_dev/capture/mongodb/client.py), so requests are what a real driver sends;
# replies have real framing but are the stand-in's.
#
#   opmsg.pcap       OP_QUERY isMaster handshake (legacy), then OP_MSG: ping,
#                    insert_many (kind 1 "documents" sequence), find with
#                    batchSize 2 + getMore x2, update, delete, find with a
#                    projection, an unknown command ({ok: 0, errmsg, code 59}).
#   compressed.pcap  the same with compressors=zlib: after the handshake every
#                    message is OP_COMPRESSED.
#   legacy.pcap      server says maxWireVersion 2: OP_QUERY finds + OP_REPLY,
#                    OP_GET_MORE, unacknowledged OP_INSERT/OP_UPDATE/OP_DELETE,
#                    commands as OP_QUERY on db.$cmd, one error reply.
#
# Needs root, iproute2, tcpdump, python3-pymongo. Run from the repo root:
#   sudo _dev/capture/mongodb.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-_dev/pcaps/mongodb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-mongodb
work=$(mktemp -d)
cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -n "${SPID:-}" ]] && kill "$SPID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

run() { # name client-mode [server flags]
  local name=$1 mode=$2; shift 2
  ip netns exec "$NS" /usr/bin/python3 "$here/mongodb/standin_server.py" "$@" >"$work/server.log" 2>&1 &
  SPID=$!
  for _ in $(seq 50); do grep -q ready "$work/server.log" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$out/$name.pcap" 'tcp port 27017' >/dev/null 2>"$work/tcpdump.err" &
  TPID=$!
  sleep 1
  in_ns /usr/bin/python3 "$here/mongodb/client.py" "$mode" >"$work/client.log" 2>&1 || { cat "$work/client.log"; exit 1; }
  sleep 0.5
  kill "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=
  kill "$SPID" 2>/dev/null || { echo "server died:"; cat "$work/server.log"; }; wait "$SPID" 2>/dev/null || true; SPID=
  cat "$work/client.log"
}
run opmsg modern
run compressed compressed
run legacy legacy --legacy
ls -l "$out"
