#!/usr/bin/env bash
# Captures the pcaps that test decoders/link, plus the tshark field dumps the
# tests compare against. Run as root from the repository root:
#   _dev/capture/link.sh
#
# Traffic runs between two network namespaces joined by a veth pair with
# MTU 1280, so ping -s 3000 fragments (v4 and v6). This kernel has no 8021q
# module and no bridge VLAN filtering, so tagged frames cannot come from the
# stack: the script sends ICMP echo and UDP frames with an 802.1Q tag (100)
# and with Q-in-Q tags (802.1ad 200 outer, 802.1Q 300 inner) through an
# AF_PACKET socket on A's veth. Everything else is ordinary kernel traffic.
# Captures (all in namespace B, the receiving side):
#   eth_vlan_frag.pcap  Ethernet on veth1: tags, fragments, TCP, UDP, ICMP(v6)
#   sll_any.pcap        the same traffic, -i any -y LINUX_SLL
#   sll2_any.pcap       the same traffic, -i any -y LINUX_SLL2
# Raw-IP and Null/Loopback frames are derived from eth_vlan_frag.pcap in the
# tests (there is no such interface on Linux to capture from).
set -euo pipefail

out=_dev/pcaps/link
mkdir -p "$out"
A=ntcap-link-a
B=ntcap-link-b

cleanup() {
	[[ -n "${pids:-}" ]] && kill $pids 2>/dev/null || true
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add $A
ip netns add $B
ip link add veth0 netns $A type veth peer name veth1 netns $B
for ns in $A $B; do ip -n $ns link set lo up; done

for ns_dev_n in "$A veth0 1" "$B veth1 2"; do
	set -- $ns_dev_n
	ip -n $1 link set $2 mtu 1280 up
	ip -n $1 addr add 10.77.0.$3/24 dev $2
	ip -n $1 addr add fd77::$3/64 dev $2 nodad
done
sleep 1

pids=""
ip netns exec $B tcpdump -q -i veth1 -w "$out/eth_vlan_frag.pcap" 2>/dev/null & pids="$pids $!"
ip netns exec $B tcpdump -q -i any -y LINUX_SLL -w "$out/sll_any.pcap" 2>/dev/null & pids="$pids $!"
ip netns exec $B tcpdump -q -i any -y LINUX_SLL2 -w "$out/sll2_any.pcap" 2>/dev/null & pids="$pids $!"
sleep 2

# A tiny HTTP exchange (TCP with payload and FIN), v4 and v6, served by
# python's http.server in namespace B.
ip netns exec $B python3 -m http.server 8080 --bind :: >/dev/null 2>&1 & srv=$!
sleep 1
ip netns exec $A curl -s -o /dev/null http://10.77.0.2:8080/
ip netns exec $A curl -s -o /dev/null "http://[fd77::2]:8080/"
kill $srv

# ICMP echo, plain and fragmented, v4 and v6.
ip netns exec $A ping -c 2 -i 0.2 10.77.0.2 >/dev/null
ip netns exec $A ping -c 2 -i 0.2 -s 3000 10.77.0.2 >/dev/null
ip netns exec $A ping -6 -c 2 -i 0.2 -s 3000 fd77::2 >/dev/null

# UDP to a closed port: the datagram plus an ICMP port unreachable quoting it.
ip netns exec $A bash -c 'echo hello-udp > /dev/udp/10.77.0.2/9999'
ip netns exec $A bash -c 'echo hello-udp6 > /dev/udp/fd77::2/9999'
# A fragmented UDP datagram (3000 bytes over MTU 1280).
ip netns exec $A bash -c 'head -c 3000 /dev/zero | tr "\0" x > /dev/udp/10.77.0.2/9999'

# Tagged frames (see above).
ip netns exec $A python3 - "$(ip netns exec $B cat /sys/class/net/veth1/address)" <<'PY'
import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ipv4(src, dst, proto, payload, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
def echo(ident, seq, data):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]
def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("veth0", 0))
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
src = bytes.fromhex(open("/sys/class/net/veth0/address").read().strip().replace(":", ""))
dot1q = lambda vid, et: struct.pack("!HHH", 0x8100, vid, et)
qinq = struct.pack("!HH", 0x88a8, 200) + dot1q(300, 0x0800)
for seq in (1, 2):
    s.send(dst + src + dot1q(100, 0x0800) + ipv4("10.77.100.1", "10.77.100.2", 1, echo(0x1234, seq, b"vlan-echo"), 100 + seq))
    s.send(dst + src + qinq + ipv4("10.77.230.1", "10.77.230.2", 1, echo(0x4321, seq, b"qinq-echo"), 200 + seq))
# Legacy 0x9100 outer tag with a UDP datagram inside.
s.send(dst + src + struct.pack("!HH", 0x9100, 7) + dot1q(8, 0x0800) + ipv4("10.77.98.1", "10.77.98.2", 17, udp(40000, 9999, b"hello-9100"), 300))
PY
sleep 2

kill $pids
wait 2>/dev/null || true
pids=""

# tshark's view of every frame, for the tests to compare field by field.
# occurrence=f takes the outer header where ICMP errors quote an inner one.
for f in eth_vlan_frag sll_any sll2_any; do
	tshark -r "$out/$f.pcap" -T fields -E header=y -E separator=/t -E occurrence=f \
		-e frame.number -e vlan.id -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
		-e ip.proto -e ipv6.nxt -e ip.flags.mf -e ip.frag_offset -e ipv6.fraghdr.more \
		-e ipv6.fraghdr.offset -e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw \
		-e tcp.flags -e tcp.len -e udp.srcport -e udp.dstport -e udp.length \
		-e icmp.type -e icmp.code -e icmp.ident -e icmp.seq -e icmpv6.type -e icmpv6.code \
		-e icmpv6.echo.identifier -e icmpv6.echo.sequence_number \
		>"$out/$f.tshark.tsv" 2>/dev/null
	# Every VLAN tag, outer first (tshark names 802.1ad tags apart).
	tshark -r "$out/$f.pcap" -T fields -E header=y -E separator=/t -E occurrence=a -E aggregator=, \
		-e frame.number -e ieee8021ad.id -e vlan.id >"$out/$f.vlan.tsv" 2>/dev/null
done
ls -l "$out"
