#!/usr/bin/env bash
# Benchmarks network-traffic on the large mixed capture and appends the
# figures, with the floor (a plain gopacket read of every packet) from the
# same run, to BENCHMARKS.md. `mage bench` runs it.
#
# Each round runs the floor, then the binary exactly as a user would:
#   network-traffic -I mixed.pcap -t -o FILE -stats-json STATS
# under /usr/bin/time (wall, user, sys, peak RSS). The NDJSON file must hold
# one line per event the binary counted, or the run fails. The round with
# the median wall time is recorded, with the spread of all rounds.
#
# Environment:
#   BENCH_PCAP   the capture (default _dev/bench/out/mixed.pcap; made by
#                make-capture.sh if missing, which needs root)
#   BENCH_RUNS   rounds (default 3)
#   BENCH_MICRO  1 (default) also runs the per-package Go micro-benchmarks
#   BENCH_OUT    file to append to (default BENCHMARKS.md)
#   BENCH_NOTE   free text recorded with the run
#   GOGC, GOMEMLIMIT are passed through (the binary has its own defaults).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pcap=${BENCH_PCAP:-$root/_dev/bench/out/mixed.pcap}
runs=${BENCH_RUNS:-3}
micro=${BENCH_MICRO:-1}
dest=${BENCH_OUT:-BENCHMARKS.md}

fail() { echo "bench: $*" >&2; exit 1; }
command -v go >/dev/null || fail "go is required"
command -v python3 >/dev/null || fail "python3 is required"
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"
[[ $runs =~ ^[1-9][0-9]*$ ]] || fail "BENCH_RUNS must be a positive integer, not '$runs'"
if [ ! -s "$pcap" ]; then
  echo "bench: no capture at $pcap: making it with _dev/bench/make-capture.sh" >&2
  bash _dev/bench/make-capture.sh "$pcap"
fi
[ -s "$pcap" ] || fail "no capture at $pcap"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "bench: building" >&2
go build -o "$out/network-traffic" ./cmd/network-traffic
go build -o "$out/bench-floor" ./_dev/bench/floor

# Warm the page cache so every run reads from memory.
cat "$pcap" > /dev/null
read -r load_before _ < /proc/loadavg

for i in $(seq 1 "$runs"); do
  echo "bench: round $i/$runs" >&2
  "$out/bench-floor" "$pcap" > "$out/floor.$i"
  rm -f "$out/events.ndjson" "$out/stats.json" # -o appends
  if ! /usr/bin/time -f '%e %U %S %M' -o "$out/time.$i" "$out/network-traffic" -I "$pcap" -t \
      -o "$out/events.ndjson" -stats-json "$out/stats.$i.json" 2> "$out/stderr.$i"; then
    cat "$out/stderr.$i" >&2
    fail "network-traffic failed in round $i"
  fi
  lines=$(wc -l < "$out/events.ndjson")
  events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$out/stats.$i.json")
  [ "$lines" = "$events" ] || fail "round $i: $events events counted but $lines lines written"
  echo "$lines" > "$out/lines.$i"
done
read -r load_after _ < /proc/loadavg

micro_out=$out/micro.txt
: > "$micro_out"
if [ "$micro" = 1 ]; then
  echo "bench: micro-benchmarks" >&2
  go test -run '^$' -bench . -benchmem -count 1 \
    ./decoders/link/ ./decoders/tcp/ ./ecsmap/ ./decoders/flows/ ./decoders/dns/ ./decoders/http/ ./input/publish/ \
    > "$micro_out" 2>&1 || { cat "$micro_out" >&2; fail "micro-benchmarks failed"; }
fi

[ -f "$dest" ] || printf '# Benchmarks\n\nRecorded by `mage bench` (_dev/bench/run.sh).\n' > "$dest"
python3 - "$pcap" "$out" "$runs" "$load_before" "$load_after" "$micro_out" "${BENCH_NOTE:-}" <<'PY' | tee -a "$dest"
import json, os, sys, datetime, platform, subprocess, statistics
pcap, out, runs, load_before, load_after, micro_path, note = sys.argv[1:]
runs = int(runs)

def floor(i):
    return dict(kv.split("=") for kv in open(f"{out}/floor.{i}").read().split())

rounds = []
for i in range(1, runs + 1):
    wall, user, sys_, rss_kb = open(f"{out}/time.{i}").read().split()
    st = json.load(open(f"{out}/stats.{i}.json"))
    rounds.append(dict(i=i, wall=float(wall), cpu=float(user) + float(sys_), user=float(user),
                       sys=float(sys_), rss=int(rss_kb) / 1024, st=st, floor=floor(i)))
med = sorted(rounds, key=lambda r: r["wall"])[(runs - 1) // 2]
st, fl = med["st"], med["floor"]
pk, ev, wall, cpu = st["packets"], st["events"], med["wall"], med["cpu"]
walls = ", ".join("%.2f" % r["wall"] for r in rounds)
rsss = ", ".join("%.0f" % r["rss"] for r in rounds)
floor_s = statistics.median(float(r["floor"]["seconds"]) for r in rounds)

def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "?"

cpu_model = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu_model = line.split(":", 1)[1].strip()
        break
print(f"\n## Run of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
print(f"Commit {sh('git', 'rev-parse', '--short', 'HEAD')}{' (with uncommitted changes)' if sh('git', 'status', '--porcelain', '--untracked-files=no') else ''}, "
      f"{sh('go', 'env', 'GOVERSION')}, {os.cpu_count()} cores ({cpu_model}), {platform.machine()}. "
      f"GOGC={os.environ.get('GOGC', 'default')}, GOMEMLIMIT={os.environ.get('GOMEMLIMIT', 'default')}. "
      f"Load average before/after: {load_before}/{load_after}.")
if note:
    print(f"\n{note}")
print(f"\nCapture: {os.path.basename(pcap)}, {os.path.getsize(pcap)/1e6:.0f} MB, {pk} packets. "
      f"{runs} rounds; the median round (by wall time) is shown, "
      f"wall times of all rounds: {walls} s.\n")
print("| measure | network-traffic | floor (libpcap read only) |")
print("|---|---|---|")
print(f"| wall time | {wall:.2f} s | {float(fl['seconds']):.2f} s (median {floor_s:.2f} s) |")
print(f"| packets/s | {pk/wall:,.0f} | {float(fl['packets_per_s']):,.0f} |")
print(f"| events/s (NDJSON to a file) | {ev/wall:,.0f} ({ev} events) | - |")
print(f"| CPU time (user+sys) | {cpu:.2f} s ({med['user']:.2f} + {med['sys']:.2f}; {cpu/wall:.2f} cores) | - |")
print(f"| packets per CPU second | {pk/cpu:,.0f} | - |")
print(f"| events per CPU second | {ev/cpu:,.0f} | - |")
print(f"| allocations per packet (whole process) | {st['mallocs']/max(pk,1):.3f} ({st['mallocs']/max(ev,1):.1f} per event) | - |")
print(f"| bytes allocated per event | {st['total_alloc_bytes']/max(ev,1):,.0f} | - |")
print(f"| peak RSS | {med['rss']:.0f} MB (rounds: {rsss}) | - |")
prot = st.get("protocols", {})
if prot:
    print("\nEvents per protocol: " + ", ".join(f"{k} {v['transactions']}" for k, v in sorted(prot.items()) if v.get("transactions")) + ".")
micro = [l.split() for l in open(micro_path) if l.startswith("Benchmark") and "ns/op" in l]
if micro:
    pkg = {}
    cur = ""
    for l in open(micro_path):
        if l.startswith("pkg: "):
            cur = l.split()[1].rsplit("/network-traffic/", 1)[-1]
        elif l.startswith("Benchmark") and "ns/op" in l:
            pkg[l.split()[0]] = cur
    print("\nMicro-benchmarks (`go test -run '^$' -bench . -benchmem`):\n")
    print("| package | benchmark | ns/op | B/op | allocs/op | other |")
    print("|---|---|---|---|---|---|")
    for f in micro:
        name = f[0]
        vals = {f[i + 1]: f[i] for i in range(2, len(f) - 1, 2)}
        other = ", ".join(f"{v} {k}" for k, v in vals.items() if k not in ("ns/op", "B/op", "allocs/op"))
        print(f"| {pkg.get(name, '')} | {name.rsplit('-', 1)[0]} | {vals.get('ns/op', '')} | {vals.get('B/op', '')} | {vals.get('allocs/op', '')} | {other} |")
PY
