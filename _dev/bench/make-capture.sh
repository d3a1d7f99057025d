#!/usr/bin/env bash
# Makes the benchmark capture (not committed): real servers under load
# generators, on the loopback of a private network namespace whose lo has a
# 1500-byte MTU, so the packet mix looks like a wire and nothing outside the
# namespace is touched. Output: $1 (default _dev/bench/out/mixed.pcap), at
# least ~200 MB.
#   nginx + wrk, dnsmasq + dnsperf, redis + redis-benchmark,
#   memcached + memcslap, postgresql + pgbench, mariadb + mysqlslap.
# Needs root and: nginx-light dnsmasq dnsperf redis-server memcached
# libmemcached-tools postgresql mariadb-server wrk tcpdump.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out/mixed.pcap}
secs=${BENCH_LOAD_SECONDS:-6}
mkdir -p "$(dirname "$out")"
ns=ntbench$$
work=$(mktemp -d)
chmod 755 "$work"
cleanup() {
  ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 1
  ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del $ns 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add $ns
in_ns() { ip netns exec $ns "$@"; }
in_ns ip link set lo mtu 1500 up

# --- servers ---
mkdir -p $work/www
for i in $(seq 1 20); do head -c $((i * 700)) /dev/urandom | base64 > $work/www/f$i.txt; done
echo '<html><body>bench</body></html>' > $work/www/index.html
chmod -R a+rX $work/www
cat > $work/nginx.conf <<CONF
worker_processes 1;
daemon on; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:8080; root $work/www; } }
CONF
in_ns nginx -c $work/nginx.conf -p $work
in_ns dnsmasq -k -p 53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --address=/bench.test/192.0.2.1 --cache-size=0 --pid-file=$work/dnsmasq.pid 2>/dev/null &
in_ns redis-server --port 6379 --bind 127.0.0.1 --save '' --daemonize no >/dev/null &
in_ns memcached -u root -l 127.0.0.1 -p 11211 &
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
mkdir -p $work/pg && chown postgres $work/pg
in_ns su postgres -s /bin/sh -c "$pgbin/initdb -D $work/pg/data -A trust >/dev/null && $pgbin/pg_ctl -D $work/pg/data -o '-p 5432 -k $work/pg -c listen_addresses=127.0.0.1' -l $work/pg/log start >/dev/null"
mkdir -p $work/my
mariadb-install-db --datadir=$work/my/data --user=root --auth-root-authentication-method=normal >/dev/null 2>&1
in_ns mariadbd --datadir=$work/my/data --user=root --port=3306 --bind-address=127.0.0.1 \
  --socket=$work/my/sock --skip-grant-tables --pid-file=$work/my/pid >/dev/null 2>&1 &
sleep 4

in_ns tcpdump -i lo -s 0 -B 65536 -w "$out" 'tcp or udp' 2>$work/tcpdump.err &
tcpdump_pid=$! # ip netns exec execs tcpdump: same process
sleep 1

# --- load, one after the other so the capture keeps up ---
# wrk has no rate limit: keep its runs short or the capture balloons
# (about 150 MB/s of HTTP on these machines).
in_ns wrk -t1 -c4 -d1s http://127.0.0.1:8080/f3.txt >/dev/null
in_ns wrk -t1 -c8 -d1s http://127.0.0.1:8080/index.html >/dev/null
echo "after http: $(stat -c %s "$out") bytes"
for i in $(seq 1 500); do echo "h$i.bench.test A"; echo "bench.test MX"; done > $work/queries
in_ns dnsperf -s 127.0.0.1 -d $work/queries -l $secs -c 4 -Q 20000 >/dev/null
echo "after dns: $(stat -c %s "$out") bytes"
in_ns redis-benchmark -h 127.0.0.1 -p 6379 -n 100000 -c 20 -q -t set,get,incr,lpush,lpop >/dev/null
echo "after redis: $(stat -c %s "$out") bytes"
in_ns memcslap --servers=127.0.0.1:11211 --concurrency=4 --execute-number=5000 >/dev/null 2>&1 || true
echo "after memcache: $(stat -c %s "$out") bytes"
in_ns su postgres -s /bin/sh -c "$pgbin/pgbench -h 127.0.0.1 -p 5432 -i -s 2 postgres >/dev/null 2>&1 && $pgbin/pgbench -h 127.0.0.1 -p 5432 -c 4 -T $secs postgres >/dev/null 2>&1" || true
echo "after pgsql: $(stat -c %s "$out") bytes"
# The key load needs an auto-increment primary key; without
# --auto-generate-sql-add-autoincrement mysqlslap refuses before connecting.
in_ns mysqlslap -h 127.0.0.1 -P 3306 -u root --protocol=tcp --auto-generate-sql --auto-generate-sql-load-type=key \
  --auto-generate-sql-add-autoincrement --concurrency=4 --iterations=1 --number-of-queries=20000 >/dev/null 2>$work/mysqlslap.err ||
  { echo "mysqlslap failed:" >&2; cat $work/mysqlslap.err >&2; }
echo "after mysql: $(stat -c %s "$out") bytes"
sleep 1
kill "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
sleep 1
echo "wrote $out: $(stat -c %s "$out") bytes"
