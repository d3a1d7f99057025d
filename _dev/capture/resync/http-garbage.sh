#!/usr/bin/env bash
# Captures _dev/pcaps/http/garbage.pcap: garbage in the middle of real HTTP
# connections (not gaps: every byte is captured), for the parse-error
# resynchronisation tests of decoders/http. Server: python3 http.server
# (BaseHTTPRequestHandler, HTTP/1.1 keep-alive) on 127.0.0.1:8080 in a
# throwaway namespace whose lo has a 1500-byte MTU; clients: python sockets.
#
#   connection 1  GET /a (200), GET /overrun: the handler declares
#                 Content-Length: 5 and writes 5 bytes then 3000 bytes of
#                 binary garbage (a server bug: a body longer than its
#                 length), GET /a (200), GET /b (404), one at a time.
#   connection 2  the client writes a request whose method is not a token
#                 ("BR\xc9W /x HTTP/1.1") and a GET /c in one write: the
#                 server answers the first with 501 (Connection: close) and
#                 closes; GET /c is never answered.
#   connection 3  the client writes 1500 bytes of binary garbage and a GET
#                 /d in one write: the server answers the garbage with an
#                 HTTP/0.9-style 400 (a bare HTML body) and closes.
#
# Needs root, iproute2, tcpdump, python3.
# Run from the repo root:  sudo _dev/capture/resync/http-garbage.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/http}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-resync-http-garbage
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
ip -n "$NS" link set lo mtu 1500 up
ip -n "$NS" link set lo gso_max_segs 1 gso_max_size 1500
in_ns() { ip netns exec "$NS" "$@"; }

cat >"$work/server.py" <<'PY'
import random
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/a":
            body = b"hello world\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/overrun":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello" + random.Random(7).randbytes(3000))
        else:
            self.send_error(404)

HTTPServer(("127.0.0.1", 8080), H).serve_forever()
PY
cat >"$work/client.py" <<'PY'
import random, socket

def drain(s, idle=0.3):
    s.settimeout(idle)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        pass

s = socket.create_connection(("127.0.0.1", 8080))
for path in ("/a", "/overrun", "/a", "/b"):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" % path.encode())
    drain(s)
s.close()

for junk, path in ((b"BR\xc9W /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", b"/c"),
                   (random.Random(8).randbytes(1500), b"/d")):
    s = socket.create_connection(("127.0.0.1", 8080))
    s.sendall(junk + b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" % path)
    drain(s, 1)
    s.close()
PY
ip netns exec "$NS" python3 "$work/server.py" &
SPID=$!
for _ in $(seq 100); do
  in_ns python3 -c "import socket; socket.create_connection(('127.0.0.1', 8080), 0.2).close()" 2>/dev/null && break
  sleep 0.1
done
ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$out/garbage.pcap" 'tcp port 8080' 2>"$work/tcpdump.err" &
TPID=$!
for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
in_ns python3 "$work/client.py"
sleep 1
kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=
ls -l "$out/garbage.pcap"
