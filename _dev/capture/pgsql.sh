#!/usr/bin/env bash
# Captures the PostgreSQL test pcaps under _dev/pcaps/pgsql/ from real
# traffic: a PostgreSQL 15 server on 127.0.0.1:5432 inside a throwaway
# network namespace (its own loopback), clients psql and pgbench.
#
#   psql.pcap      one psql session (SSLRequest refused with 'N', SCRAM
#                  authentication, simple query protocol): CREATE TABLE,
#                  INSERT, SELECT of a few rows (one NULL), SELECT of 25 rows
#                  (more than max_rows), an error (relation does not exist),
#                  a NOTICE (DROP TABLE IF EXISTS of a missing table), two and
#                  three statements in one Query message (psql's \;), one of
#                  them failing, COPY FROM STDIN and COPY TO STDOUT (CopyData
#                  both ways), an empty query.
#   extended.pcap  pgbench -M extended -n -c 2 -t 5 (TPC-B-like script: BEGIN,
#                  UPDATE, SELECT, UPDATE, UPDATE, INSERT, END as
#                  Parse/Bind/Describe/Execute/Sync), after its SET/simple
#                  queries at start-up.
#   prepared.pcap  pgbench -M prepared -n -S -c 1 -t 5: named statements
#                  parsed once, then Bind/Describe/Execute/Sync only.
#
# Needs root, iproute2, tcpdump, postgresql-15 (and its client). Run from
# the repo root:  sudo _dev/capture/pgsql.sh [file ...]  (default: all)
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
out=${OUT:-_dev/pcaps/pgsql}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-pgsql
work=$(mktemp -d)
chmod 755 "$work"
want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(psql extended prepared)

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  ip netns exec "$NS" runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# --- server ----------------------------------------------------------------------
echo secret >"$work/pw"
chown -R postgres "$work"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/data" -U postgres --auth-local=trust \
  --auth-host=scram-sha-256 --pwfile="$work/pw" >/dev/null
in_ns runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=5432 -c ssl=off -c unix_socket_directories=$work" start >/dev/null
export PGPASSWORD=secret PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
export PGSSLMODE=prefer PGGSSENCMODE=disable PGAPPNAME=capture
# pgbench tables (scale 1) are made before any capture: -i sends 100000 rows.
in_ns pgbench -q -i -s 1 >/dev/null 2>&1

capture() { # file
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" 'tcp port 5432' 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }

for w in "${want[@]}"; do
  case $w in
  psql)
    capture "$out/psql.pcap"
    in_ns psql -X -q -v ON_ERROR_STOP=0 <<'EOF' >/dev/null 2>&1 || true
CREATE TABLE fruit (id int PRIMARY KEY, name text, colour text);
INSERT INTO fruit VALUES (1, 'apple', 'red'), (2, 'banana', 'yellow'), (3, 'cherry', NULL);
SELECT id, name, colour FROM fruit ORDER BY id;
select g, 'row ' || g AS label from generate_series(1, 25) AS g;
SELECT * FROM no_such_table;
DROP TABLE IF EXISTS not_there;
UPDATE fruit SET colour = 'dark red' WHERE id = 3 \; SELECT count(*) FROM fruit;
SELECT 1 AS one \; SELECT 1/0 \; SELECT 3 AS three;
COPY fruit (id, name, colour) FROM STDIN;
4	kiwi	green
5	lemon	yellow
\.
COPY fruit TO STDOUT;
;
DELETE FROM fruit WHERE id > 3;
EOF
    stop
    ;;
  extended)
    capture "$out/extended.pcap"
    in_ns pgbench -M extended -n -c 2 -t 5 >/dev/null 2>&1
    stop
    ;;
  prepared)
    capture "$out/prepared.pcap"
    in_ns pgbench -M prepared -n -S -c 1 -t 5 >/dev/null 2>&1
    stop
    ;;
  *) echo "unknown capture $w" >&2; exit 1 ;;
  esac
done
ls -l "$out"
