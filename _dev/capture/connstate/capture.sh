#!/usr/bin/env bash
# Captures the connection-state test pcaps under _dev/pcaps/connstate/: one
# small capture per Zeek conn_state, made by the kernel's real TCP between
# two throwaway network namespaces (client A 10.98.0.1, server B
# 10.98.0.2, over a veth pair; captured on A's end). peer.py makes each
# behaviour with plain socket calls.
#
#   sf.pcap       connect, data both ways, client closes, server closes  SF
#   rej.pcap      connect to a port nobody listens on: RST-ACK            REJ
#   rsto.pcap     data, then the client closes with SO_LINGER 0: RST      RSTO
#   rstr.pcap     data, then the server closes with SO_LINGER 0: RST      RSTR
#   s2.pcap       data, client shutdown(SHUT_WR); server never closes     S2
#   s3.pcap       data, server shutdown(SHUT_WR); client never closes     S3
#   s1.pcap       data both ways, no close before the capture ends        S1
#   s0.pcap       SYN to an address B blackholes (ip route blackhole)     S0
#   sh.pcap       the sf session captured outbound only (tcpdump -Q out):
#                 the originator's SYN ... FIN, no SYN-ACK seen          SH
#   rstos0.pcap   a scanner's SYN from a raw socket, captured outbound
#                 only: the kernel resets the unknown SYN-ACK            RSTOS0
#   oth.pcap      capture started after the handshake (mid-stream)       OTH
#   shr.pcap      mid-stream start, then the server half-closes          SHR
#   rstrh.pcap    mid-stream start, then the server resets               RSTRH
#   zerowin.pcap  30 kB to a server with a 2 kB receive buffer that
#                 reads late: zero windows, then a normal close          SF
#   udp.pcap      a UDP echo (answered) and a datagram to a closed port  SF, S0
#   sf6.pcap      the sf session over IPv6 (fd98::1 to fd98::2)          SF
#   *.tshark.tsv  tshark's flags, lengths and windows of every packet
#
# Needs root, iproute2, tcpdump, python3. Run from the repo root:
#   sudo _dev/capture/connstate/capture.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/connstate}
peer="python3 $(dirname "$0")/peer.py"
mkdir -p "$out"
A=ntcap-cs-a
B=ntcap-cs-b
pids=()

nspids() { ip netns pids "$A" 2>/dev/null; ip netns pids "$B" 2>/dev/null; }
cleanup() {
  for p in $(nspids); do kill "$p" 2>/dev/null || true; done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$A"
ip netns add "$B"
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" link set veth-a address 02:00:00:00:0c:0a
ip -n "$B" link set veth-b address 02:00:00:00:0c:0b
ip -n "$A" addr add 10.98.0.1/24 dev veth-a
ip -n "$B" addr add 10.98.0.2/24 dev veth-b
ip -n "$A" addr add fd98::1/64 dev veth-a nodad
ip -n "$B" addr add fd98::2/64 dev veth-b nodad
for ns in "$A" "$B"; do
  ip -n "$ns" link set lo up
done
ip -n "$A" link set veth-a up
ip -n "$B" link set veth-b up
# 10.98.1.0/24 goes to B, which drops it without an answer.
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
ip -n "$A" route add 10.98.1.0/24 via 10.98.0.2
ip -n "$B" route add blackhole 10.98.1.0/24
ip netns exec "$A" ping -c 1 -W 2 10.98.0.2 >/dev/null # warm ARP
for _ in $(seq 30); do # and ND, once the addresses are up
  ip netns exec "$A" ping -6 -c 1 -W 1 fd98::2 >/dev/null 2>&1 && break
  sleep 0.2
done

bg() { "$@" & pids+=($!); }
server() { # port mode [env...]
  local port=$1 mode=$2; shift 2
  bg ip netns exec "$B" env "$@" $peer server "$port" "$mode"
  for _ in $(seq 50); do
    ip netns exec "$B" ss -ltnH "sport = :$port" | grep -q . && return
    sleep 0.1
  done
  echo "server on $port did not start" >&2; exit 1
}
client() { ip netns exec "$A" env "${@:4}" $peer client "$1" "$2" "$3"; }
capture() { # file [tcpdump options...]
  local f=$1; shift
  ip netns exec "$A" tcpdump -i veth-a --immediate-mode -B 16384 -U -s 0 -w "$out/$f" "$@" 'tcp or udp' 2>"$out/$f.log" &
  TPID=$!
  for _ in $(seq 50); do grep -q listening "$out/$f.log" && break; sleep 0.1; done
}
stop() { sleep 0.5; kill "$TPID"; wait "$TPID" 2>/dev/null || true; grep -h "dropped by kernel" "$out"/*.log >&2 || true; rm -f "$out"/*.log; }
# Ends the scenario's servers and clients: every process in the two
# namespaces (tcpdump is already stopped).
killall_bg() { for p in $(nspids); do kill "$p" 2>/dev/null || true; done; wait "${pids[@]}" 2>/dev/null || true; pids=(); sleep 0.2; }

# --- complete connections ---------------------------------------------------
server 7001 echo
capture sf.pcap
client 10.98.0.2 7001 echo
stop

capture sf6.pcap
client fd98::2 7001 echo
stop

capture rej.pcap
client 10.98.0.2 7009 echo 2>/dev/null || true
stop

server 7002 hold
capture rsto.pcap
client 10.98.0.2 7002 reset
stop
killall_bg

server 7003 reset
capture rstr.pcap
bg client 10.98.0.2 7003 hold
sleep 1
stop
killall_bg

server 7004 hold
capture s2.pcap
bg client 10.98.0.2 7004 halfclose
sleep 1
stop
killall_bg

server 7005 halfclose
capture s3.pcap
bg client 10.98.0.2 7005 hold
sleep 1
stop
killall_bg

server 7006 hold
capture s1.pcap
bg client 10.98.0.2 7006 hold
sleep 1
stop
killall_bg

capture s0.pcap
ip netns exec "$A" timeout 2.5 $peer client 10.98.1.1 7007 echo 2>/dev/null || true
stop

server 7014 echo
capture sh.pcap -Q out
client 10.98.0.2 7014 echo
stop

capture rstos0.pcap -Q out
ip netns exec "$A" $peer syn 10.98.0.1 10.98.0.2 7014
stop
killall_bg

# --- mid-stream starts: the capture begins after the handshake ---------------
# The client connects and exchanges a first message; once the connection is
# established the capture starts, then the trigger file makes the client
# send a second message, after which the server holds, half-closes or
# resets.
midstream() { # file port server-mode
  local trig=/tmp/ntcap-cs-trigger.$2
  rm -f "$trig"
  server "$2" "$3"
  bg client 10.98.0.2 "$2" later TRIGGER="$trig"
  for _ in $(seq 50); do
    ip netns exec "$A" ss -tnH state established "( dport = :$2 )" | grep -q . && break
    sleep 0.1
  done
  sleep 0.3
  capture "$1"
  touch "$trig"
  sleep 1
  stop
  killall_bg
  rm -f "$trig"
}
midstream oth.pcap 7010 mid-hold
midstream shr.pcap 7011 mid-halfclose
midstream rstrh.pcap 7012 mid-reset

# --- zero windows --------------------------------------------------------------
server 7013 slow
capture zerowin.pcap
client 10.98.0.2 7013 bulk
stop
killall_bg

# --- UDP -------------------------------------------------------------------------
bg ip netns exec "$B" $peer udp-server 7053
sleep 0.5
capture udp.pcap
ip netns exec "$A" $peer udp-client 10.98.0.2 7053
ip netns exec "$A" $peer udp-client 10.98.0.2 7054 2>/dev/null
stop
killall_bg

# tshark's view of every packet, for the test's cross-check of the history
# letters: source, SYN, ACK, FIN, RST, TCP payload length, window, ports.
for f in "$out"/*.pcap; do
  tshark -r "$f" -T fields -E occurrence=f -e ip.src -e ipv6.src -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin \
    -e tcp.flags.reset -e tcp.len -e tcp.window_size_value -e tcp.srcport -e tcp.dstport \
    -e udp.srcport -e udp.dstport >"${f%.pcap}.tshark.tsv" 2>/dev/null
done
ls -l "$out"
