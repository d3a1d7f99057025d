#!/usr/bin/env bash
# Captures the HTTP/2 and gRPC test pcaps under _dev/pcaps/http2/ from real
# traffic, on the loopback of a throwaway network namespace.
#
#   h2c.pcap      Go net/http with golang.org/x/net/http2/h2c on 127.0.0.1:8080.
#                 Go's HTTP/2 transport with prior knowledge: GET with query,
#                 Authorization and Cookie; GET of 66000 bytes (past the 64 KiB
#                 window); 404; a response with a trailer; POST of 3000
#                 bytes; a request the client cancels (RST_STREAM CANCEL); a
#                 gzip'd JSON response; a url-encoded form POST with
#                 X-Forwarded-For.
#                 Then an HTTP/1.1 request with Upgrade: h2c answered on
#                 stream 1, and the client's GOAWAY; nghttp -u (Upgrade: h2c).
#   nghttp2.pcap  nghttpd --no-tls on 127.0.0.1:8002 (padding 16, push of
#                 /style.css with /index.html, a trailer) and nghttp:
#                 prior knowledge with 3 concurrent streams, padding and a
#                 1 KiB window (WINDOW_UPDATE), a POST, a 404. (nghttpd does
#                 not answer Upgrade: h2c: nghttp -u runs against the Go
#                 server, in h2c.pcap.)
#   grpc.pcap     grpc-go server and client on 127.0.0.1:50051: unary Check
#                 (OK; gzip-compressed; NOT_FOUND; UNIMPLEMENTED), a
#                 server-streaming Watch ended by its deadline
#                 (DEADLINE_EXCEEDED), bidi streaming Chat (OK;
#                 INVALID_ARGUMENT with a percent-encoded grpc-message), and
#                 a Watch the client cancels (RST_STREAM CANCEL). The deadline
#                 Watch races: the client's RST_STREAM usually comes first (the
#                 checked-in capture), sometimes the server's CANCELLED trailers
#                 do; the tests are written for the former.
#   load.pcap     (only with LOAD=1, not checked in) h2load -n 20000 -c 4 -m 10
#                 against nghttpd, for benchmarks.
#
# Needs root, iproute2, tcpdump, go, nghttp2-client, nghttp2-server.
# Run from the repo root:  sudo _dev/capture/http2.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/http2}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-http2
work=$(mktemp -d)
chmod 755 "$work"

PIDS=()
cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

GOFLAGS= go build -o "$work/helper" ./_dev/capture/http2/helper

capture() { # file filter
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }
wait_port() { for _ in $(seq 50); do in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return; sleep 0.1; done; }

# --- Go net/http h2c ---------------------------------------------------------------
ip netns exec "$NS" "$work/helper" serve-h2c 127.0.0.1:8080 &
PIDS+=($!)
wait_port 8080
capture "$out/h2c.pcap" 'tcp port 8080'
in_ns "$work/helper" h2c-client 127.0.0.1:8080
in_ns "$work/helper" upgrade 127.0.0.1:8080
in_ns nghttp -n -u -H 'user-agent: nghttp-upgrade' http://127.0.0.1:8080/hello?name=nghttp
stop

# --- nghttp2 ------------------------------------------------------------------------
mkdir -p "$work/www"
printf '<html><head><link rel="stylesheet" href="/style.css"></head><body>nghttpd</body></html>\n' >"$work/www/index.html"
printf 'body { color: #333; }\n' >"$work/www/style.css"
head -c 5000 /dev/zero | tr '\0' 'n' >"$work/www/5k.txt"
printf 'upload body from nghttp\n' >"$work/post.txt"
ip netns exec "$NS" nghttpd --no-tls -d "$work/www" -b 16 -p /index.html=/style.css \
  --trailer 'x-trailer: nghttpd' 8002 >/dev/null 2>&1 &
PIDS+=($!)
wait_port 8002
capture "$out/nghttp2.pcap" 'tcp port 8002'
in_ns nghttp -n -b 8 -w 10 -H 'user-agent: nghttp2-test' http://127.0.0.1:8002/index.html \
  http://127.0.0.1:8002/5k.txt http://127.0.0.1:8002/missing
in_ns nghttp -n -d "$work/post.txt" http://127.0.0.1:8002/index.html
stop
if [[ -n "${LOAD:-}" ]]; then
  capture "${LOAD_OUT:-/tmp/http2-load.pcap}" 'tcp port 8002'
  in_ns h2load -n 20000 -c 4 -m 10 http://127.0.0.1:8002/index.html >/dev/null
  stop
fi

# --- gRPC ---------------------------------------------------------------------------
ip netns exec "$NS" "$work/helper" serve-grpc 127.0.0.1:50051 &
PIDS+=($!)
wait_port 50051
capture "$out/grpc.pcap" 'tcp port 50051'
in_ns "$work/helper" grpc-client 127.0.0.1:50051
stop
ls -l "$out"
