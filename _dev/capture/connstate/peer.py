#!/usr/bin/env python3
"""Client and server ends for the connection-state captures (capture.sh).

Every connection is made by the kernel's own TCP: the behaviours are chosen
with ordinary socket calls (SO_LINGER 0 for a reset, shutdown(SHUT_WR) for a
half-close, a small SO_RCVBUF for zero windows), nothing is forged, except
the "syn" mode that sends one SYN on a raw socket the way a port scanner
does, so that the kernel itself answers the SYN-ACK with a RST.

  peer.py server PORT MODE      modes: echo, reset, halfclose, hold, slow,
                                mid-reset, mid-halfclose, mid-hold
  peer.py client HOST PORT MODE modes: echo, reset, halfclose, hold, bulk,
                                later (TRIGGER=file)
  peer.py udp-server PORT
  peer.py udp-client HOST PORT
  peer.py syn SRC DST PORT
"""
import os
import socket
import struct
import sys
import time

LINGER0 = struct.pack("ii", 1, 0)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def server(port, mode):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too
    if mode == "slow":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    ls.bind(("::", port))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        try:
            serve(c, mode)
        except OSError as e:  # the client's reset
            log("server:", e)


def serve(c, mode):
    delay = float(os.environ.get("DELAY", "0.1"))
    if mode == "slow":
        # Read nothing for a while: the client fills the small
        # receive buffer and the kernel advertises a zero window.
        time.sleep(1.5)
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        c.sendall(b"got %d\n" % n)
        c.close()
        return
    data = c.recv(4096)
    c.sendall(b"echo " + data)
    if mode.startswith("mid-"):
        # Mid-stream scenarios: act only after the client's second
        # message, which it sends once the capture runs.
        c.recv(4096)
        mode = mode[4:]
    if mode == "echo":
        # Wait for the client's FIN, then close: a normal close.
        while c.recv(4096):
            pass
        c.close()
    elif mode == "reset":
        time.sleep(delay)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        c.close()
    elif mode == "halfclose":
        time.sleep(delay)
        c.shutdown(socket.SHUT_WR)
        time.sleep(30)  # never closes within the capture
        c.close()
    elif mode == "hold":
        time.sleep(30)
        c.close()


def client(host, port, mode):
    s = socket.create_connection((host, port), timeout=5)
    if mode == "bulk":
        s.sendall(b"x" * 30000)
        s.shutdown(socket.SHUT_WR)
        log(s.recv(100))
        s.close()
        return
    s.sendall(b"hello\n")
    log(s.recv(4096))
    if mode == "echo":
        s.close()
        time.sleep(0.2)
    elif mode == "reset":
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
        s.close()
    elif mode == "halfclose":
        s.shutdown(socket.SHUT_WR)
        time.sleep(30)
    elif mode == "hold":
        time.sleep(30)
    elif mode == "later":
        # Keep the connection open; send more once the trigger file exists.
        trigger = os.environ["TRIGGER"]
        while not os.path.exists(trigger):
            time.sleep(0.05)
        s.sendall(b"more\n")
        time.sleep(30)


def udp_server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(b"echo " + data, addr)


def udp_client(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"ping\n", (host, port))
    try:
        log(s.recvfrom(2048)[0])
    except socket.timeout:
        log("udp: no answer")


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, port):
    # A scanner's SYN: the connection exists in no socket, so the kernel
    # resets it when the SYN-ACK comes back.
    sport = 40123
    hdr = struct.pack("!HHIIBBHHH", sport, port, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", checksum(pseudo + hdr)) + hdr[18:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.sendto(hdr, (dst, 0))
    time.sleep(0.5)


def main():
    cmd = sys.argv[1]
    if cmd == "server":
        server(int(sys.argv[2]), sys.argv[3])
    elif cmd == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "udp-server":
        udp_server(int(sys.argv[2]))
    elif cmd == "udp-client":
        udp_client(sys.argv[2], int(sys.argv[3]))
    elif cmd == "syn":
        syn(sys.argv[2], sys.argv[3], int(sys.argv[4]))


if __name__ == "__main__":
    main()
