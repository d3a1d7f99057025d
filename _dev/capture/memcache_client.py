#!/usr/bin/env python3
"""Drives a real memcached with the traffic the memcache decoder tests replay.

  memcache_client.py text|binary|udp HOST PORT

Plain sockets on purpose: every byte on the wire is spelled out here, so the
tests can name what each transaction must decode to.
"""
import socket
import struct
import sys
import time

HOST, PORT = sys.argv[2], int(sys.argv[3])


def recv_until(s, pred, limit=1 << 20):
    buf = b""
    s.settimeout(2)
    while not pred(buf) and len(buf) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def line_done(buf):
    return buf.endswith(b"\r\n")


def end_done(buf):
    return buf.endswith(b"END\r\n") or buf.startswith(b"ERROR") or buf.startswith(b"CLIENT_ERROR")


def text():
    s = socket.create_connection((HOST, PORT))

    def cmd(line, data=None, until=line_done, reply=True):
        msg = line.encode() + b"\r\n"
        if data is not None:
            msg += data + b"\r\n"
        s.sendall(msg)
        if reply:
            recv_until(s, until)
        time.sleep(0.01)

    cmd("set key 0 0 3", b"foo")
    cmd("get key", until=end_done)
    cmd("get missing", until=end_done)
    cmd("set user:42 7 300 11", b"hello world")
    cmd("set counter 0 0 2", b"10")
    cmd("get key user:42 missing counter", until=end_done)
    cmd("gets key", until=end_done)
    cmd("add key 0 0 3", b"bar")            # NOT_STORED
    cmd("add fresh 1 0 5", b"fresh")        # STORED
    cmd("replace key 0 0 3", b"baz")
    cmd("replace nokey 0 0 1", b"x")        # NOT_STORED
    cmd("append key 0 0 4", b"-end")
    cmd("prepend key 0 0 6", b"start-")
    cmd("cas key 0 0 3 1", b"cas")          # EXISTS (wrong cas)
    cmd("cas nokey 0 0 3 1", b"cas")        # NOT_FOUND
    cmd("incr counter 5")
    cmd("decr counter 3")
    cmd("incr key 1")                       # CLIENT_ERROR non-numeric
    cmd("incr nokey 1")                     # NOT_FOUND
    cmd("touch key 60")
    cmd("touch nokey 60")
    cmd("set quiet 0 0 2 noreply", b"qq", reply=False)
    cmd("delete quiet noreply", reply=False)
    cmd("delete fresh")
    cmd("delete fresh")                     # NOT_FOUND
    cmd("version")
    cmd("verbosity 1")
    cmd("bogus command")                    # ERROR
    cmd("stats", until=end_done)
    cmd("stats slabs", until=end_done)
    cmd("flush_all")
    cmd("quit", reply=False)
    time.sleep(0.05)
    s.close()


def bin_req(opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0, vbucket=0):
    total = len(extras) + len(key) + len(value)
    hdr = struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0,
                      vbucket, total, opaque, cas)
    return hdr + extras + key + value


def bin_read(s):
    """Reads one response; returns (opcode, status, opaque, body)."""
    hdr = recv_exact(s, 24)
    _, opcode, _, _, _, status, total, opaque, _ = struct.unpack(">BBHBBHIIQ", hdr)
    return opcode, status, opaque, recv_exact(s, total)


def recv_exact(s, n):
    buf = b""
    s.settimeout(2)
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def binary():
    s = socket.create_connection((HOST, PORT))

    def rt(msg, responses=1):
        s.sendall(msg)
        out = [bin_read(s) for _ in range(responses)]
        time.sleep(0.01)
        return out

    store = lambda flags, exp: struct.pack(">II", flags, exp)
    rt(bin_req(0x01, b"bkey", store(0xdeadbeef, 0), b"binary-value", opaque=1))   # Set
    rt(bin_req(0x00, b"bkey", opaque=2))                                            # Get
    rt(bin_req(0x00, b"nokey", opaque=3))                                           # Get miss
    rt(bin_req(0x0c, b"bkey", opaque=4))                                            # GetK
    rt(bin_req(0x02, b"bkey", store(0, 0), b"x", opaque=5))                         # Add: exists
    rt(bin_req(0x03, b"nokey", store(0, 0), b"x", opaque=6))                        # Replace: not found
    rt(bin_req(0x0e, b"bkey", b"", b"+app", opaque=7))                              # Append
    rt(bin_req(0x0f, b"bkey", b"", b"pre+", opaque=8))                              # Prepend
    counter = lambda delta, init, exp: struct.pack(">QQI", delta, init, exp)
    rt(bin_req(0x05, b"bcount", counter(1, 100, 0), opaque=9))                      # Incr: creates 100
    rt(bin_req(0x05, b"bcount", counter(5, 0, 0), opaque=10))                       # Incr: 105
    rt(bin_req(0x06, b"bcount", counter(3, 0, 0), opaque=11))                       # Decr: 102
    rt(bin_req(0x05, b"bkey", counter(1, 0, 0), opaque=12))                         # Incr non-numeric
    rt(bin_req(0x1c, b"bkey", struct.pack(">I", 60), opaque=13))                    # Touch
    # Quiet pipeline: GetQ hit + GetKQ miss + SetQ, closed by a NoOp. Only the
    # hit and the NoOp are answered.
    s.sendall(bin_req(0x09, b"bkey", opaque=14) + bin_req(0x0d, b"nokey", opaque=15) +
              bin_req(0x11, b"qkey", store(1, 0), b"quiet", opaque=16) + bin_req(0x0a, opaque=17))
    bin_read(s)
    bin_read(s)
    time.sleep(0.01)
    rt(bin_req(0x04, b"qkey", opaque=18))                                           # Delete
    rt(bin_req(0x04, b"qkey", opaque=19))                                           # Delete: not found
    rt(bin_req(0x0b, opaque=20))                                                    # Version
    # Stat: one response per statistic, all with the request's opaque, ended
    # by an empty one.
    s.sendall(bin_req(0x10, b"settings", opaque=21))
    while True:
        _, _, _, body = bin_read(s)
        hdr_key_len = None
        if not body:
            break
    time.sleep(0.01)
    rt(bin_req(0x08, b"", struct.pack(">I", 0), opaque=22))                         # Flush
    rt(bin_req(0x07, opaque=23))                                                    # Quit
    s.close()


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    rid = [100]

    def frame(payload):
        rid[0] += 1
        return struct.pack(">HHHH", rid[0], 0, 1, 0) + payload

    def rt(payload):
        s.sendto(frame(payload), (HOST, PORT))
        # Collect every datagram of the response (header says how many).
        got, total = 0, 1
        while got < total:
            d, _ = s.recvfrom(65536)
            _, _, total, _ = struct.unpack(">HHHH", d[:8])
            got += 1
        time.sleep(0.01)

    rt(b"set ukey 3 0 5\r\nhello\r\n")
    rt(b"get ukey\r\n")
    rt(b"get ukey nokey\r\n")
    rt(b"set big 0 0 3000\r\n" + b"B" * 3000 + b"\r\n")
    rt(b"get big\r\n")          # answered in 3 datagrams
    rt(b"incr ukey 1\r\n")       # CLIENT_ERROR
    rt(b"delete ukey\r\n")
    rt(b"version\r\n")
    # Binary over UDP.
    rt(bin_req(0x01, b"ubin", struct.pack(">II", 0, 0), b"v1", opaque=7))
    rt(bin_req(0x00, b"ubin", opaque=8))
    # noreply: no answer, must not wait.
    s.sendto(frame(b"set quiet 0 0 1 noreply\r\nq\r\n"), (HOST, PORT))
    time.sleep(0.01)
    s.close()


{"text": text, "binary": binary, "udp": udp}[sys.argv[1]]()
