#!/usr/bin/env bash
# Captures _dev/pcaps/sample.pcap: real traffic on loopback from nginx
# (HTTP on 127.0.0.1:8080), dnsmasq (DNS on 127.0.0.1:53, UDP and TCP) and
# ping (ICMP), for the README's first command and the end-to-end tests.
# Needs root, nginx-light, dnsmasq, dnsutils, curl, tcpdump.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/pcaps/sample.pcap}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f $work/nginx.pid ] && kill $(cat $work/nginx.pid) 2>/dev/null; rm -rf $work' EXIT

mkdir -p $work/www; chmod 755 $work
echo '<html><body>hello from nginx</body></html>' > $work/www/index.html
head -c 3000 /dev/zero | tr '\0' 'a' > $work/www/big.txt
cat > $work/nginx.conf <<CONF
daemon on;
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http {
  access_log off;
  gzip on; gzip_types text/plain; gzip_min_length 100;
  server {
    listen 127.0.0.1:8080;
    root $work/www;
    location /missing { return 404; }
  }
}
CONF
chmod -R a+rX $work/www
nginx -c $work/nginx.conf -p $work
dnsmasq -k -p 53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --address=/example.test/192.0.2.10 --mx-host=example.test,mail.example.test,10 \
  --txt-record=example.test,"v=spf1 -all" --pid-file=$work/dnsmasq.pid 2>/dev/null &
sleep 1

tcpdump -i lo -w "$out" -U 'port 8080 or port 53 or icmp' 2>/dev/null &
dump=$!
sleep 1
curl -s -o /dev/null http://127.0.0.1:8080/
curl -s -o /dev/null -H 'Accept-Encoding: gzip' http://127.0.0.1:8080/big.txt
curl -s -o /dev/null http://127.0.0.1:8080/missing
curl -s -o /dev/null -X POST -d 'user=alice&password=secret' http://127.0.0.1:8080/
dig +short @127.0.0.1 www.example.test A >/dev/null
dig +short @127.0.0.1 example.test MX >/dev/null
dig +short @127.0.0.1 example.test TXT >/dev/null
dig +short +tcp @127.0.0.1 www.example.test A >/dev/null
dig @127.0.0.1 nothing.invalid A >/dev/null || true
ping -c 2 -i 0.2 127.0.0.1 >/dev/null
sleep 1
kill $dump; wait $dump 2>/dev/null || true
echo "wrote $out ($(stat -c %s "$out") bytes)"
