#!/usr/bin/env bash
# Start the single-node test engine (OpenSearch 2.19.6 from Maven Central, see
# README.md) on 127.0.0.1:${NT_ES_PORT:-9200} in the background and wait until
# it is healthy. Idempotent: a node already started by this script is reused.
#
#   _dev/es/start.sh          # build if needed, start, wait
#   _dev/es/stop.sh           # stop it
#
# Files: _dev/es/run/node.pid, _dev/es/run/node.log, _dev/es/run/home/ (data
# wiped at each start so every run begins from an empty cluster).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${NT_ES_PORT:-9200}"
run="$here/run"
home="$run/home"
pidfile="$run/node.pid"
log="$run/node.log"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
url="http://127.0.0.1:$port"

healthy() {
  curl -fsS "$url/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -qE '"status":"(green|yellow)"'
}

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && healthy; then
  echo "es: already running (pid $(cat "$pidfile")) at $url"
  exit 0
fi
if curl -fsS "$url" >/dev/null 2>&1; then
  echo "es: something not started by this script already listens on $url" >&2
  exit 1
fi

# Build the launcher when missing or older than its sources (build.sh decides).
bash "$here/build.sh"
stamp="$here/target/classpath.txt"

mkdir -p "$run"
rm -rf "$home/data" "$home/logs"
mkdir -p "$home/geoip"
echo "es: writing test GeoLite2 databases"
(cd "$root" && go run ./_dev/es/geoipgen -out "$home/geoip")

echo "es: starting node on $url (log: $log)"
# -Xmx1g: the machine is shared; the test data set is tiny.
nohup "$java" -Xms256m -Xmx1g -XX:+UseSerialGC \
  -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
  -cp "$here/target/classes:$(cat "$stamp")" \
  dev.networktraffic.es.Launcher "$home" "$port" >"$log" 2>&1 </dev/null &
echo $! >"$pidfile"

for _ in $(seq 1 180); do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "es: node exited during startup; last log lines:" >&2
    tail -n 40 "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  if healthy; then
    echo "es: healthy at $url (pid $(cat "$pidfile"))"
    exit 0
  fi
  sleep 1
done
echo "es: not healthy after 180s; last log lines:" >&2
tail -n 40 "$log" >&2
exit 1
