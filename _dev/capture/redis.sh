#!/usr/bin/env bash
# Captures the Redis test pcaps under _dev/pcaps/redis/ from real traffic:
# redis-server on 127.0.0.1:6379 in a throwaway network namespace, traffic
# captured on that namespace's loopback.
#
#   cli.pcap        redis-cli, one connection per line group: SET/GET/INCR,
#                   GET of a missing key (nil), LPUSH/LRANGE, HSET/HGETALL,
#                   CONFIG GET (two-word command), error replies (WRONGTYPE,
#                   unknown command), MULTI/SET/INCR/EXEC, EXPIRE/TTL, DEL,
#                   a 200 KB value (SET -x, GET: spans many segments).
#   pipeline.pcap   raw client (python): 5 RESP commands in one write plus
#                   inline commands ("PING", "GET k"), then redis-cli --pipe
#                   with 20 SETs (it adds its own ECHO marker).
#   resp3.pcap      redis-cli -3 (HELLO 3): map (HGETALL), set (SMEMBERS),
#                   null, double (ZSCORE), bool-ish replies, an error.
#   pubsub.pcap     RESP2 SUBSCRIBE to two channels + PSUBSCRIBE, PUBLISH
#                   from a second connection, pushed messages, PING in
#                   subscribed mode, UNSUBSCRIBE; the same in RESP3 (push
#                   frames '>').
#   benchmark.pcap  redis-benchmark -n 100 -c 2 (set,get,incr,lpush,lrange)
#                   plus a -P 8 pipelined run.
#   load            (only when named: redis.sh load; written to
#                   ${LOADOUT:-/tmp}/redis-load.pcap, not checked in)
#                   redis-benchmark -n 200000 -c 8, plain and -P 16, for
#                   throughput measurements.
#
# Needs root, iproute2, tcpdump, redis-server, redis-tools, python3.
# Run from the repo root:  sudo _dev/capture/redis.sh [name ...]
set -euo pipefail

out=${OUT:-_dev/pcaps/redis}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-redis
work=$(mktemp -d)
want=" ${*:-cli pipeline resp3 pubsub benchmark} "

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -f "$work/redis.pid" ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

in_ns redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
  --pidfile "$work/redis.pid" --dir "$work" --logfile "$work/redis.log"
for _ in $(seq 50); do in_ns redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done

start() {
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "tcp port 6379" 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }
cli() { in_ns redis-cli -h 127.0.0.1 -p 6379 "$@"; }

if [[ $want == *" cli "* ]]; then
  start "$out/cli.pcap"
  cli set key3 me
  cli get key3
  cli get nosuchkey
  cli incr counter
  printf 'lpush mylist a b c\nlrange mylist 0 -1\nincr mylist\nhset user:1 name alice age 30\nhgetall user:1\nconfig get maxmemory\nnosuchcommand x\n' | cli
  printf 'multi\nset tx1 v1\nincr tx2\nexec\nexpire tx1 100\nttl tx1\ndel tx1 tx2\n' | cli
  head -c 200000 /dev/zero | tr '\0' 'v' | cli -x set big
  cli strlen big
  cli get big | wc -c
  stop
fi

if [[ $want == *" pipeline "* ]]; then
  start "$out/pipeline.pcap"
  in_ns python3 - <<'PY'
import socket
def cmd(*a):
    b = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode() if isinstance(x, str) else x
        b += b"$%d\r\n%s\r\n" % (len(x), x)
    return b
s = socket.create_connection(("127.0.0.1", 6379))
batch = cmd("SET", "p1", "one") + cmd("GET", "p1") + cmd("INCR", "p1") + cmd("RPUSH", "pl", "x", "y") + cmd("LRANGE", "pl", "0", "-1")
s.sendall(batch + b"PING\r\nGET p1\r\n")
want, got = 7, b""
while got.count(b"\r\n") < 10:
    got += s.recv(65536)
s.close()
PY
  for i in $(seq 1 20); do printf '*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$2\r\nv%d\r\n' "$i" $((i % 10)); done >"$work/pipe.txt"
  cli --pipe <"$work/pipe.txt"
  stop
fi

if [[ $want == *" resp3 "* ]]; then
  start "$out/resp3.pcap"
  printf 'hset h3 f1 v1 f2 v2\nhgetall h3\nsadd s3 m1\nsmembers s3\nget nosuch3\nzadd z3 1.5 a\nzscore z3 a\nexists h3\nincr h3\n' | cli -3
  stop
fi

if [[ $want == *" pubsub "* ]]; then
  start "$out/pubsub.pcap"
  in_ns python3 - <<'PY'
import socket, time
def cmd(*a):
    b = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode()
        b += b"$%d\r\n%s\r\n" % (len(x), x)
    return b
def drain(s, t=0.3):
    s.settimeout(t)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        pass
pub = socket.create_connection(("127.0.0.1", 6379))
for proto in ("2", "3"):
    sub = socket.create_connection(("127.0.0.1", 6379))
    if proto == "3":
        sub.sendall(cmd("HELLO", "3")); drain(sub)
    sub.sendall(cmd("SUBSCRIBE", "news", "sport")); drain(sub)
    sub.sendall(cmd("PSUBSCRIBE", "log.*")); drain(sub)
    for ch, msg in (("news", "hello"), ("sport", "goal"), ("log.app", "started")):
        pub.sendall(cmd("PUBLISH", ch, msg)); drain(pub, 0.1)
    drain(sub)
    sub.sendall(cmd("PING")); drain(sub)
    sub.sendall(cmd("UNSUBSCRIBE")); drain(sub)
    sub.sendall(cmd("PUNSUBSCRIBE")); drain(sub)
    sub.sendall(cmd("GET", "news")); drain(sub)
    sub.close()
pub.close()
PY
  stop
fi

if [[ $want == *" benchmark "* ]]; then
  start "$out/benchmark.pcap"
  in_ns redis-benchmark -h 127.0.0.1 -p 6379 -q -n 100 -c 2 -t set,get,incr,lpush,lrange_100 >/dev/null
  in_ns redis-benchmark -h 127.0.0.1 -p 6379 -q -n 200 -c 1 -P 8 -t set,get >/dev/null
  stop
fi
if [[ $want == *" load "* ]]; then
  start "${LOADOUT:-/tmp}/redis-load.pcap"
  in_ns redis-benchmark -h 127.0.0.1 -p 6379 -q -n 200000 -c 8 -t set,get,incr,lpush,lrange_100 >/dev/null
  in_ns redis-benchmark -h 127.0.0.1 -p 6379 -q -n 200000 -c 8 -P 16 -t set,get >/dev/null
  stop
fi
ls -l "$out"
