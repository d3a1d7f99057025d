#!/usr/bin/env bash
# Stop the nodes start-cluster.sh started (by their pid files).
here="$(cd "$(dirname "$0")" && pwd)"
for f in "$here"/run-cluster/node*/node.pid; do
  [ -f "$f" ] || continue
  pid="$(cat "$f")"
  kill "$pid" 2>/dev/null && for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$f"
done
true
