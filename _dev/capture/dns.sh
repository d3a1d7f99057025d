#!/usr/bin/env bash
# Captures the DNS test pcaps under _dev/pcaps/dns/ from real traffic inside a
# throwaway network namespace (its own lo, so port 53 is free and nothing else
# on the machine ends up in the files).
#
#   udp.pcap     dig against dnsmasq (127.0.0.53:53): A, AAAA, MX (with an
#                additional A record), TXT, SRV, CNAME chain, PTR, CAA,
#                NXDOMAIN, +dnssec (DO bit), +subnet (ECS) and +nsid options,
#                a query without EDNS, a datagram of garbage to port 53 and a
#                query to 127.0.0.54:53 where nothing listens (never answered).
#   tcp.pcap     dig +tcp against dnsmasq: one connection per query, and one
#                connection carrying three queries (+keepopen).
#   dnssec.pcap  dig +dnssec against unbound (127.0.0.35:53) serving a static
#                local zone: SOA, NS, DS, DNSKEY, RRSIG, NSEC, NSEC3,
#                NSEC3PARAM, HTTPS, SVCB, and NXDOMAIN with the SOA in the
#                authority section.
#   ipv6.pcap    dig over IPv6 (::1) against dnsmasq, UDP and TCP.
#
# ONLY="ipv6 tcp" recaptures just those files (the tests pin ids and times
# of the others).
#
# Needs root, iproute2, tcpdump, dig (dnsutils), dnsmasq, unbound. Run from the
# repo root:
#   sudo _dev/capture/dns.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/dns}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-dns
tmp=$(mktemp -d)

cleanup() {
  for p in "${TPID:-}" "${DPID:-}" "${UPID:-}"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true

ip netns add "$NS"
ip -n "$NS" link set lo up
run() { ip netns exec "$NS" "$@"; }

# Background jobs are started with `ip netns exec` directly (not through
# run) so $! is the daemon itself; they are stopped with TERM because a
# non-interactive shell starts background jobs with SIGINT ignored.
capture() { # file -> starts tcpdump on the namespace's lo, sets TPID
  : >"$tmp/tcpdump.log"
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" 'port 53' 2>"$tmp/tcpdump.log" &
  TPID=$!
  # tcpdump can take a while to open the device: wait until it says so.
  for _ in $(seq 50); do
    grep -q listening "$tmp/tcpdump.log" && break
    sleep 0.1
  done
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill -TERM "$TPID"
  wait "$TPID" 2>/dev/null || true
  TPID=
}

# dnsmasq: answers for example.test from its own records only (no upstream).
ip netns exec "$NS" dnsmasq -k -p 53 --listen-address=127.0.0.53,::1 --bind-interfaces \
  --no-resolv --no-hosts --local=/example.test/ --local-ttl=300 \
  --pid-file="$tmp/dnsmasq.pid" \
  --host-record=www.example.test,192.0.2.1,2001:db8::1 \
  --host-record=mail.example.test,192.0.2.25 \
  --mx-host=example.test,mail.example.test,10 \
  --txt-record=example.test,"v=spf1 -all","hello world" \
  --srv-host=_sip._tcp.example.test,sip.example.test,5060,10,20 \
  --cname=alias.example.test,www.example.test \
  --ptr-record=1.2.0.192.in-addr.arpa,www.example.test \
  --dns-rr=example.test,257,00056973737565" $(printf letsencrypt.org | od -An -tx1 | tr -d ' \n')" \
  >"$tmp/dnsmasq.log" 2>&1 &
DPID=$!

# unbound: a static local zone with DNSSEC and SVCB-style records. The keys
# and signatures are fixed filler bytes: nothing validates them.
cat >"$tmp/unbound.conf" <<'EOF'
server:
  interface: 127.0.0.35
  port: 53
  do-daemonize: no
  username: ""
  chroot: ""
  directory: ""
  pidfile: ""
  use-syslog: no
  logfile: ""
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "sec.test." static
  local-data: "sec.test. 3600 IN SOA ns1.sec.test. hostmaster.sec.test. 2024010101 7200 3600 1209600 300"
  local-data: "sec.test. 3600 IN NS ns1.sec.test."
  local-data: "ns1.sec.test. 3600 IN A 192.0.2.53"
  local-data: "sec.test. 3600 IN DS 12345 13 2 F9C7AF7EBCBF098B9F5F37361D1B168BB2E5B98D930CEEF0F055377A8C94DB61"
  local-data: "sec.test. 3600 IN DNSKEY 257 3 13 KvipEEs/ZO1kDYx+KY0tSA8Do2EMvCszR0Mh7FkCSkhZLqhUXkHgnV0RCHWd9I7eAFTyJd851PDzEkUOCqndJQ=="
  local-data: "www.sec.test. 3600 IN A 192.0.2.80"
  local-data: "www.sec.test. 3600 IN RRSIG A 13 3 3600 20300101000000 20240101000000 12345 sec.test. KvipEEs/ZO1kDYx+KY0tSA8Do2EMvCszR0Mh7FkCSkhZLqhUXkHgnV0RCHWd9I7eAFTyJd851PDzEkUOCqndJQ=="
  local-data: "www.sec.test. 3600 IN NSEC zzz.sec.test. A RRSIG NSEC"
  local-data: "h1.sec.test. 3600 IN NSEC3 1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG"
  local-data: "sec.test. 3600 IN NSEC3PARAM 1 0 10 AABBCCDD"
  local-data: "sec.test. 3600 IN HTTPS 1 . alpn=h2,h3"
  local-data: "_svc.sec.test. 3600 IN SVCB 1 svc.sec.test. port=8443"
EOF
ip netns exec "$NS" unbound -d -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
UPID=$!
sleep 1

want() { [[ -z "${ONLY:-}" || " $ONLY " == *" $1 "* ]]; }
d() { run dig +tries=1 +timeout=1 "$@" >>"${DIGLOG:-/dev/null}" 2>&1 || true; }
M=@127.0.0.53
U=@127.0.0.35

if want udp; then
capture "$out/udp.pcap"
d $M www.example.test A
d $M www.example.test AAAA
d $M example.test MX
d $M example.test TXT
d $M _sip._tcp.example.test SRV
d $M alias.example.test A
d $M -x 192.0.2.1
d $M example.test CAA
d $M nx.example.test A
d $M +dnssec +subnet=192.0.2.0/24 +nsid www.example.test A
d $M +noedns www.example.test A
run bash -c 'printf "\x47\x45\x54 / HTTP/1.0\r\n\r\n" >/dev/udp/127.0.0.53/53'
d @127.0.0.54 lost.example.test A
stop_capture
fi

if want tcp; then
capture "$out/tcp.pcap"
d $M +tcp www.example.test A
d $M +tcp +keepopen example.test MX www.example.test AAAA nx.example.test A
stop_capture
fi

if want dnssec; then
capture "$out/dnssec.pcap"
for q in "sec.test SOA" "sec.test NS" "sec.test DS" "sec.test DNSKEY" \
  "www.sec.test RRSIG" "www.sec.test NSEC" "h1.sec.test NSEC3" \
  "sec.test NSEC3PARAM" "sec.test HTTPS" "_svc.sec.test SVCB" "nx.sec.test A"; do
  # shellcheck disable=SC2086
  d $U +dnssec $q
done
stop_capture
fi

if want ipv6; then
capture "$out/ipv6.pcap"
d @::1 www.example.test AAAA
d @::1 +tcp www.example.test A
stop_capture
fi

ls -l "$out"
