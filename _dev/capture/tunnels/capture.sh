#!/usr/bin/env bash
# Captures the tunnel pcaps under _dev/pcaps/tunnels. Run as root from the
# repository root:
#   _dev/capture/tunnels/capture.sh [mode ...]     (default: every mode)
#
# Two network namespaces joined by a veth pair (the "underlay", 10.99.0.0/24
# and fd99::/64) carry a tunnel whose inner addresses are 10.200.0.0/24 and
# fd20::/64. A python3 http.server in namespace B serves curl requests from
# namespace A through the tunnel, and A pings B (in vxlan, gre, gtpu, mpls
# and ip4ip6 also with a payload larger than the tunnel MTU, so the inner
# packet is fragmented; in vxlan and gtpu dig also asks dnsmasq in B). Each mode is
# captured twice in namespace B, at the same time:
#   <mode>.outer.pcap   on the underlay veth: what a sensor on a mirror
#                       port sees, tunnel headers included
#   <mode>.inner.pcap   on the tunnel device itself: the native view the
#                       decapsulated packets must reproduce
#   <mode>.tshark.tsv   tshark's reading of the tunnel fields of the outer
#                       capture, which the tests compare against
#
# This kernel builds only vxlan among the tunnel drivers (sit, ipip, ip6tnl,
# gre, gretap, erspan and geneve are "Unknown device type"), so:
#   vxlan              is a kernel vxlan device (VNI 42, UDP 4789);
#   vxlan6             the same over an IPv6 underlay (VNI 4243);
#   vxlan-in-gre       is a kernel vxlan device (VNI 4242) whose underlay is
#                      the userspace GRE tunnel: two levels of nesting;
#   every other mode   is _dev/capture/tunnels/encap (Go, standard library)
#                      on a TUN or TAP device, writing the standard headers:
#                      sit, ipip, ip6ip6, ip4ip6, gre, gretap, erspan1,
#                      erspan2, erspan3, geneve, gtpu, mpls, mplseth, mplsgre,
#                      mplsip, pppoe, pptp.
set -euo pipefail

out=${OUT:-_dev/pcaps/tunnels} # OUT=dir to try the script without touching the committed pcaps
mkdir -p "$out"
A=ntcap-tun-a
B=ntcap-tun-b
MAC_A=02:00:00:99:00:01
MAC_B=02:00:00:99:00:02
bin=$(mktemp -d)/encap
go build -o "$bin" ./_dev/capture/tunnels/encap

pids=""
cleanup() {
	if [[ -n "$pids" ]]; then
		kill $pids 2>/dev/null || true
		wait $pids 2>/dev/null || true
	fi
	pids=""
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT

setup_underlay() {
	cleanup
	ip netns add $A
	ip netns add $B
	ip link add veth0 netns $A address $MAC_A type veth peer name veth1 netns $B address $MAC_B
	for ns_dev_n in "$A veth0 1" "$B veth1 2"; do
		set -- $ns_dev_n
		ip -n $1 link set lo up
		ip -n $1 link set $2 up
		ip -n $1 addr add 10.99.0.$3/24 dev $2
		ip -n $1 addr add fd99::$3/64 dev $2 nodad
		# Router solicitations and MLD reports would only add noise.
		ip netns exec $1 sysctl -qw net.ipv6.conf.$2.router_solicitations=0
		ip netns exec $1 sysctl -qw net.ipv6.conf.all.mc_forwarding=0 2>/dev/null || true
	done
}

# encap_pair MODE ID [extra args for both ends]: userspace endpoints tun0 in
# A and B.
encap_pair() {
	local mode=$1 id=$2 l4=10.99.0.1 r4=10.99.0.2
	case $mode in ip6ip6 | ip4ip6) l4=fd99::1 r4=fd99::2 ;; esac
	local ea=() eb=()
	if [[ $mode == gtpu || $mode == pptp ]]; then
		# Uplink and downlink TEIDs differ, as on a real S1-U/N3 interface;
		# PPTP call ids too (each end names the call its own way).
		ea=(-id 2001 -out-id 1001)
		eb=(-id 1001 -out-id 2001)
	else
		ea=(-id "$id")
		eb=(-id "$id")
	fi
	ip netns exec $A "$bin" -mode "$mode" -dev veth0 -tun tun0 -local $l4 -remote $r4 -peer-mac $MAC_B "${ea[@]}" & pids="$pids $!"
	ip netns exec $B "$bin" -mode "$mode" -dev veth1 -tun tun0 -local $r4 -remote $l4 -peer-mac $MAC_A "${eb[@]}" & pids="$pids $!"
	sleep 1
}

# inner_addrs DEV V4 V6: the inner addresses on each end (fd20::/64,
# 10.200.0.0/24); v4/v6 0 leaves that family out (sit carries only IPv6).
inner_addrs() {
	local dev=$1 v4=$2 v6=$3 n
	for ns_n in "$A 1" "$B 2"; do
		set -- $ns_n
		n=$2
		ip -n $1 link set $dev mtu ${MTU:-1400} up
		[[ $v4 == 1 ]] && ip -n $1 addr add 10.200.0.$n/24 dev $dev
		[[ $v6 == 1 ]] && ip -n $1 addr add fd20::$n/64 dev $dev nodad
	done
	sleep 1
}

traffic() {
	local v4=$1 v6=$2
	ip netns exec $B python3 -m http.server 8080 --bind :: >/dev/null 2>&1 & local srv=$!
	for _ in $(seq 50); do # until it listens (python starts slowly on a busy machine)
		ip netns exec $B ss -ltn | grep -q ':8080 ' && break
		sleep 0.1
	done
	# Resolve the inner neighbours before the captured exchanges.
	[[ $v4 == 1 ]] && ip netns exec $A ping -c 1 -W 2 10.200.0.2 >/dev/null || true
	if [[ $v4 == 1 ]]; then
		ip netns exec $A curl --max-time 5 -s -o /dev/null http://10.200.0.2:8080/
		ip netns exec $A curl --max-time 5 -s -o /dev/null -H 'User-Agent: tunnel-test' http://10.200.0.2:8080/nothing-here
		ip netns exec $A ping -c 1 -W 1 10.200.0.2 >/dev/null
		if [[ " vxlan gre gtpu mpls ip4ip6 " == *" $mode "* ]]; then
			# Larger than the tunnel MTU: fragmented inside the tunnel
			# (a few modes only, to keep the pcaps small).
			ip netns exec $A ping -c 1 -W 1 -s 2000 10.200.0.2 >/dev/null || true
		fi
	fi
	if [[ $v6 == 1 ]]; then
		ip netns exec $A curl --max-time 5 -s -o /dev/null "http://[fd20::2]:8080/"
		ip netns exec $A ping -c 1 -W 1 fd20::2 >/dev/null
	fi
	if [[ " vxlan gtpu " == *" $mode "* ]]; then
		# DNS over UDP through the tunnel: dnsmasq in B, dig in A.
		ip netns exec $B dnsmasq -k -p 53 --listen-address=10.200.0.2,fd20::2 --bind-interfaces \
			--no-resolv --no-hosts --local=/example.test/ --pid-file=/dev/null \
			--host-record=www.example.test,192.0.2.1,2001:db8::1 >/dev/null 2>&1 & local dns=$!
		sleep 1
		ip netns exec $A dig +tries=1 +time=2 @10.200.0.2 www.example.test A >/dev/null
		ip netns exec $A dig +tries=1 +time=2 @fd20::2 www.example.test AAAA >/dev/null
		ip netns exec $A dig +tries=1 +time=2 @10.200.0.2 nothing.example.test A >/dev/null
		kill $dns
		wait $dns 2>/dev/null || true
	fi
	sleep 0.5
	kill $srv
	wait $srv 2>/dev/null || true
}

# capture NAME INNERDEV FILTER: tcpdump on the underlay and on the inner
# device of namespace B; the rest of the arguments run the traffic.
start_capture() {
	local name=$1 dev=$2
	ip netns exec $B tcpdump -q -U -i veth1 -w "$out/$name.outer.pcap" 2>/dev/null & cap1=$!
	ip netns exec $B tcpdump -q -U -i "$dev" -w "$out/$name.inner.pcap" 2>/dev/null & cap2=$!
	sleep 1.5
}
stop_capture() {
	sleep 1
	kill $cap1 $cap2
	wait $cap1 $cap2 2>/dev/null || true
}

# tshark's view of the tunnel fields, every occurrence (outer first).
dump() {
	local name=$1
	# Label 201 (mplseth) carries Ethernet with a control word: tshark has to
	# be told, the payload has no type field.
	tshark -r "$out/$name.outer.pcap" -d mpls.label==201,pwethcw -T fields -E header=y -E occurrence=a -E aggregator=, \
		-e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
		-e vxlan.vni -e geneve.vni -e gre.key -e gre.key.call_id -e gre.sequence_number -e gre.proto \
		-e erspan.version -e erspan.spanid -e gtp.teid -e mpls.label -e pppoe.session_id \
		-e tcp.srcport -e tcp.dstport -e http.request.method -e http.response.code \
		>"$out/$name.tshark.tsv"
}

run_mode() {
	local mode=$1 v4=1 v6=1 id=0 dev=tun0
	setup_underlay
	case $mode in
	vxlan)
		for ns_n_r in "$A 1 2 veth0" "$B 2 1 veth1"; do
			set -- $ns_n_r
			ip -n $1 link add vx0 address 02:00:00:20:00:0$2 type vxlan id 42 local 10.99.0.$2 remote 10.99.0.$3 dstport 4789 dev $4
		done
		dev=vx0
		;;
	vxlan6)
		# VXLAN over an IPv6 underlay (UDP checksums are mandatory there).
		for ns_n_r in "$A 1 2 veth0" "$B 2 1 veth1"; do
			set -- $ns_n_r
			ip -n $1 link add vx0 address 02:00:00:20:00:0$2 type vxlan id 4243 local fd99::$2 remote fd99::$3 dstport 4789 dev $4
		done
		dev=vx0
		;;
	vxlan-in-gre)
		encap_pair gre 77
		inner_addrs tun0 1 0
		for ns_n_r in "$A 1 2" "$B 2 1"; do
			set -- $ns_n_r
			ip -n $1 addr flush dev tun0
			ip -n $1 addr add 10.210.0.$2/24 dev tun0
			ip -n $1 link add vx0 address 02:00:00:21:00:0$2 type vxlan id 4242 local 10.210.0.$2 remote 10.210.0.$3 dstport 4789 dev tun0
		done
		dev=vx0
		MTU=1300 # within the GRE tunnel's 1400
		;;
	sit) v4=0; encap_pair sit 0 ;;
	ipip) v6=0; encap_pair ipip 0 ;;
	ip6ip6) v4=0; encap_pair ip6ip6 0 ;;
	ip4ip6) v6=0; encap_pair ip4ip6 0 ;;
	gre) encap_pair gre 77 ;;
	gretap) encap_pair gretap 78 ;;
	erspan1) encap_pair erspan1 0 ;;
	erspan2) encap_pair erspan2 101 ;;
	erspan3) encap_pair erspan3 102 ;;
	geneve) encap_pair geneve 6666 ;;
	gtpu) encap_pair gtpu 0 ;;
	mpls) encap_pair mpls 200 ;;
	mplseth) encap_pair mplseth 201 ;;
	mplsgre) encap_pair mplsgre 300 ;;
	mplsip) encap_pair mplsip 301 ;;
	pptp) encap_pair pptp 0 ;;
	pppoe) encap_pair pppoe 4660 ;;
	*) echo "unknown mode $mode" >&2; exit 1 ;;
	esac
	case $mode in
	vxlan | vxlan6 | vxlan-in-gre | gretap | erspan* | geneve | mplseth)
		# Ethernet tunnels: fixed MACs keep the pcaps reproducible.
		for ns_n in "$A 1" "$B 2"; do
			set -- $ns_n
			ip -n $1 link set $dev address 02:00:00:30:00:0$2 2>/dev/null || true
		done
		;;
	esac
	inner_addrs $dev $v4 $v6
	unset MTU
	start_capture "$mode" $dev
	traffic $v4 $v6
	stop_capture
	dump "$mode"
	cleanup
	echo "$mode: $(tshark -r "$out/$mode.outer.pcap" 2>/dev/null | wc -l) outer, $(tshark -r "$out/$mode.inner.pcap" 2>/dev/null | wc -l) inner frames"
}

modes=("$@")
if [[ ${#modes[@]} -eq 0 ]]; then
	modes=(sit vxlan vxlan6 geneve gre gretap erspan1 erspan2 erspan3 vxlan-in-gre gtpu mpls mplseth mplsgre mplsip pppoe pptp ipip ip6ip6 ip4ip6)
fi
for m in "${modes[@]}"; do
	run_mode "$m"
done
