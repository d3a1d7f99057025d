#!/usr/bin/env bash
# Start a three-node test cluster (same engine and launcher as start.sh, cluster
# mode via NT_ES_SEED_HOSTS) on 127.0.0.1:${NT_ES_CLUSTER_PORT:-9261}..+2, small
# heaps, and wait until all nodes have joined. Used by the output's cluster
# test (input/output/elasticsearch/realcluster_test.go), which also restarts
# one killed node with `start-cluster.sh 2`.
#
#   _dev/es/start-cluster.sh        # start nodes 1 2 3 (data wiped), wait for 3 nodes
#   _dev/es/start-cluster.sh 2      # (re)start node 2 only, keep its data
#   _dev/es/stop-cluster.sh         # stop them
#
# Files: _dev/es/run-cluster/nodeN/{node.pid,node.log,home/}.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base="${NT_ES_CLUSTER_PORT:-9261}"
tbase="${NT_ES_CLUSTER_TRANSPORT_PORT:-9461}"
run="$here/run-cluster"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
heap="${NT_ES_CLUSTER_HEAP:-320m}"

nodes=("$@")
fresh=""
if [ ${#nodes[@]} -eq 0 ]; then nodes=(1 2 3); fresh=1; fi

bash "$here/build.sh"
stamp="$here/target/classpath.txt"
root="$(cd "$here/../.." && pwd)"
if [ ! -f "$run/geoip/GeoLite2-ASN.mmdb" ]; then
  echo "es-cluster: writing test GeoLite2 databases"
  mkdir -p "$run/geoip"
  (cd "$root" && go run ./_dev/es/geoipgen -out "$run/geoip")
fi
seeds="127.0.0.1:$tbase,127.0.0.1:$((tbase+1)),127.0.0.1:$((tbase+2))"

for n in "${nodes[@]}"; do
  d="$run/node$n"
  port=$((base+n-1))
  if [ -f "$d/node.pid" ] && kill -0 "$(cat "$d/node.pid")" 2>/dev/null; then
    echo "es-cluster: node $n already running"; continue
  fi
  [ -n "$fresh" ] && rm -rf "$d/home"
  mkdir -p "$d/home/geoip"
  cp "$run"/geoip/*.mmdb "$d/home/geoip/"
  echo "es-cluster: starting node $n on http://127.0.0.1:$port"
  NT_ES_SEED_HOSTS="$seeds" NT_ES_NODE_NAME="nt-node-$n" NT_ES_TRANSPORT_PORT="$((tbase+n-1))" \
  NT_ES_INITIAL_NODES="nt-node-1,nt-node-2,nt-node-3" NT_ES_CLUSTER_NAME="network-traffic-cluster" \
  nohup "$java" -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -cp "$here/target/classes:$(cat "$stamp")" \
    dev.networktraffic.es.Launcher "$d/home" "$port" >"$d/node.log" 2>&1 </dev/null &
  echo $! >"$d/node.pid"
done

url="http://127.0.0.1:$base"
for _ in $(seq 1 240); do
  for n in "${nodes[@]}"; do
    if ! kill -0 "$(cat "$run/node$n/node.pid")" 2>/dev/null; then
      echo "es-cluster: node $n exited during startup; last log lines:" >&2
      tail -n 30 "$run/node$n/node.log" >&2
      exit 1
    fi
  done
  ok=1
  for n in "${nodes[@]}"; do
    curl -fsS "http://127.0.0.1:$((base+n-1))/_cluster/health?wait_for_nodes=3&wait_for_status=yellow&timeout=1s" 2>/dev/null \
      | grep -q '"number_of_nodes":3' || ok=""
  done
  if [ -n "$ok" ]; then echo "es-cluster: 3 nodes joined ($url..)"; exit 0; fi
  sleep 1
done
echo "es-cluster: not formed after 240s" >&2
for n in "${nodes[@]}"; do tail -n 15 "$run/node$n/node.log" >&2; done
exit 1
