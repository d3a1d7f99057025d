#!/usr/bin/env bash
# Stop the broker started by _dev/kafka/start.sh (by its pid file only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pidfile="$here/run/broker.pid"
[ -f "$pidfile" ] || { echo "kafka: not running (no pid file)"; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka: pid $pid still alive after 30s, sending KILL" >&2
    kill -9 "$pid" || true
  fi
fi
rm -f "$pidfile"
echo "kafka: stopped"
