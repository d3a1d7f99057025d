#!/usr/bin/env bash
# Captures the redis sessions that test decoders/tcp, plus tshark's
# "Follow TCP stream" of each connection (the bytes the assembler must
# deliver). Run as root from the repository root: _dev/capture/tcp.sh
#
#   redis.pcap      on lo, port 6390: stream 0 pipelined commands in one
#                   connection; streams 1 and 2 a 100 kB SET and GET
#                   (several segments); stream 3 a PING over ::1.
#   redis.follow<N>.txt  tshark -z follow,tcp,raw,N (server lines indented)
set -euo pipefail

out=_dev/pcaps/tcp
mkdir -p "$out"
port=6390
dir=$(mktemp -d)
trap 'kill $tcpd $srv 2>/dev/null || true; rm -rf "$dir"' EXIT

redis-server --port $port --bind "127.0.0.1 ::1" --save "" --appendonly no --dir "$dir" \
	--daemonize no >/dev/null & srv=$!
sleep 1
tcpdump -q -i lo -w "$out/redis.pcap" "tcp port $port" 2>/dev/null & tcpd=$!
sleep 1

# Pipelined inline commands over bash's /dev/tcp (redis-cli reading a pipe
# would first fetch COMMAND DOCS, hundreds of kB).
bash -c "exec 3<>/dev/tcp/127.0.0.1/$port
printf 'SET greeting hello\r\nGET greeting\r\nINCR counter\r\nINCR counter\r\n' >&3
sleep 0.2
printf 'LPUSH list a b c\r\nLRANGE list 0 -1\r\nGET missing\r\nQUIT\r\n' >&3
cat <&3 >/dev/null"
head -c 75000 /dev/urandom | base64 -w 0 >"$dir/big"
redis-cli -p $port -x SET big <"$dir/big" >/dev/null
redis-cli -p $port GET big >/dev/null
redis-cli -h ::1 -p $port PING >/dev/null
sleep 1
kill $tcpd
wait $tcpd 2>/dev/null || true

for n in 0 1 2 3; do
	tshark -r "$out/redis.pcap" -q -z follow,tcp,raw,$n >"$out/redis.follow$n.txt" 2>/dev/null
done
ls -l "$out"
