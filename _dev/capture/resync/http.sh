#!/usr/bin/env bash
# Captures _dev/pcaps/http/keepalive.pcap (real nginx and curl) and makes
# keepalive-gaps.pcap from it with _dev/capture/resync/gap.sh: the gap
# tests of decoders/http compare the two.
#
#   keepalive.pcap  nginx 127.0.0.1:8080, three curl --http1.1 sessions of
#                   six requests each on one kept-alive connection: GET
#                   /index.html, GET /2k.txt (two segments), GET /rand.txt
#                   (gzip, chunked, several segments), GET /missing (404),
#                   HEAD /2k.txt, GET /index.html. The namespace's lo has a
#                   1500-byte MTU so responses span segments as on a LAN.
#
# Needs root, iproute2, tcpdump, nginx, curl, tshark (editcap).
# Run from the repo root:  sudo _dev/capture/resync/http.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/http}
mkdir -p "$out"
out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
NS=ntcap-resync-http
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo mtu 1500 up
in_ns() { ip netns exec "$NS" "$@"; }
# No segmentation offload: tcpdump sees the MTU-sized segments the wire would.
ip -n "$NS" link set lo gso_max_segs 1 gso_max_size 1500

mkdir -p "$work/www" "$work/logs"
printf '<html><body>hello from nginx</body></html>\n' >"$work/www/index.html"
head -c 2048 /dev/zero | tr '\0' 'a' >"$work/www/2k.txt"
# Random text compresses badly: the gzip'd, chunked response spans segments.
head -c 6000 /dev/urandom | base64 >"$work/www/rand.txt"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  default_type application/octet-stream;
  types { text/html html; text/plain txt; }
  gzip on;
  gzip_min_length 100;
  gzip_types text/plain;
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:8080;
    root $work/www;
  }
}
EOF
in_ns nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5

ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$out/keepalive.pcap" 'tcp port 8080' 2>"$work/tcpdump.err" &
TPID=$!
for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
u=http://localhost:8080
for _ in 1 2 3; do
  in_ns curl -sS --http1.1 -o /dev/null -o /dev/null "$u/index.html" "$u/2k.txt" \
    --next -sS --http1.1 -o /dev/null -H 'Accept-Encoding: gzip' "$u/rand.txt" \
    --next -sS --http1.1 -o /dev/null "$u/missing" \
    --next -sS --http1.1 -o /dev/null -I "$u/2k.txt" \
    --next -sS --http1.1 -o /dev/null "$u/index.html"
  sleep 0.2
done
sleep 1
kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=

# The gaps, one per connection (tshark numbers the connections 0, 1, 2):
#   0: the segment of the 4th request (GET /missing): a client-side gap that
#      takes a whole request; its 404 must not be paired with the HEAD.
#   1: the 2nd segment of the 3rd response (chunked rand.txt): a server-side
#      gap inside chunk framing; parsing resumes at the 404's status line.
#   2: the 1st segment of the 2nd response (2k.txt status line, headers and
#      body start): a server-side gap at a message start.
f=$out/keepalive.pcap
nth() { sed -n "$1p"; }
req4=$(tshark -r "$f" -Y 'tcp.stream == 0 && http.request' -T fields -e frame.number | nth 4)
segs() { tshark -r "$f" -o tcp.desegment_tcp_streams:TRUE -Y "tcp.stream == $1 && http.response" \
  -T fields -e tcp.segment -e frame.number | nth "$2" | awk -F'\t' '{print ($1 == "" ? $2 : $1)}' | tr , '\n'; }
resp3seg2=$(segs 1 3 | nth 2)
resp2seg1=$(segs 2 2 | nth 1)
"$here/gap.sh" "$f" "$out/keepalive-gaps.pcap" "$req4" "$resp3seg2" "$resp2seg1"
# pipeline.pcap (from _dev/capture/http.sh) without the segment of its
# second response (the 404): a server-side gap with pipelined requests.
p404=$(tshark -r "$out/pipeline.pcap" -Y 'http.response.code == 404' -T fields -e frame.number)
"$here/gap.sh" "$out/pipeline.pcap" "$out/pipeline-gap.pcap" "$p404"
