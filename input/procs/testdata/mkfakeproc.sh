#!/bin/sh
# Builds the fake procfs under testdata/proc used by fake_test.go. The socket
# lines follow the kernel's format (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c,
# net/ipv4/udp.c): addresses are the in-memory 32-bit words printed with %08X
# (little-endian here), ports plain hex. Run from input/procs/testdata.
set -eu
rm -rf proc
mkdir -p proc/net
cd proc

cat > stat <<'X'
cpu  1 2 3 4 5 6 7 0 0 0
intr 0
btime 1700000000
processes 999
X

H4='  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
H6='  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
T='00000000:00000000 00:00000000 00000000     0        0'
{
echo "$H4"
# 0.0.0.0:80 LISTEN, nginx master (shared with the worker after fork)
echo "   0: 00000000:0050 00000000:0000 0A $T 1001 1 0000000000000000 100 0 0 10 0"
# 10.1.2.3:80 <- 192.168.1.9:51000 ESTABLISHED, accepted by the worker
echo "   1: 0302010A:0050 0901A8C0:C738 01 $T 1002 1 0000000000000000 20 4 30 10 -1"
# TIME_WAIT: no inode, no owner
echo "   2: 0302010A:0050 0901A8C0:C739 06 00000000:00000000 03:00000C1F 00000000     0        0 0 3 0000000000000000"
# malformed: too few fields, bad hex, wrong widths, missing colon
echo "   3: 0302010A:0051 0901A8C0:C739 0A"
echo "   4: 0302010G:0052 00000000:0000 0A $T 1004 1 0000000000000000 100 0 0 10 0"
echo "   5: 302010A:0053 00000000:0000 0A $T 1005 1 0000000000000000 100 0 0 10 0"
echo "   6: 0302010A0054 00000000:0000 0A $T 1006 1 0000000000000000 100 0 0 10 0"
echo "   7: 0302010A:00550 00000000:0000 0A $T 1007 1 0000000000000000 100 0 0 10 0"
echo "   8: 0302010A:0056 00000000:0000 0A $T notanumber 1 0000000000000000 100 0 0 10 0"
echo ""
# an owner we may not know: socket listed, no process holds it
echo "   9: 0302010A:1F40 00000000:0000 0A $T 1009 1 0000000000000000 100 0 0 10 0"
} > net/tcp

{
echo "$H6"
# ::ffff:127.0.0.1:8080 (dual-stack socket talking IPv4), pid 200
echo "   0: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A $T 2001 1 0000000000000000 100 0 0 10 0"
# ::1:9000, pid 200
echo "   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A $T 2002 1 0000000000000000 100 0 0 10 0"
# [::]:443, nginx master
echo "   2: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A $T 2003 1 0000000000000000 100 0 0 10 0"
# malformed: 31 hex digits
echo "   3: 0000000000000000000000000100000:2329 00000000000000000000000000000000:0000 0A $T 2004 1 0000000000000000 100 0 0 10 0"
} > net/tcp6

{
echo "$H4"
# 0.0.0.0:53, pid 300
echo " 1234: 00000000:0035 00000000:0000 07 $T 3001 2 0000000000000000 0"
# 0.0.0.0:5000, held by pid 500 that vanished (no stat)
echo " 1235: 00000000:1388 00000000:0000 07 $T 3003 2 0000000000000000 0"
} > net/udp

{
echo "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"
# [2001:db8::1]:5353, pid 300  (2001:0db8:0000:0000:0000:0000:0000:0001)
echo "  100: B80D0120000000000000000001000000:14E9 00000000000000000000000000000000:0000 07 $T 3002 2 0000000000000000 0"
} > net/udp6

mkpid() { # pid stat cmdline(printf format) exe cwd fd-targets...
	pid=$1; stat=$2; cmd=$3; exe=$4; cwd=$5; shift 5
	mkdir -p "$pid/fd"
	[ -n "$stat" ] && printf '%s\n' "$stat" > "$pid/stat"
	printf "$cmd" > "$pid/cmdline"
	[ -n "$exe" ] && ln -s "$exe" "$pid/exe"
	[ -n "$cwd" ] && ln -s "$cwd" "$pid/cwd"
	n=0
	for t in "$@"; do ln -s "$t" "$pid/fd/$n"; n=$((n+1)); done
}
# nginx master: rewritten argv (one string), binary replaced by an upgrade
mkpid 100 '100 (nginx) S 1 100 100 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 10000 100 18446744073709551615' \
	'nginx: master process /usr/sbin/nginx\0' '/usr/sbin/nginx (deleted)' / \
	/dev/null 'socket:[1001]' 'socket:[2003]' 'pipe:[77]'
# nginx worker: shares the listening socket, owns the accepted one
mkpid 101 '101 (nginx) S 100 100 100 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12400 10000 100 18446744073709551615' \
	'nginx: worker process\0' /usr/sbin/nginx / \
	'socket:[1001]' 'socket:[1002]' 'anon_inode:[eventpoll]'
# comm cut to 15 bytes; argv[0] has the full name
mkpid 200 '200 (a-very-long-nam) S 1 200 200 0 -1 4194560 100 0 0 0 0 0 0 0 20 -5 4 0 99999 10000 100 18446744073709551615' \
	'/opt/bin/a-very-long-name-server\0--listen\0[::1]:9000\0\0' /opt/bin/a-very-long-name-server /srv/data \
	'socket:[2001]' 'socket:[2002]' 'socket:[]' 'socket:[12x]'
# comm with spaces and parentheses
mkpid 300 '300 (dns (srv) x) S 1 300 300 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 10000 100 18446744073709551615' \
	'dnsd\0-f\0' /usr/bin/dnsd /var/lib/dns \
	'socket:[3001]' 'socket:[3002]'
# vanished mid-scan: fd links still listed, stat gone
mkpid 500 '' '' '' '' 'socket:[3003]'
# a process with sockets that are in no table (unix sockets, other netns)
mkpid 600 '600 (other) S 1 600 600 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 600 10000 100 18446744073709551615' \
	'other\0' /usr/bin/other / 'socket:[9999]'
# not processes
mkdir -p sys/fs 0x1 -- 2>/dev/null || true
ln -s 600 self
