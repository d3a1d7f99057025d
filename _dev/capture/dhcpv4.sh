#!/usr/bin/env bash
# Captures _dev/pcaps/dhcpv4/dnsmasq.pcap from real DHCP traffic between two
# throwaway network namespaces joined by a veth pair: dnsmasq serves
# 10.99.0.50-60 on the server side (10.99.0.1), clients run on the other.
#
#   1. busybox udhcpc: DISCOVER/OFFER/REQUEST/ACK with a host name, a vendor
#      class, a client id, the broadcast flag (-B) and an extra requested option (NTP), then a
#      RELEASE on exit (-R). Asks for 10.99.0.55 (requested IP option).
#   2. dhclient with a stale lease for 10.88.0.5 (another subnet): its
#      INIT-REBOOT REQUEST gets a NAK from the authoritative dnsmasq, then it
#      does the full exchange and finally releases (dhclient -r).
#   3. a DHCPINFORM from the client's configured address (python, plain UDP
#      socket), answered by an ACK without a lease.
#
# Needs root, iproute2, tcpdump, dnsmasq, busybox, isc-dhcp-client, python3.
# Run from the repo root:
#   sudo _dev/capture/dhcpv4.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/dhcpv4}
mkdir -p "$out"
out=$(cd "$out" && pwd)
S=ntcap-dhcps
C=ntcap-dhcpc
tmp=$(mktemp -d)

cleanup() {
  for p in "${TPID:-}" "${DPID:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del "$S" 2>/dev/null || true
ip netns del "$C" 2>/dev/null || true

ip netns add "$S"
ip netns add "$C"
ip link add ntdhcp-s type veth peer name ntdhcp-c
ip link set ntdhcp-s netns "$S"
ip link set ntdhcp-c netns "$C"
# Fixed MACs so the captures are reproducible.
ip -n "$S" link set ntdhcp-s address 02:00:00:00:99:01
ip -n "$C" link set ntdhcp-c address 02:00:00:00:99:02
ip -n "$S" addr add 10.99.0.1/24 dev ntdhcp-s
ip -n "$S" link set ntdhcp-s up
# veth leaves UDP checksums to "offload" that never happens; udhcpc's raw
# socket drops such replies. Compute them in software (the capture then
# also carries valid checksums).
ip netns exec "$S" ethtool -K ntdhcp-s tx off >/dev/null
ip netns exec "$C" ethtool -K ntdhcp-c tx off >/dev/null
ip -n "$S" link set lo up
ip -n "$C" link set ntdhcp-c up
ip -n "$C" link set lo up

: >"$tmp/tcpdump.log"
ip netns exec "$S" tcpdump -i ntdhcp-s -U -s 0 -w "$out/dnsmasq.pcap" 'udp port 67 or udp port 68' 2>"$tmp/tcpdump.log" &
TPID=$!
for _ in $(seq 50); do
  grep -q listening "$tmp/tcpdump.log" && break
  sleep 0.1
done
sleep 0.5

ip netns exec "$S" dnsmasq -d -C /dev/null --port=0 --interface=ntdhcp-s --bind-interfaces \
  --dhcp-range=10.99.0.50,10.99.0.60,255.255.255.0,1h \
  --dhcp-option=option:router,10.99.0.1 \
  --dhcp-option=option:dns-server,10.99.0.1,10.99.0.2 \
  --dhcp-option=option:ntp-server,10.99.0.1 \
  --dhcp-option=option:domain-name,example.test \
  --dhcp-authoritative --dhcp-leasefile="$tmp/leases" \
  --pid-file="$tmp/dnsmasq.pid" 2>"$tmp/dnsmasq.log" &
DPID=$!
sleep 1

# 1. udhcpc: full exchange then release.
printf '#!/bin/sh\nexit 0\n' >"$tmp/script"
chmod +x "$tmp/script"
ip netns exec "$C" busybox udhcpc -i ntdhcp-c -f -q -n -R -B -t 3 -T 1 -s "$tmp/script" \
  -r 10.99.0.55 -V ntvendor -x hostname:ntclient -x 0x3d:01020000009902 -O ntpsrv || true
sleep 0.5

# 2. dhclient: INIT-REBOOT with a wrong address -> NAK, then a new lease,
#    then release.
cat >"$tmp/dhclient.leases" <<LEASE
lease {
  interface "ntdhcp-c";
  fixed-address 10.88.0.5;
  option subnet-mask 255.255.255.0;
  option dhcp-server-identifier 10.88.0.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
LEASE
cat >"$tmp/dhclient.conf" <<CONF
send host-name "ntdhcl";
request subnet-mask, broadcast-address, time-offset, routers, domain-name,
        domain-name-servers, host-name, ntp-servers, interface-mtu;
CONF
ip netns exec "$C" dhclient -1 -v -d -cf "$tmp/dhclient.conf" -lf "$tmp/dhclient.leases" \
  -pf "$tmp/dhclient.pid" -sf "$tmp/script" ntdhcp-c 2>"$tmp/dhclient.log" &
DHPID=$!
# -d keeps it in the foreground; give it the exchange, then stop it.
for _ in $(seq 100); do
  grep -q 'bound to' "$tmp/dhclient.log" && break
  sleep 0.1
done
kill "$DHPID" 2>/dev/null || true
wait "$DHPID" 2>/dev/null || true
addr=$(sed -n 's/.*bound to \([0-9.]*\).*/\1/p' "$tmp/dhclient.log" | tail -1)
ip -n "$C" addr add "$addr/24" dev ntdhcp-c
ip netns exec "$C" dhclient -r -v -cf "$tmp/dhclient.conf" -lf "$tmp/dhclient.leases" \
  -pf "$tmp/dhclient.pid" -sf "$tmp/script" ntdhcp-c 2>>"$tmp/dhclient.log" || true
sleep 0.5

# 3. DHCPINFORM from the configured address.
ip netns exec "$C" python3 - "$addr" <<'PY'
import socket, struct, sys
ip = socket.inet_aton(sys.argv[1])
mac = bytes.fromhex("020000009902")
msg = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x1badf00d, 0, 0,
                  ip, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
msg += bytes([99, 130, 83, 99])
msg += bytes([53, 1, 8])                      # DHCPINFORM
msg += bytes([55, 4, 1, 3, 6, 15])            # mask, router, DNS, domain
msg += bytes([57, 2, 0x05, 0xdc])             # max message size 1500
msg += bytes([60, 8]) + b"ntinform"
msg += bytes([255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 68))
s.settimeout(3)
s.sendto(msg, ("10.99.0.1", 67))
try:
    data, peer = s.recvfrom(2048)
    print("INFORM answered by", peer, len(data), "bytes")
except socket.timeout:
    print("INFORM: no answer")
PY
sleep 1
kill "$TPID"; wait "$TPID" 2>/dev/null || true
TPID=
echo "--- dnsmasq"; cat "$tmp/dnsmasq.log"
echo "--- dhclient"; cat "$tmp/dhclient.log"
ls -l "$out"
