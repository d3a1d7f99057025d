#!/usr/bin/env bash
# Captures the MySQL test pcaps under _dev/pcaps/mysql/ from real traffic: a
# throwaway MariaDB server (mariadbd, --skip-grant-tables, TCP 3306) on the
# loopback of a private network namespace.
#
#   cli.pcap         the `mariadb` client over TCP: CREATE DATABASE/TABLE,
#                    INSERTs (auto-increment ids), SELECTs (rows, empty set,
#                    two-table join), UPDATE, DELETE, an error (unknown table),
#                    USE of a missing database (COM_INIT_DB error), quit.
#                    libmariadb does not ask for CLIENT_DEPRECATE_EOF: result
#                    sets end with EOF packets.
#   ps.pcap          a raw-protocol Go client (below) that asks for
#                    CLIENT_DEPRECATE_EOF (result sets end with an OK packet):
#                    COM_QUERY, COM_STMT_PREPARE/EXECUTE (binary rows, int and
#                    string parameters), COM_STMT_CLOSE, COM_PING, COM_INIT_DB,
#                    an error, COM_QUIT.
#   compressed.pcap  `mariadb --compress`: the compressed protocol, which the
#                    decoder detects and skips.
#   slap.pcap        a short mysqlslap run (2 clients, auto-generated SQL).
#   verbatim.pcap    the `mariadb` client with DELIMITER //, so statements go
#                    out as typed: trailing semicolons, line breaks inside a
#                    query, a multi-statement query and a procedure returning
#                    two result sets (CLIENT_MULTI_STATEMENTS/RESULTS).
#
# ONLY="verbatim slap" captures just the named files (default: all).
#
# Needs root, iproute2, tcpdump, mariadb-server, mariadb-client, go.
# Run from the repo root:  sudo _dev/capture/mysql.sh
set -euo pipefail

out=${OUT:-_dev/pcaps/mysql}
mkdir -p "$out"
out=$(cd "$out" && pwd)
NS=ntcap-mysql
work=$(mktemp -d)

cleanup() {
  [[ -n "${TPID:-}" ]] && kill "$TPID" 2>/dev/null || true
  [[ -n "${MPID:-}" ]] && kill "$MPID" 2>/dev/null || true
  [[ -n "${MPID:-}" ]] && wait "$MPID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

# --- server ----------------------------------------------------------------------
mariadb-install-db --datadir="$work/data" --user=root --auth-root-authentication-method=normal >"$work/install.log" 2>&1
ip netns exec "$NS" mariadbd --no-defaults --datadir="$work/data" --user=root --port=3306 \
  --bind-address=127.0.0.1 --skip-grant-tables --skip-ssl --socket="$work/sock" \
  --pid-file="$work/mariadbd.pid" --log-error="$work/mariadbd.err" &
MPID=$!
for _ in $(seq 100); do in_ns mariadb-admin --protocol=tcp -h127.0.0.1 -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done

# --- raw-protocol client for prepared statements ----------------------------------
mkdir -p "$work/psclient"
cat >"$work/psclient/go.mod" <<'EOF'
module psclient

go 1.22
EOF
cat >"$work/psclient/main.go" <<'EOF'
// psclient speaks just enough of the MySQL protocol (no driver module needed)
// to send binary-protocol prepared statements with CLIENT_DEPRECATE_EOF.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

type conn struct {
	c   net.Conn
	seq byte
}

func (c *conn) read() []byte {
	var h [4]byte
	if _, err := io.ReadFull(c.c, h[:]); err != nil {
		panic(err)
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	c.seq = h[3] + 1
	p := make([]byte, n)
	if _, err := io.ReadFull(c.c, p); err != nil {
		panic(err)
	}
	return p
}

func (c *conn) write(p []byte) {
	h := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), c.seq}
	if _, err := c.c.Write(append(h, p...)); err != nil {
		panic(err)
	}
}

func (c *conn) command(p []byte) { c.seq = 0; c.write(p) }

// drain reads a whole response: OK/ERR, or a result set ending in an OK/EOF
// packet (0xfe, short) after the rows; with DEPRECATE_EOF there is no EOF
// between column definitions and rows.
func (c *conn) drain() {
	p := c.read()
	if p[0] == 0x00 || p[0] == 0xff {
		if p[0] == 0xff {
			fmt.Println("error:", string(p[9:]))
		}
		return
	}
	for {
		p = c.read()
		if p[0] == 0xfe && len(p) < 0xffffff {
			return
		}
	}
}

// prepare returns the statement id after reading param and column definitions.
func (c *conn) prepare(q string) uint32 {
	c.command(append([]byte{0x16}, q...))
	p := c.read()
	if p[0] != 0 {
		panic("prepare failed: " + string(p))
	}
	id := binary.LittleEndian.Uint32(p[1:])
	cols := int(binary.LittleEndian.Uint16(p[5:]))
	params := int(binary.LittleEndian.Uint16(p[7:]))
	for i := 0; i < cols+params; i++ {
		c.read()
	}
	return id
}

func main() {
	nc, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		panic(err)
	}
	c := &conn{c: nc}
	c.read() // server greeting
	const caps = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x01000000 | 0x00000001 | 0x00000004 // PROTOCOL_41|SECURE_CONN|PLUGIN_AUTH|CONNECT_WITH_DB|DEPRECATE_EOF|LONG_PASSWORD|LONG_FLAG
	resp := binary.LittleEndian.AppendUint32(nil, caps)
	resp = binary.LittleEndian.AppendUint32(resp, 1<<24)
	resp = append(resp, 45) // utf8mb4_general_ci
	resp = append(resp, make([]byte, 23)...)
	resp = append(resp, "root\x00"...)
	resp = append(resp, 0) // empty auth response
	resp = append(resp, "shop\x00"...)
	resp = append(resp, "mysql_native_password\x00"...)
	c.write(resp)
	if p := c.read(); p[0] == 0xfe { // auth switch: answer with nothing
		c.write(nil)
		c.read()
	}

	c.command(append([]byte{0x03}, "SELECT id, name, price FROM items ORDER BY id"...))
	c.drain()

	sel := c.prepare("SELECT name, price FROM items WHERE id = ?")
	exec := binary.LittleEndian.AppendUint32([]byte{0x17}, sel)
	exec = append(exec, 0, 1, 0, 0, 0) // flags, iteration count 1
	exec = append(exec, 0)             // null bitmap (1 param)
	exec = append(exec, 1, 0x03, 0)    // new-params-bound, MYSQL_TYPE_LONG signed
	exec = binary.LittleEndian.AppendUint32(exec, 2)
	c.command(exec)
	c.drain()

	ins := c.prepare("INSERT INTO items (name, price) VALUES (?, ?)")
	exec = binary.LittleEndian.AppendUint32([]byte{0x17}, ins)
	exec = append(exec, 0, 1, 0, 0, 0)
	exec = append(exec, 0)                   // null bitmap (2 params)
	exec = append(exec, 1, 0xfd, 0, 0x08, 0) // bound: VAR_STRING, LONGLONG
	exec = append(exec, 6)
	exec = append(exec, "walnut"...)
	exec = binary.LittleEndian.AppendUint64(exec, 42)
	c.command(exec)
	c.drain()

	c.command(binary.LittleEndian.AppendUint32([]byte{0x19}, sel)) // COM_STMT_CLOSE: no reply
	c.command(binary.LittleEndian.AppendUint32([]byte{0x19}, ins))

	c.command([]byte{0x0e}) // COM_PING
	c.drain()
	c.command(append([]byte{0x02}, "nosuchdb"...)) // COM_INIT_DB -> error
	c.drain()
	c.command(append([]byte{0x03}, "SELECT * FROM nosuchtable"...))
	c.drain()
	c.command(append([]byte{0x03}, "UPDATE items SET price = price + 1 WHERE price < 10"...))
	c.drain()
	c.command([]byte{0x01}) // COM_QUIT
	io.Copy(io.Discard, nc)
}
EOF
(cd "$work/psclient" && GOFLAGS= go build -o psclient .)

capture() { # file filter
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$1" "$2" 2>"$work/tcpdump.err" &
  TPID=$!
  for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop() { sleep 1; kill -INT "$TPID"; wait "$TPID" 2>/dev/null || true; TPID=; }
want() { [[ -z "${ONLY:-}" || " $ONLY " == *" $1 "* ]]; }
cli() { in_ns mariadb --protocol=tcp -h127.0.0.1 -P3306 -uroot --skip-ssl "$@"; }

# --- mariadb client ---------------------------------------------------------------
if want cli; then
capture "$out/cli.pcap" 'tcp port 3306'
cli -vvv --force <<'EOF' || true
CREATE DATABASE shop;
USE shop;
CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32) NOT NULL, price INT);
INSERT INTO items (name, price) VALUES ('apple', 3), ('pear', 5), ('plum', 7);
INSERT INTO items (name, price) VALUES ('fig', NULL);
CREATE TABLE stock (item_id INT, qty INT);
INSERT INTO stock VALUES (1, 10), (2, 0);
SELECT * FROM items;
SELECT name FROM items WHERE price > 100;
SELECT i.name, s.qty FROM items i JOIN stock s ON s.item_id = i.id;
SELECT COUNT(*) AS n FROM items;
UPDATE items SET price = price * 2 WHERE price IS NOT NULL;
DELETE FROM stock WHERE qty = 0;
SELECT * FROM missing_table;
USE nosuchdb;
EOF
stop
fi

# --- prepared statements, DEPRECATE_EOF ------------------------------------------------
if want ps; then
capture "$out/ps.pcap" 'tcp port 3306'
in_ns "$work/psclient/psclient" 127.0.0.1:3306
stop
fi

# --- compressed protocol ------------------------------------------------------------
if want compressed; then
capture "$out/compressed.pcap" 'tcp port 3306'
cli --compress shop -e 'SELECT * FROM items; SELECT 1;'
stop
fi

# --- mysqlslap ------------------------------------------------------------------------
if want slap; then
capture "$out/slap.pcap" 'tcp port 3306'
in_ns mysqlslap --protocol=tcp -h127.0.0.1 -P3306 -uroot --skip-ssl --concurrency=2 --iterations=1 \
  --auto-generate-sql --auto-generate-sql-load-type=mixed --number-of-queries=40 >/dev/null
stop
fi

# --- text as typed, several result sets ---------------------------------------------------
if want verbatim; then
# The database the other captures create, if they did not run.
cli -e 'CREATE DATABASE IF NOT EXISTS shop; CREATE TABLE IF NOT EXISTS shop.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(32) NOT NULL, price INT); INSERT INTO shop.items (name, price) SELECT "apple", 3 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM shop.items)'
cli shop <<'EOF'
DELIMITER //
CREATE PROCEDURE two_sets() BEGIN SELECT 1 AS a; SELECT name FROM items ORDER BY id; END//
EOF
capture "$out/verbatim.pcap" 'tcp port 3306'
cli shop <<'EOF'
DELIMITER //
SELECT 1 AS one;//
SELECT name
FROM items
WHERE id = 1;//
SELECT 1 AS a; SELECT 2 AS b, 3 AS c//
CALL two_sets()//
EOF
stop
fi

ls -l "$out"
