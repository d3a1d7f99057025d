#!/usr/bin/env bash
# Stop the node started by _dev/es/start.sh (by its pid file only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pidfile="$here/run/node.pid"
[ -f "$pidfile" ] || { echo "es: not running (no pid file)"; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "es: pid $pid still alive after 30s, sending KILL" >&2
    kill -9 "$pid" || true
  fi
fi
rm -f "$pidfile"
echo "es: stopped"
