#!/usr/bin/env bash
# Captures the ICMP test pcaps under _dev/pcaps/icmp/ from real traffic in two
# throwaway network namespaces, so nothing else on the machine ends up in them.
#
#   lo_ping.pcap      ping -c 3 127.0.0.1 and ping -6 -c 3 ::1 on a namespace's lo
#   veth.pcap         on the client's veth (Ethernet): echo v4/v6, an unanswered echo,
#                     net/host unreachable from a router's "unreachable" routes,
#                     UDP port unreachable v4/v6 (with the UDP probes), TTL
#                     exceeded, and two HTTP GETs (v4, v6) plus a UDP echo so
#                     the flow table tests have TCP and UDP conversations.
#
# (This container's kernel has no 802.1Q module, so VLAN tests insert a tag
# into these real frames in memory instead of capturing tagged ones.)
#
# Needs root, iproute2, tcpdump, ping, socat. Run from the repo root:
#   sudo _dev/capture/icmp.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/icmp}
mkdir -p "$out"
A=ntcap-icmp-a
B=ntcap-icmp-b

cleanup() {
  [[ -n "${HPID:-}" ]] && kill "$HPID" 2>/dev/null || true
  [[ -n "${UPID:-}" ]] && kill "$UPID" 2>/dev/null || true
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
[[ -n "${DEBUG:-}" ]] && trap - EXIT
cleanup

ip netns add "$A"
ip netns add "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up

capture() { # ns iface file [filter] -> starts tcpdump, sets TPID
  ip netns exec "$1" tcpdump -i "$2" -U -s 0 -w "$3" ${4:+"$4"} 2>/dev/null &
  TPID=$!
  sleep 1
}
stop() { sleep 1; kill "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

# --- loopback pings ---------------------------------------------------------
capture "$A" lo "$out/lo_ping.pcap" 'icmp or icmp6'
ip netns exec "$A" ping -c 3 -i 0.2 127.0.0.1 >/dev/null
ip netns exec "$A" ping -6 -c 3 -i 0.2 ::1 >/dev/null
stop

# --- client A <-> router B over a veth pair ---------------------------------
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" link set veth-a address 02:00:00:00:00:0a
ip -n "$B" link set veth-b address 02:00:00:00:00:0b
for ns in "$A" "$B"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip -n "$A" addr add 10.99.0.1/24 dev veth-a
ip -n "$B" addr add 10.99.0.2/24 dev veth-b
ip -n "$A" addr add fd99::1/64 dev veth-a nodad
ip -n "$B" addr add fd99::2/64 dev veth-b nodad
ip -n "$A" link set veth-a up
ip -n "$B" link set veth-b up
# B routes: everything A sends to the documentation ranges goes through B,
# which answers with unreachables (routes of type unreachable / prohibit) or
# forwards onwards (so a TTL of 1 expires at B).
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec "$B" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
ip -n "$A" route add 192.0.2.0/24 via 10.99.0.2
ip -n "$A" route add 198.51.100.0/24 via 10.99.0.2
ip -n "$A" route add 203.0.113.0/24 via 10.99.0.2
ip -n "$A" -6 route add 2001:db8::/32 via fd99::2
ip -n "$B" route add unreachable 192.0.2.0/24
ip -n "$B" route add prohibit 203.0.113.0/24
ip -n "$B" route add 198.51.100.0/24 via 10.99.0.1
ip -n "$B" -6 route add unreachable 2001:db8::/32
# Warm the neighbour caches so no echo waits for ARP/ND inside the capture.
# The link-local address may still be coming up: retry for a few seconds.
for i in $(seq 20); do ip netns exec "$A" ping -c 1 -W 1 10.99.0.2 >/dev/null && break; sleep 0.3; done
for i in $(seq 20); do ip netns exec "$A" ping -6 -c 1 -W 1 fd99::2 >/dev/null && break; sleep 0.3; done

# B serves HTTP on 8080 and echoes UDP on 7001.
ip netns exec "$B" python3 -m http.server 8080 --bind :: >/dev/null 2>&1 &
HPID=$!
ip netns exec "$B" socat UDP6-RECVFROM:7001,fork,ipv6only=0 EXEC:cat >/dev/null 2>&1 &
UPID=$!
sleep 1

capture "$A" veth-a "$out/veth.pcap"
ip netns exec "$A" ping -c 2 -i 0.2 10.99.0.2 >/dev/null
ip netns exec "$A" ping -6 -c 2 -i 0.2 fd99::2 >/dev/null
# Unanswered echo: B ignores echo requests for this one.
ip netns exec "$B" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
ip netns exec "$A" ping -c 1 -W 1 10.99.0.2 >/dev/null || true
ip netns exec "$B" sysctl -qw net.ipv4.icmp_echo_ignore_all=0
ip netns exec "$A" ping -c 1 -W 1 192.0.2.7 >/dev/null || true       # net unreachable
ip netns exec "$A" ping -c 1 -W 1 203.0.113.9 >/dev/null || true     # admin prohibited
ip netns exec "$A" ping -6 -c 1 -W 1 2001:db8::5 >/dev/null || true  # v6 no route
echo probe | ip netns exec "$A" socat -u - UDP4-SENDTO:10.99.0.2:9 || true   # port unreachable
echo probe | ip netns exec "$A" socat -u - UDP6-SENDTO:[fd99::2]:9 || true   # v6 port unreachable
ip netns exec "$A" ping -c 1 -W 1 -t 1 198.51.100.1 >/dev/null || true # TTL exceeded at B
ip netns exec "$A" curl -s -o /dev/null http://10.99.0.2:8080/
ip netns exec "$A" curl -s -o /dev/null 'http://[fd99::2]:8080/'
echo hello-udp | ip netns exec "$A" socat -t 1 - UDP4:10.99.0.2:7001 >/dev/null || true
stop
kill "$HPID" "$UPID" 2>/dev/null || true

ls -l "$out"
