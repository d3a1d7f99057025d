#!/usr/bin/env bash
# Captures the Cassandra test pcaps under _dev/pcaps/cassandra/.
#
# Debian has no Cassandra server: the server side is a STAND-IN
# (_dev/capture/cassandra/standin_server.py, canned but well-formed CQL
# protocol v3/v4 answers); the client side is the real DataStax python
# driver (python3-cassandra) running _dev/capture/cassandra/client.py.
# Both run in a throwaway network namespace, 127.0.0.1:9042.
#
#   v4.pcap      driver negotiating down from DSE v2/v1 and v5 (ERROR
#                answers, counted as skipped frames), then v4: OPTIONS,
#                STARTUP, REGISTER, system.local/peers (rows), peers_v2
#                (ERROR Invalid), CREATE KEYSPACE/TABLE (schema_change +
#                pushed EVENT on the control connection), USE, INSERT,
#                SELECT (rows, paged), PREPARE/EXECUTE, BATCH (warning),
#                syntax error, Unavailable error with details.
#   v3_snappy.pcap  the same with protocol_version=3 and snappy-compressed
#                frames.
#
# Needs root, iproute2, tcpdump, python3-cassandra, python3-snappy.
# Run from the repo root:  _dev/capture/cassandra.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/cassandra}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")/cassandra" && pwd)
NS=ntcap-cassandra
work=$(mktemp -d)
PY=/usr/bin/python3

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

ip netns exec "$NS" "$PY" "$here/standin_server.py" 9042 &
SPID=$!
sleep 1

start() {
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "tcp port 9042" 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

start "$out/v4.pcap"
in_ns "$PY" "$here/client.py" auto
stop
start "$out/v3_snappy.pcap"
in_ns "$PY" "$here/client.py" 3 snappy
stop
ls -l "$out"
