#!/usr/bin/env bash
# Captures the detection-by-content pcaps under _dev/pcaps/detect/ from real
# servers and clients in a throwaway network namespace (its own loopback).
# The same client session is run twice against the same servers: first on
# their standard ports (std.pcap), then restarted on ports no protocol is
# configured on (alt.pcap), so a test can check that detect: true finds the
# same transactions by content that the port table finds by port.
#
#   server               standard  alternative
#   python3 http.server  80        8123
#   redis-server         6379      7000
#   openssl s_server     443       9443  (self-signed cert, -www)
#   memcached            11211     22122 (text protocol, then binary)
#   PostgreSQL (initdb)  5432      6543  (psql: SSLRequest refused, queries)
#   MariaDB (mariadbd)   3306      4406  (mariadb client: queries)
#
# alt.pcap also holds traffic no probe must claim: 8 KB of random bytes
# and 8 KB of gzip-compressed text each way over TCP port 5555/5556, and
# an SMTP-like line protocol on 2525 (python sockets).
#
# Needs root, iproute2, tcpdump, python3, redis-server, redis-tools,
# openssl, curl, memcached, postgresql (initdb, pg_ctl, psql), mariadb-server
# and mariadb-client. Run from the repo root: sudo _dev/capture/detect/capture.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/detect}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-detect
work=$(mktemp -d)
chmod 755 "$work"
PGBIN=${PGBIN:-$(dirname "$(command -v pg_ctl)")}

pids=()
MPID=
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  if [[ -n "${MPID:-}" ]]; then kill "$MPID" 2>/dev/null || true; wait "$MPID" 2>/dev/null || true; MPID=; fi
  in_ns runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
}
cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  stop_servers
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
# Background servers are started with ip netns exec itself, not in_ns: $!
# must be the server (which ip netns exec becomes), not a subshell.
in_ns() { ip netns exec "$NS" "$@"; }

wait_port() { # port
  for _ in $(seq 100); do
    in_ns python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null && return
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  tail -n 5 "$work"/*.err >&2 || true
  exit 1
}

# One-off setup: certificate, database directories.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=detect.test \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
mkdir -p "$work/www" && echo "hello from detect" >"$work/www/index.html"
chown -R postgres "$work" 2>/dev/null || true
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust >/dev/null
# MariaDB gets a data directory per run: a restarted server on the same
# one may not be listening in time.
for d in my80 my8123; do
  mariadb-install-db --datadir="$work/$d" --user=root --auth-root-authentication-method=normal >"$work/install.log" 2>&1
done

start_servers() { # http redis tls memcache pgsql mysql
  (cd "$work/www" && exec ip netns exec "$NS" python3 -m http.server --bind 127.0.0.1 "$1" >/dev/null 2>&1) &
  pids+=($!)
  ip netns exec "$NS" redis-server --bind 127.0.0.1 --port "$2" --save '' --appendonly no --daemonize no \
    --dir "$work" --logfile "$work/redis.log" &
  pids+=($!)
  ip netns exec "$NS" openssl s_server -quiet -accept "$3" -cert "$work/cert.pem" -key "$work/key.pem" -www >/dev/null 2>&1 &
  pids+=($!)
  ip netns exec "$NS" memcached -u nobody -l 127.0.0.1 -p "$4" -U 0 &
  pids+=($!)
  in_ns runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$5 -c ssl=off -c unix_socket_directories=$work" start >/dev/null
  ip netns exec "$NS" mariadbd --no-defaults --datadir="$work/my$1" --user=root --port="$6" --bind-address=127.0.0.1 \
    --skip-grant-tables --skip-ssl --socket="$work/my.sock" --pid-file="$work/my.pid" \
    --log-error="$work/my$1.err" &
  MPID=$!
  for p in "$@"; do wait_port "$p"; done
}

# The same session against whichever ports the servers listen on.
clients() { # http redis tls memcache pgsql mysql
  in_ns curl -s -o /dev/null "http://127.0.0.1:$1/index.html"
  in_ns curl -s -o /dev/null "http://127.0.0.1:$1/missing"
  in_ns redis-cli -h 127.0.0.1 -p "$2" set detect:key value >/dev/null
  in_ns redis-cli -h 127.0.0.1 -p "$2" get detect:key >/dev/null
  in_ns redis-cli -h 127.0.0.1 -p "$2" incr detect:counter >/dev/null
  in_ns curl -s -k -o /dev/null --tlsv1.3 "https://127.0.0.1:$3/"
  in_ns curl -s -k -o /dev/null --tls-max 1.2 "https://127.0.0.1:$3/"
  in_ns python3 - "$4" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
def text(line, want):
    s.sendall(line)
    got = b""
    while not got.endswith(want):
        got += s.recv(65536)
text(b"set detect 0 0 5\r\nhello\r\n", b"STORED\r\n")
text(b"get detect\r\n", b"END\r\n")
text(b"delete nothere\r\n", b"NOT_FOUND\r\n")
s.close()
b = socket.create_connection(("127.0.0.1", port))
key = b"bin"
# binary get of the key set above (magic 0x80, opcode 0x00)
b.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x00, len(key), 0, 0, 0, len(key), 7, 0) + key)
hdr = b.recv(24)
rest = struct.unpack(">I", hdr[8:12])[0]
while rest > 0:
    rest -= len(b.recv(rest))
b.close()
PY
  PGCONNECT_TIMEOUT=5 PGSSLMODE=prefer PGGSSENCMODE=disable in_ns psql -X -q -h 127.0.0.1 -p "$5" -U postgres -d postgres \
    -c "SELECT 1 AS one" -c "SELECT * FROM no_such_table" -c "SELECT 'a' || 'b' AS ab" >/dev/null 2>&1 || true
  in_ns mariadb --protocol=tcp -h 127.0.0.1 -P "$6" -uroot --skip-ssl \
    -e "SELECT 1; SELECT 'detect' AS word; SELECT * FROM nosuchdb.t;" >/dev/null 2>&1 || true
}

unknown() {
  in_ns python3 - <<'PY'
import gzip, os, socket, threading
random_data = os.urandom(8 << 10)
text = b"".join(b"line %d of some ordinary compressible text\n" % i for i in range(20000))
gz = gzip.compress(text)[: 8 << 10]
def serve(port, reply):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(1)
    def run():
        c, _ = ls.accept()
        got = 0
        while got < len(reply):
            got += len(c.recv(65536))
        c.sendall(reply); c.close(); ls.close()
    t = threading.Thread(target=run); t.start(); return t
for port, blob in ((5555, random_data), (5556, gz)):
    t = serve(port, blob)
    c = socket.create_connection(("127.0.0.1", port)); c.sendall(blob)
    got = 0
    while got < len(blob):
        got += len(c.recv(65536))
    c.close(); t.join()
# a line protocol nobody decodes: a banner first, then commands
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 2525)); ls.listen(1)
def smtp():
    c, _ = ls.accept(); f = c.makefile("rb")
    c.sendall(b"220 detect.test ESMTP ready\r\n")
    for line in f:
        c.sendall(b"221 bye\r\n" if line.startswith(b"QUIT") else b"250 ok\r\n")
        if line.startswith(b"QUIT"):
            break
    c.close(); ls.close()
t = threading.Thread(target=smtp); t.start()
c = socket.create_connection(("127.0.0.1", 2525)); f = c.makefile("rb"); f.readline()
for cmd in (b"EHLO client\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<c@d>\r\n", b"QUIT\r\n"):
    c.sendall(cmd); f.readline()
c.close(); t.join()
PY
}

capture() { # file
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" tcp 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop_capture() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

std=(80 6379 443 11211 5432 3306)
alt=(8123 7000 9443 22122 6543 4406)
start_servers "${std[@]}"
capture "$out/std.pcap"
clients "${std[@]}"
stop_capture
stop_servers
start_servers "${alt[@]}"
capture "$out/alt.pcap"
clients "${alt[@]}"
unknown
stop_capture
stop_servers
ls -l "$out"
