#!/usr/bin/env bash
# Measures flow-sharded decoding (issue 8) on the mixed capture rewritten so
# that each conversation has its own address pair (_dev/bench/spread: on the
# loopback original every packet hashes to one shard). Appends to
# BENCHMARKS.md:
#   - 1 worker pinned to one core (taskset -c 0) against 2 workers on both
#     cores (taskset -c 0,1): wall time, events/s, CPU seconds, speed-up;
#   - 1, 2, 4 and 8 workers on both cores: CPU seconds per million packets
#     (the cost of sharding itself) and peak RSS.
# Every run writes NDJSON to a file; every run must count the same events per
# protocol as the 1-worker run, or the script fails. `mage benchShards`.
# Environment: BENCH_PCAP (the original capture, default
# _dev/bench/out/mixed.pcap, made by make-capture.sh if missing), BENCH_RUNS
# (rounds per setting, default 3; the median by wall time is kept),
# BENCH_OUT (default BENCHMARKS.md), BENCH_NOTE.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pcap=${BENCH_PCAP:-$root/_dev/bench/out/mixed.pcap}
runs=${BENCH_RUNS:-3}
dest=${BENCH_OUT:-BENCHMARKS.md}
fail() { echo "bench-shards: $*" >&2; exit 1; }
command -v taskset >/dev/null || fail "taskset is required (util-linux)"
[ -x /usr/bin/time ] || fail "/usr/bin/time is required (apt-get install time)"
[ "$(nproc)" -ge 2 ] || fail "needs at least 2 usable cores"
if [ ! -s "$pcap" ]; then
  bash _dev/bench/make-capture.sh "$pcap"
fi
spread=${pcap%.pcap}-spread.pcap
if [ ! -s "$spread" ] || [ "$spread" -ot "$pcap" ]; then
  go run ./_dev/bench/spread "$pcap" "$spread" >&2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/network-traffic" ./cmd/network-traffic
cat "$spread" > /dev/null
read -r load_before _ < /proc/loadavg

# one NAME CPUS WORKERS: BENCH_RUNS rounds, results in $out/NAME.*
one() {
  local name=$1 cpus=$2 workers=$3
  for i in $(seq 1 "$runs"); do
    echo "bench-shards: $name round $i/$runs" >&2
    rm -f "$out/events.ndjson"
    taskset -c "$cpus" /usr/bin/time -f '%e %U %S %M' -o "$out/$name.time.$i" \
      "$out/network-traffic" -I "$spread" -t -workers "$workers" -o "$out/events.ndjson" \
      -stats-json "$out/$name.stats.$i.json" 2> "$out/$name.stderr.$i" ||
      { cat "$out/$name.stderr.$i" >&2; fail "$name round $i failed"; }
    wc -l < "$out/events.ndjson" > "$out/$name.lines.$i"
  done
}
one pinned1 0 1
one both2 0,1 2
for n in 1 4 8; do one "w$n" 0,1 "$n"; done
read -r load_after _ < /proc/loadavg

python3 - "$spread" "$out" "$runs" "$load_before" "$load_after" "${BENCH_NOTE:-}" <<'PY' | tee -a "$dest"
import json, os, sys, datetime, subprocess
spread, out, runs, lb, la, note = sys.argv[1:]
runs = int(runs)
def load(name):
    rs = []
    for i in range(1, runs + 1):
        wall, user, sys_, rss = open(f"{out}/{name}.time.{i}").read().split()
        st = json.load(open(f"{out}/{name}.stats.{i}.json"))
        lines = int(open(f"{out}/{name}.lines.{i}").read())
        if lines != st["events"]:
            sys.exit(f"{name} round {i}: {st['events']} events counted, {lines} written")
        rs.append(dict(wall=float(wall), cpu=float(user) + float(sys_), rss=int(rss) / 1024, st=st))
    return sorted(rs, key=lambda r: r["wall"])[(runs - 1) // 2], rs
res = {n: load(n) for n in ["pinned1", "both2", "w1", "w4", "w8"]}
res["w2"] = res["both2"]
base = res["pinned1"][0]["st"]
def per_proto(st):
    return {k: v.get("transactions", 0) for k, v in st.get("protocols", {}).items()}
for n, (m, rs) in res.items():
    for r in rs:
        if r["st"]["events"] != base["events"] or per_proto(r["st"]) != per_proto(base):
            sys.exit(f"{n}: events differ from 1 worker: {r['st']['events']} vs {base['events']}")
def sh(*c):
    try: return subprocess.run(c, capture_output=True, text=True, check=True).stdout.strip()
    except Exception: return "?"
pk = base["packets"]
print(f"\n## Sharding run of {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC (`mage benchShards`)\n")
print(f"Commit {sh('git','rev-parse','--short','HEAD')}, {sh('go','env','GOVERSION')}, {os.cpu_count()} cores. "
      f"Load average before/after: {lb}/{la}. Capture {os.path.basename(spread)} ({os.path.getsize(spread)/1e6:.0f} MB, {pk} packets, "
      f"{base['events']} events, every conversation on its own address pair). Median of {runs} rounds; NDJSON written to a file; "
      f"every run produced the same events per protocol.")
if note: print(f"\n{note}")
p1, b2 = res["pinned1"][0], res["both2"][0]
print("\n| run | wall s | events/s | CPU s | peak RSS MB |\n|---|---|---|---|---|")
for label, m in [("1 worker, 1 core (taskset -c 0)", p1), ("2 workers, 2 cores (taskset -c 0,1)", b2)]:
    print(f"| {label} | {m['wall']:.2f} | {base['events']/m['wall']:,.0f} | {m['cpu']:.2f} | {m['rss']:.0f} |")
print(f"\nSpeed-up, 2 workers on 2 cores over 1 worker on 1 core: **{p1['wall']/b2['wall']:.2f}x** (goal 1.7x).")
print("\n| workers (2 cores) | wall s | CPU s per M packets | vs 1 worker | peak RSS MB | wall times of all rounds |\n|---|---|---|---|---|---|")
c1 = res["w1"][0]["cpu"] / pk * 1e6
for n in ["w1", "w2", "w4", "w8"]:
    m, rs = res[n]
    c = m["cpu"] / pk * 1e6
    print(f"| {n[1:]} | {m['wall']:.2f} | {c:.2f} | {100*(c/c1-1):+.0f}% | {m['rss']:.0f} | {', '.join('%.2f' % r['wall'] for r in rs)} |")
PY
