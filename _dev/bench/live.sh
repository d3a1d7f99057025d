#!/usr/bin/env bash
# Live capture benchmark: replays a capture with tcpreplay into one end of a
# veth pair (MTU 65535: the captures are made on loopback) inside a private
# network namespace, while network-traffic captures on the other end, at
# increasing packet rates, for type pcap and type af_packet. For each rate it
# records what tcpreplay achieved, the kernel's received and dropped counts,
# the CPU of network-traffic (and of tcpreplay, which shares the cores) per
# packet, and whether the events per protocol match a file run of the same
# packets (-I FILE -t -l LOOPS). The highest rate with kernel drops under
# 0.1% is reported per type (the rate tcpreplay achieved, which on a busy
# machine falls short of the target).
#
# Needs root, iproute2, tcpreplay and /usr/bin/time (apt-get install
# tcpreplay time).
#
# Environment:
#   LIVE_PCAP    capture to replay (default _dev/bench/out/mixed.pcap, made
#                by make-capture.sh; LIVE_PCAP=pcaps uses the Ethernet
#                captures under _dev/pcaps, concatenated)
#   LIVE_RATES   packet rates to try, in order (default "25000 50000 100000
#                200000 400000"); a type stops at its first lossy rate
#   LIVE_SECONDS replay time per rate (default 4)
#   LIVE_TYPES   capture types (default "pcap af_packet")
#   LIVE_WORKERS decoding shards to try for each type (default "1"; e.g.
#                "1 2"); with more than one, use LIVE_PCAP=spread (the mixed
#                capture with one address pair per conversation, made by
#                _dev/bench/spread), since the loopback original hashes to
#                one shard
#   LIVE_OUT     a file to append the table to (default: stdout only)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rates=${LIVE_RATES:-25000 50000 100000 200000 400000}
secs=${LIVE_SECONDS:-4}
types=${LIVE_TYPES:-pcap af_packet}
workers_list=${LIVE_WORKERS:-1}
pcap=${LIVE_PCAP:-$root/_dev/bench/out/mixed.pcap}

fail() { echo "live: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root"
for c in ip tcpreplay python3 capinfos editcap; do command -v $c >/dev/null || fail "$c is required"; done
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"

work=$(mktemp -d)
ns=ntlive$$
cleanup() {
  ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $ns 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$pcap" = pcaps ]; then
  # Every Ethernet capture of the repository, one after the other.
  files=()
  while IFS= read -r f; do
    if capinfos -t -E "$f" 2>/dev/null | grep -q 'Ethernet$'; then files+=("$f"); fi
  done < <(find _dev/pcaps -name '*.pcap' | sort)
  mergecap -a -F pcap -w "$work/replay.pcap" "${files[@]}"
  pcap=$work/replay.pcap
elif [ "$pcap" = spread ]; then
  orig=$root/_dev/bench/out/mixed.pcap
  [ -s "$orig" ] || bash _dev/bench/make-capture.sh "$orig"
  pcap=$root/_dev/bench/out/mixed-spread.pcap
  if [ ! -s "$pcap" ] || [ "$pcap" -ot "$orig" ]; then go run ./_dev/bench/spread "$orig" "$pcap" >&2; fi
elif [ ! -s "$pcap" ]; then
  bash _dev/bench/make-capture.sh "$pcap"
fi
npkts=$(capinfos -c -M "$pcap" | awk -F': *' '/Number of packets/ {print $2}')
[ "${npkts:-0}" -gt 0 ] || fail "no packets in $pcap"

go build -o "$work/network-traffic" ./cmd/network-traffic
nt=$work/network-traffic

ip netns add $ns
in_ns() { ip netns exec $ns "$@"; }
in_ns ip link set lo up
in_ns ip link add lcap type veth peer name lrep
for d in lcap lrep; do in_ns ip link set $d mtu 65535 up; done
in_ns sysctl -q -w net.ipv6.conf.all.disable_ipv6=1

# A config with every protocol on its default ports, plus flows and ICMP,
# capturing on lcap with the given type and worker count.
protos=$("$nt" -h 2>&1 | sed -n 's/^Protocols: //p' | tr -d ',')
mkconfig() {
  {
    echo "type: packet"
    echo "streams:"
    for p in $protos; do
      extra=""
      [ "$p" = flow ] && extra=", timeout: 30s, period: 10s"
      echo "  - {id: $p, type: $p$extra, interface: {device: lcap, type: $1, workers: $2}}"
    done
  } > "$work/$1.$2.yml"
}

# counts FILE: per-protocol transactions of a stats JSON, one "proto=n" a
# line. Flow records are left out: they depend on timing (a replay at a
# different pace merges or splits flows at their timeouts), so they are
# shown in their own column.
counts() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k,v in sorted(d["protocols"].items()):
  if v["transactions"] and k != "flow": print("%s=%d" % (k, v["transactions"]))' "$1"
}
flows() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["protocols"].get("flow",{}).get("transactions",0))' "$1"
}

printf '\n| type | workers | target pps | replayed pps | packets sent | kernel received | kernel dropped | drop %% | decoded | events match file run | flows live/file | network-traffic CPU µs/packet | tcpreplay CPU %% |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
declare -A best
for typ in $types; do
 for nw in $workers_list; do
  mkconfig "$typ" "$nw"
  best[$typ.$nw]=none
  for rate in $rates; do
    # rate*secs packets: the head of the capture, or the capture looped.
    want=$((rate * secs))
    if [ $want -lt $npkts ]; then
      replay=$work/head.$want.pcap loops=1 key=$want
      [ -s "$replay" ] || editcap -F pcap -r "$pcap" "$replay" 1-$want
    else
      replay=$pcap loops=$(( (want + npkts - 1) / npkts )) key=loop$loops
    fi
    # The same packets through the file reader give the expected events.
    if [ ! -s "$work/file.$key.json" ]; then
      "$nt" -I "$replay" -t -l $loops -o /dev/null -stats-json "$work/file.$key.json" 2> /dev/null
    fi
    rm -f "$work/live.json"
    # ip execs time, whose child is the capture.
    ip netns exec $ns /usr/bin/time -f '%U %S' -o "$work/nt.time" "$nt" -c "$work/$typ.$nw.yml" -o /dev/null -stats-json "$work/live.json" 2> "$work/nt.err" &
    ntpid=$!
    sleep 1.5
    in_ns /usr/bin/time -f '%U %S %e' -o "$work/rep.time" tcpreplay -q -K --pps="$rate" --loop="$loops" -i lrep "$replay" > "$work/rep.out" 2>&1 || true
    sleep 1
    # SIGINT to the capture (the child of time), which then flushes.
    pkill -INT -P $ntpid
    wait $ntpid || true
    [ -s "$work/live.json" ] || { cat "$work/nt.err" >&2; fail "$typ at $rate: no stats"; }
    read -r nu ns_ < "$work/nt.time"
    read -r ru rs re < "$work/rep.time"
    sent=$(grep -oE 'Actual: [0-9]+ packets' "$work/rep.out" | awk '{print $2}')
    rated=$(grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$work/rep.out" | awk '{print $(NF-1)}')
    read -r recv drop dec <<< "$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); print(d["pcap_received"], d["pcap_dropped"], d["packets"])' "$work/live.json")"
    pct=$(python3 -c "r,d=$recv,$drop; print('%.3f' % (100.0*d/r if r else 100))")
    if diff <(counts "$work/file.$key.json") <(counts "$work/live.json") > "$work/diff"; then match=yes; else match="no: $(grep '^[<>]' "$work/diff" | tr '\n' ' ' | cut -c1-120)"; fi
    cpu=$(python3 -c "print('%.2f' % (1e6*($nu+$ns_)/max($dec,1)))")
    repcpu=$(python3 -c "print('%.0f' % (100*($ru+$rs)/max($re,0.001)))")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s | %s | %s |\n' "$typ" "$nw" "$rate" "${rated:-?}" "${sent:-?}" "$recv" "$drop" "$pct" "$dec" "$match" \
      "$(flows "$work/live.json")" "$(flows "$work/file.$key.json")" "$cpu" "$repcpu"
    if python3 -c "import sys; sys.exit(0 if $recv > 0 and 1000*$drop < $recv else 1)"; then
      best[$typ.$nw]="${rated:-?} (target $rate)"
    else
      break
    fi
  done
 done
done
echo
read -r load _ < /proc/loadavg
for typ in $types; do for nw in $workers_list; do
  echo "highest replayed rate with kernel drops under 0.1%: $typ, $nw worker(s): ${best[$typ.$nw]} packets/s (load average now $load)"
done; done
