#!/usr/bin/env bash
# Benchmarks network-traffic on the large mixed capture (made by
# make-capture.sh if missing) and appends the figures, with the floor (a
# plain gopacket read of every packet) from the same run, to BENCHMARKS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pcap=${BENCH_PCAP:-$root/_dev/bench/out/mixed.pcap}
[ -f "$pcap" ] || bash _dev/bench/make-capture.sh "$pcap"
mkdir -p build
go build -o build/network-traffic ./cmd/network-traffic
go build -o build/bench-floor ./_dev/bench/floor
out=$(mktemp -d)
trap 'rm -rf $out' EXIT

# Warm the page cache so both runs read from memory.
cat "$pcap" > /dev/null
floor=$(build/bench-floor "$pcap")
/usr/bin/time -f '%e %U %S %M' -o $out/time build/network-traffic -I "$pcap" -t \
  -o $out/events.ndjson -stats-json $out/stats.json 2> $out/stderr
read -r wall user sys rss_kb < $out/time
python3 - "$pcap" "$floor" "$wall" "$user" "$sys" "$rss_kb" $out/stats.json <<'PY' | tee -a BENCHMARKS.md
import json, os, sys, datetime, platform
pcap, floor, wall, user, sys_, rss_kb, stats_path = sys.argv[1:]
wall, user, sys_ = float(wall), float(user), float(sys_)
st = json.load(open(stats_path))
fl = dict(kv.split("=") for kv in floor.split())
pk, ev = st["packets"], st["events"]
print(f"\n## {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {platform.machine()}\n")
print(f"Capture: {os.path.basename(pcap)}, {os.path.getsize(pcap)/1e6:.0f} MB, {pk} packets (made by _dev/bench/make-capture.sh).\n")
print("| measure | network-traffic | floor (gopacket read only) |")
print("|---|---|---|")
print(f"| wall time | {wall:.2f} s | {float(fl['seconds']):.2f} s |")
print(f"| packets/s | {pk/wall:,.0f} | {float(fl['packets_per_s']):,.0f} |")
print(f"| events/s (NDJSON to a file) | {ev/wall:,.0f} ({ev} events) | - |")
print(f"| CPU time (user+sys) | {user+sys_:.2f} s ({(user+sys_)/wall:.2f} cores) | - |")
print(f"| allocations per packet (whole process) | {st['mallocs']/max(pk,1):.3f} | - |")
print(f"| peak RSS | {int(rss_kb)/1024:.0f} MB | - |")
prot = st.get("protocols", {})
if prot:
    print("\nPer protocol: " + ", ".join(f"{k} {v['transactions']} events" for k, v in sorted(prot.items()) if v.get("transactions")))
PY
