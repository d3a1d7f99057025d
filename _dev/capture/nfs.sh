#!/usr/bin/env bash
# Captures the NFS test pcaps under _dev/pcaps/nfs/ from real traffic:
# nfs-ganesha (user-space NFS server, VFS FSAL) with rpcbind in a throwaway
# network namespace, libnfs's command line client (nfs-ls, nfs-cat, nfs-cp)
# as the client (the VM's kernel has no NFS client), traffic captured on the
# namespace's loopback, port 2049 only (MOUNT and portmapper traffic on other
# ports is left out, as a port-filtered capture would).
#
#   v3.pcap   NFSv3: ls of the export and of a subdirectory, cat of a file,
#             cp of a 200 KB file onto the export (WRITEs spanning many
#             segments), cat of a missing file (NFSERR_NOENT), one ls as
#             uid 1000 / gid 100 (AUTH_UNIX credentials).
#   v4.pcap   NFSv4.1 (libnfs negotiates the minor version): the same
#             operations through COMPOUND calls.
#
# Needs root, iproute2, tcpdump, nfs-ganesha, nfs-ganesha-vfs, rpcbind,
# libnfs-utils. Run from the repo root:  sudo _dev/capture/nfs.sh [v3|v4 ...]
set -euo pipefail

out=${OUT:-_dev/pcaps/nfs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-nfs
work=$(mktemp -d)
want=" ${*:-v3 v4} "

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -f "$work/ganesha.pid" ]] && kill "$(cat "$work/ganesha.pid")" 2>/dev/null || true
  # rpcbind detaches: end whatever still runs in our namespace, by pid.
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  sleep 1
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

mkdir -p "$work/export/dir" /var/run/ganesha /var/lib/nfs/ganesha
echo "hello nfs" >"$work/export/hello.txt"
echo "a" >"$work/export/dir/a.txt"
# World-writable: over NFSv4 ganesha maps the caller to nobody without idmapd.
chmod 777 "$work/export"
head -c 200000 /dev/zero | tr '\0' 'w' >"$work/big.txt"
cat >"$work/ganesha.conf" <<CONF
NFS_CORE_PARAM { NFS_Port = 2049; MNT_Port = 20048; Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1; Path = $work/export; Pseudo = /export; Access_Type = RW;
  Squash = No_Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
CONF

in_ns rpcbind -w
sleep 0.5
in_ns ganesha.nfsd -f "$work/ganesha.conf" -L "$work/ganesha.log" -p "$work/ganesha.pid" -N NIV_WARN
for _ in $(seq 100); do in_ns ss -ltn | grep -q ':2049 ' && break; sleep 0.1; done
sleep 2

start() {
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "tcp port 2049" 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

run() { # run VERSION BASE: the same session for v3 (export path) and v4 (pseudo path)
  local v=$1 base=$2
  in_ns nfs-ls "nfs://127.0.0.1$base?version=$v"
  in_ns nfs-ls "nfs://127.0.0.1$base/dir?version=$v"
  in_ns nfs-cat "nfs://127.0.0.1$base/hello.txt?version=$v"
  # over v4 ganesha refuses the write (an error reply worth keeping)
  in_ns nfs-cp "$work/big.txt" "nfs://127.0.0.1$base/big-v$v.txt?version=$v" || true
  in_ns nfs-cat "nfs://127.0.0.1$base/missing.txt?version=$v" || true
  in_ns nfs-ls "nfs://127.0.0.1$base?version=$v&uid=1000&gid=100"
}

if [[ $want == *" v3 "* ]]; then
  start "$out/v3.pcap"; run 3 "$work/export"; stop
fi
if [[ $want == *" v4 "* ]]; then
  start "$out/v4.pcap"; run 4 /export; stop
fi
ls -l "$out"
