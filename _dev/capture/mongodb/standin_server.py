#!/usr/bin/env python3
"""A STAND-IN MongoDB server for captures only (Debian 12 ships no MongoDB
server). It speaks the real wire protocol with a real BSON codec (pymongo's
bson) so that a real client (python3-pymongo) drives it, and answers a small
set of commands from an in-memory store:

  OP_QUERY  admin.$cmd isMaster/hello/ping (legacy handshake), legacy find
            on a collection (--legacy), other commands via $cmd
  OP_MSG    hello/isMaster, ping, buildInfo, insert (kind 1 "documents"
            sequence), find (cursor, batchSize), getMore, update, delete,
            killCursors, endSessions; anything else {ok: 0, errmsg, code 59}
  OP_GET_MORE, OP_INSERT, OP_UPDATE, OP_DELETE (legacy, --legacy)
  OP_COMPRESSED with zlib when the client asks for it

--legacy advertises maxWireVersion 2 (MongoDB 2.6) so the client uses the
legacy opcodes; otherwise 13 (MongoDB 5.0) and OP_MSG.
"""
import socket, struct, sys, threading, zlib
import bson

OP_REPLY, OP_UPDATE, OP_INSERT, OP_QUERY, OP_GET_MORE, OP_DELETE, OP_KILL_CURSORS, OP_COMPRESSED, OP_MSG = \
    1, 2001, 2002, 2004, 2005, 2006, 2007, 2012, 2013

LEGACY = "--legacy" in sys.argv
store = {}        # "db.coll" -> [docs]
cursors = {}      # id -> (ns, remaining docs)
next_cursor = [1000]
next_req = [1]
lock = threading.Lock()


def cstring(b, i):
    j = b.index(b"\x00", i)
    return b[i:j].decode(), j + 1


def hello(q, compress_ok):
    d = {"ismaster": True, "helloOk": True, "maxBsonObjectSize": 16777216,
         "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
         "localTime": bson.datetime.datetime.utcnow(), "minWireVersion": 0,
         "maxWireVersion": 2 if LEGACY else 13, "readOnly": False, "ok": 1.0}
    if compress_ok and "zlib" in q.get("compression", []):
        d["compression"] = ["zlib"]
    return d


def matches(doc, flt):
    return all(doc.get(k) == v for k, v in (flt or {}).items())


def new_cursor(ns, docs, n):
    first, rest = docs[:n], docs[n:]
    cid = 0
    if rest:
        with lock:
            next_cursor[0] += 1
            cid = next_cursor[0]
            cursors[cid] = (ns, rest)
    return first, cid


def command(db, cmd, seqs):
    name = next(iter(cmd))
    low = name.lower()
    if low in ("ismaster", "hello"):
        return hello(cmd, True)
    if low in ("ping", "endsessions"):
        return {"ok": 1.0}
    if low == "buildinfo":
        return {"version": "5.0.0-standin", "versionArray": [5, 0, 0, 0], "ok": 1.0}
    if low == "insert":
        docs = list(cmd.get("documents", [])) + seqs.get("documents", [])
        store.setdefault(db + "." + cmd[name], []).extend(docs)
        return {"n": len(docs), "ok": 1.0}
    if low == "find":
        ns = db + "." + cmd[name]
        docs = [d for d in store.get(ns, []) if matches(d, cmd.get("filter"))]
        docs = docs[cmd.get("skip", 0):]
        if cmd.get("limit"):
            docs = docs[:cmd["limit"]]
        first, cid = new_cursor(ns, docs, cmd.get("batchSize", 101))
        return {"cursor": {"firstBatch": first, "id": bson.int64.Int64(cid), "ns": ns}, "ok": 1.0}
    if low == "getmore":
        cid = int(cmd[name])
        ns, rest = cursors.pop(cid, (db + "." + cmd.get("collection", ""), []))
        n = cmd.get("batchSize", 101)
        batch, rest = rest[:n], rest[n:]
        if rest:
            cursors[cid] = (ns, rest)
        else:
            cid = 0
        return {"cursor": {"nextBatch": batch, "id": bson.int64.Int64(cid), "ns": ns}, "ok": 1.0}
    if low == "killcursors":
        for c in cmd.get("cursors", []):
            cursors.pop(int(c), None)
        return {"cursorsKilled": cmd.get("cursors", []), "ok": 1.0}
    if low == "update":
        ns = db + "." + cmd[name]
        n = 0
        for u in list(cmd.get("updates", [])) + seqs.get("updates", []):
            for d in store.get(ns, []):
                if matches(d, u["q"]):
                    d.update(u["u"].get("$set", {}))
                    n += 1
                    if not u.get("multi"):
                        break
        return {"n": n, "nModified": n, "ok": 1.0}
    if low == "delete":
        ns = db + "." + cmd[name]
        n = 0
        for q in list(cmd.get("deletes", [])) + seqs.get("deletes", []):
            keep = [d for d in store.get(ns, []) if not matches(d, q["q"])]
            n += len(store.get(ns, [])) - len(keep)
            store[ns] = keep
        return {"n": n, "ok": 1.0}
    return {"ok": 0.0, "errmsg": "no such command: '%s'" % name, "code": 59, "codeName": "CommandNotFound"}


def frame(op, body, response_to):
    with lock:
        next_req[0] += 1
        rid = next_req[0]
    return struct.pack("<iiii", 16 + len(body), rid, response_to, op) + body


def reply(docs, response_to, cursor_id=0, starting=0, flags=8):
    body = struct.pack("<iqii", flags, cursor_id, starting, len(docs)) + b"".join(bson.encode(d) for d in docs)
    return frame(OP_REPLY, body, response_to)


def handle(op, rid, body, compressed):
    """Returns the reply bytes (before compression) or None."""
    if op == OP_QUERY:
        flags, = struct.unpack_from("<i", body, 0)
        ns, i = cstring(body, 4)
        skip, nret = struct.unpack_from("<ii", body, i)
        qlen, = struct.unpack_from("<i", body, i + 8)
        q = bson.decode(body[i + 8:i + 8 + qlen])  # a returnFieldsSelector may follow
        db, coll = ns.split(".", 1)
        if coll == "$cmd":
            if "$query" in q:
                q = q["$query"]
            return reply([command(db, q, {})], rid)
        flt = q.get("$query", q)
        docs = [d for d in store.get(ns, []) if matches(d, flt)][skip:]
        n = abs(nret) if nret else 101
        first, cid = new_cursor(ns, docs, n)
        return reply(first, rid, cid, 0)
    if op == OP_GET_MORE:
        ns, i = cstring(body, 4)
        nret, cid = struct.unpack_from("<iq", body, i)
        ns, rest = cursors.pop(cid, (ns, []))
        n = nret or 101
        batch, rest = rest[:n], rest[n:]
        newcid = 0
        if rest:
            cursors[cid] = (ns, rest)
            newcid = cid
        return reply(batch, rid, newcid, 0)
    if op == OP_INSERT:
        ns, i = cstring(body, 4)
        store.setdefault(ns, []).extend(bson.decode_all(body[i:]))
        return None
    if op == OP_UPDATE:
        ns, i = cstring(body, 4)
        docs = bson.decode_all(body[i + 4:])
        command(ns.split(".", 1)[0], {"update": ns.split(".", 1)[1], "updates": [{"q": docs[0], "u": docs[1]}]}, {})
        return None
    if op == OP_DELETE:
        ns, i = cstring(body, 4)
        docs = bson.decode_all(body[i + 4:])
        command(ns.split(".", 1)[0], {"delete": ns.split(".", 1)[1], "deletes": [{"q": docs[0]}]}, {})
        return None
    if op == OP_KILL_CURSORS:
        return None
    if op == OP_MSG:
        flags, = struct.unpack_from("<I", body, 0)
        end = len(body) - (4 if flags & 1 else 0)
        i, cmd, seqs = 4, None, {}
        while i < end:
            kind = body[i]
            i += 1
            size, = struct.unpack_from("<i", body, i)
            if kind == 0:
                cmd = bson.decode(body[i:i + size])
            else:
                ident, j = cstring(body, i + 4)
                seqs[ident] = bson.decode_all(body[j:i + size])
            i += size
        out = command(cmd.get("$db", "admin"), cmd, seqs)
        if flags & 2:  # moreToCome: no reply
            return None
        return frame(OP_MSG, struct.pack("<I", 0) + b"\x00" + bson.encode(out), rid)
    return None


def serve(conn):
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 16:
                length, rid, _, op = struct.unpack_from("<iiii", buf, 0)
                if len(buf) < length:
                    break
                body, buf = buf[16:length], buf[length:]
                compressed = op == OP_COMPRESSED
                if compressed:
                    op, _, cid = struct.unpack_from("<iiB", body, 0)
                    body = zlib.decompress(body[9:])
                out = handle(op, rid, body, compressed)
                if out is None:
                    continue
                if compressed:
                    inner = out[16:]
                    length, orid, rto, oop = struct.unpack_from("<iiii", out, 0)
                    out = struct.pack("<iiii", 16 + 9 + 0, orid, rto, OP_COMPRESSED)
                    z = zlib.compress(inner)
                    out = struct.pack("<iiii", 16 + 9 + len(z), orid, rto, OP_COMPRESSED) + \
                        struct.pack("<iiB", oop, len(inner), 2) + z
                conn.sendall(out)


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 27017))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
