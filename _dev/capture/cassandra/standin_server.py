#!/usr/bin/env python3
"""A small CQL native protocol server STAND-IN, for captures only.

Debian ships no Cassandra server, so the test pcaps are made with a real
client (the DataStax python driver, python3-cassandra) talking to this
stand-in. It speaks protocol v3/v4 frames (and refuses v5 the way Cassandra
refuses a version it does not support, which makes the driver downgrade),
answers OPTIONS, STARTUP, REGISTER, QUERY, PREPARE, EXECUTE and BATCH with
canned but well-formed results, and supports snappy body compression.
It is not a database: results depend only on the statement text.
"""
import socket
import struct
import sys
import threading

try:
    import snappy
except ImportError:  # compression then stays off
    snappy = None

registered = []
reg_lock = threading.Lock()


def s_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def s_long_string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def s_bytes(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def s_short_bytes(b):
    return struct.pack(">H", len(b)) + b


def s_string_list(items):
    return struct.pack(">H", len(items)) + b"".join(s_string(x) for x in items)


def s_multimap(m):
    out = struct.pack(">H", len(m))
    for k, v in m.items():
        out += s_string(k) + s_string_list(v)
    return out


T_ASCII, T_BIGINT, T_INT, T_UUID, T_VARCHAR, T_INET = 0x01, 0x02, 0x09, 0x0C, 0x0D, 0x10
T_SET = 0x22


def col_type(t):
    if isinstance(t, tuple):  # (set, elem)
        return struct.pack(">H", t[0]) + struct.pack(">H", t[1])
    return struct.pack(">H", t)


def rows_metadata(ks, table, cols, paging_state=None, pk=None, version=4):
    flags = 0x01
    if paging_state is not None:
        flags |= 0x02
    out = struct.pack(">ii", flags, len(cols))
    if pk is not None and version >= 4:
        out += struct.pack(">i", len(pk)) + b"".join(struct.pack(">H", i) for i in pk)
    if paging_state is not None:
        out += s_bytes(paging_state)
    out += s_string(ks) + s_string(table)
    for name, t in cols:
        out += s_string(name) + col_type(t)
    return out


def rows_result(ks, table, cols, rows, paging_state=None):
    out = struct.pack(">i", 2) + rows_metadata(ks, table, cols, paging_state)
    out += struct.pack(">i", len(rows))
    for r in rows:
        for cell in r:
            out += s_bytes(cell)
    return out


def enc_text(s):
    return s.encode()


def enc_int(i):
    return struct.pack(">i", i)


HOST_ID = bytes.fromhex("6b1a3e2f9c4d4e1b8f7a0d2c5e6f7a8b")
SCHEMA_ID = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
PREPARED_ID = bytes.fromhex("a1b2c3d4e5f60718293a4b5c6d7e8f90")

LOCAL_COLS = [("key", T_VARCHAR), ("bootstrapped", T_VARCHAR), ("cluster_name", T_VARCHAR),
              ("cql_version", T_VARCHAR), ("data_center", T_VARCHAR), ("host_id", T_UUID),
              ("native_protocol_version", T_VARCHAR), ("partitioner", T_VARCHAR), ("rack", T_VARCHAR),
              ("release_version", T_VARCHAR), ("rpc_address", T_INET), ("schema_version", T_UUID)]
LOCAL_ROW = [enc_text("local"), enc_text("COMPLETED"), enc_text("Test Cluster"), enc_text("3.4.6"),
             enc_text("datacenter1"), HOST_ID, enc_text("5"), enc_text("org.apache.cassandra.dht.Murmur3Partitioner"), enc_text("rack1"), enc_text("4.1.3"),
             bytes([127, 0, 0, 1]), SCHEMA_ID]
PEERS_COLS = [("peer", T_INET), ("data_center", T_VARCHAR), ("host_id", T_UUID), ("rack", T_VARCHAR),
              ("release_version", T_VARCHAR), ("rpc_address", T_INET), ("schema_version", T_UUID),
              ("tokens", (T_SET, T_VARCHAR))]
USER_COLS = [("user_id", T_INT), ("fname", T_VARCHAR), ("lname", T_VARCHAR)]
USERS = [(1745, "john", "smith"), (1744, "john", "doe"), (1746, "john", "smith")]


def user_row(u):
    return [enc_int(u[0]), enc_text(u[1]), enc_text(u[2])]


def error(code, msg, extra=b""):
    return 0x00, struct.pack(">i", code) + s_string(msg) + extra


def answer_query(q, version, paging_state, page_size, conn_state):
    """Returns (opcode, body, warnings, push_event) for a statement."""
    ql = " ".join(q.lower().split())
    if "peers_v2" in ql:
        return error(0x2200, "unconfigured table peers_v2") + (None, None)
    if "system.local" in ql:
        return (0x08, rows_result("system", "local", LOCAL_COLS, [LOCAL_ROW]), None, None)
    if "system.peers" in ql:
        return (0x08, rows_result("system", "peers", PEERS_COLS, []), None, None)
    if ql.startswith("use "):
        ks = q.split()[1].strip('";')
        conn_state["ks"] = ks
        return (0x08, struct.pack(">i", 3) + s_string(ks), None, None)
    if ql.startswith("create keyspace"):
        ks = q.split()[2]
        body = struct.pack(">i", 5) + s_string("CREATED") + s_string("KEYSPACE") + s_string(ks)
        return (0x08, body, None, ("KEYSPACE", ks, None))
    if ql.startswith("create table"):
        name = q.split()[2].split("(")[0]
        ks = conn_state.get("ks", "mykeyspace")
        body = struct.pack(">i", 5) + s_string("CREATED") + s_string("TABLE") + s_string(ks) + s_string(name)
        return (0x08, body, None, ("TABLE", ks, name))
    if ql.startswith("insert") or ql.startswith("update") or ql.startswith("delete"):
        return (0x08, struct.pack(">i", 1), None, None)
    if ql.startswith("select") and "from nosuchtable" in ql:
        return error(0x2200, "unconfigured table nosuchtable") + (None, None)
    if ql.startswith("select") and "consistency_all" in ql:
        # Unavailable: consistency ALL, 3 required, 1 alive.
        return error(0x1000, "Cannot achieve consistency level ALL", struct.pack(">Hii", 5, 3, 1)) + (None, None)
    if ql.startswith("select") and "users" in ql:
        ks = conn_state.get("ks", "mykeyspace")
        if page_size and page_size < len(USERS):
            start = 0 if paging_state is None else int(paging_state.decode().split(":")[1])
            rows = USERS[start:start + page_size]
            nxt = start + page_size
            ps = ("page:%d" % nxt).encode() if nxt < len(USERS) else None
            return (0x08, rows_result(ks, "users", USER_COLS, [user_row(u) for u in rows], ps), None, None)
        return (0x08, rows_result(ks, "users", USER_COLS, [user_row(u) for u in USERS]), None, None)
    if ql.startswith("selec "):
        pass
    return error(0x2000, "line 1:0 no viable alternative at input '%s'" % q.split()[0]) + (None, None)


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.compress = False
        self.version = 4
        self.state = {}

    def send(self, version, stream, op, body, warnings=None):
        flags = 0
        if warnings and version >= 4:
            flags |= 0x08
            body = s_string_list(warnings) + body
        if self.compress and body and op != 0x02:
            body = snappy.compress(body)
            flags |= 0x01
        hdr = struct.pack(">BBhBi", 0x80 | version, flags, stream, op, len(body))
        with self.lock:
            self.sock.sendall(hdr + body)

    def serve(self):
        while True:
            hdr = read_exact(self.sock, 9)
            ver, flags, stream, op, length = struct.unpack(">BBhBi", hdr)
            body = read_exact(self.sock, length) if length else b""
            ver &= 0x7F
            if ver not in (3, 4):
                # What Cassandra 4 answers to a version it will not speak.
                self.send(4, stream, *error(0x000A, "Invalid or unsupported protocol version (%d); supported versions are (3/v3, 4/v4, 5/v5-beta)" % ver))
                continue
            self.version = ver
            if flags & 0x01 and snappy:
                body = snappy.decompress(body)
            self.handle(ver, stream, op, body)

    def handle(self, ver, stream, op, body):
        if op == 0x05:  # OPTIONS
            supported = {"CQL_VERSION": ["3.4.6"], "PROTOCOL_VERSIONS": ["3/v3", "4/v4", "5/v5-beta"]}
            if snappy:
                supported["COMPRESSION"] = ["snappy"]
            self.send(ver, stream, 0x06, s_multimap(supported))
        elif op == 0x01:  # STARTUP: string map
            n = struct.unpack(">H", body[:2])[0]
            off, opts = 2, {}
            for _ in range(n):
                kl = struct.unpack(">H", body[off:off + 2])[0]
                k = body[off + 2:off + 2 + kl].decode()
                off += 2 + kl
                vl = struct.unpack(">H", body[off:off + 2])[0]
                v = body[off + 2:off + 2 + vl].decode()
                off += 2 + vl
                opts[k] = v
            self.send(ver, stream, 0x02, b"")  # READY is never compressed
            self.compress = opts.get("COMPRESSION") == "snappy" and snappy is not None
        elif op == 0x0B:  # REGISTER
            with reg_lock:
                registered.append(self)
            self.send(ver, stream, 0x02, b"")
        elif op == 0x07:  # QUERY
            ql = struct.unpack(">i", body[:4])[0]
            q = body[4:4 + ql].decode()
            off = 4 + ql + 2  # consistency
            qflags = body[off]
            off += 1
            if qflags & 0x01:
                nv = struct.unpack(">H", body[off:off + 2])[0]
                off += 2
                for _ in range(nv):
                    vl = struct.unpack(">i", body[off:off + 4])[0]
                    off += 4 + max(vl, 0)
            page_size = None
            paging_state = None
            if qflags & 0x04:
                page_size = struct.unpack(">i", body[off:off + 4])[0]
                off += 4
            if qflags & 0x08:
                pl = struct.unpack(">i", body[off:off + 4])[0]
                paging_state = body[off + 4:off + 4 + pl]
                off += 4 + pl
            rop, rbody, warn, ev = answer_query(q, ver, paging_state, page_size, self.state)
            self.send(ver, stream, rop, rbody, warn)
            if ev:
                self.push_schema_event(ev)
        elif op == 0x09:  # PREPARE
            ql = struct.unpack(">i", body[:4])[0]
            q = body[4:4 + ql].decode()
            ks = self.state.get("ks", "mykeyspace")
            if q.lower().startswith("insert"):
                req = rows_metadata(ks, "users", USER_COLS, pk=[0], version=ver)
                resp = struct.pack(">ii", 0x04, 0)  # no result metadata
            else:
                req = rows_metadata(ks, "users", [("user_id", T_INT)], pk=[0], version=ver)
                resp = rows_metadata(ks, "users", USER_COLS)
            pid = PREPARED_ID if q.lower().startswith("insert") else PREPARED_ID[::-1]
            self.send(ver, stream, 0x08, struct.pack(">i", 4) + s_short_bytes(pid) + req + resp)
        elif op == 0x0A:  # EXECUTE
            il = struct.unpack(">H", body[:2])[0]
            pid = body[2:2 + il]
            if pid == PREPARED_ID:
                self.send(ver, stream, 0x08, struct.pack(">i", 1))
            elif pid == PREPARED_ID[::-1]:
                ks = self.state.get("ks", "mykeyspace")
                self.send(ver, stream, 0x08, rows_result(ks, "users", USER_COLS, [user_row(USERS[0])]))
            else:
                self.send(ver, stream, *error(0x2500, "Prepared query with ID %s not found" % pid.hex(), s_short_bytes(pid)))
        elif op == 0x0D:  # BATCH: a warning as Cassandra gives for large batches
            self.send(ver, stream, 0x08, struct.pack(">i", 1),
                      ["Batch for [mykeyspace.users] is of size 6.104KiB, exceeding specified threshold of 5.000KiB by 1.104KiB."])
        else:
            self.send(ver, stream, *error(0x000A, "Unexpected opcode %d" % op))

    def push_schema_event(self, ev):
        target, ks, name = ev
        body = s_string("SCHEMA_CHANGE") + s_string("CREATED") + s_string(target) + s_string(ks)
        if name:
            body += s_string(name)
        with reg_lock:
            conns = list(registered)
        for c in conns:
            try:
                c.send(c.version, -1, 0x0C, body)
            except OSError:
                pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9042
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(s)

        def run(c=c):
            try:
                c.serve()
            except (EOFError, OSError):
                pass
            finally:
                with reg_lock:
                    if c in registered:
                        registered.remove(c)
                c.sock.close()
        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
