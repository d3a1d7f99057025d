"""aioquic side of _dev/capture/quic.sh: an HTTP/3 server and client.

    aio.py server HOST PORT CERT KEY [retry]
    aio.py client HOST PORT SNI [--version V] [--original-version V] [--alpn A,B,...]

--original-version makes the first Initial use a version the server does
not speak (version negotiation); --alpn with many names makes the
ClientHello too big for one Initial packet.
"""
import argparse
import asyncio
import ssl

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated


class H3Server(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._h3 = None

    def quic_event_received(self, event):
        if isinstance(event, ProtocolNegotiated):
            self._h3 = H3Connection(self._quic)
        if self._h3 is None:
            return
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived) and ev.stream_ended:
                self._h3.send_headers(ev.stream_id, [(b":status", b"200"), (b"content-type", b"text/plain")])
                self._h3.send_data(ev.stream_id, b"hello from aioquic\n", end_stream=True)
        self.transmit()


class H3Client(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._h3 = H3Connection(self._quic)
        self.done = asyncio.get_event_loop().create_future()
        self.status = None

    def get(self, authority, path="/"):
        sid = self._quic.get_next_available_stream_id()
        self._h3.send_headers(sid, [(b":method", b"GET"), (b":scheme", b"https"),
                                    (b":authority", authority.encode()), (b":path", path.encode())],
                              end_stream=True)
        self.transmit()

    def quic_event_received(self, event):
        for ev in self._h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.status = dict(ev.headers).get(b":status")
            if isinstance(ev, (HeadersReceived, DataReceived)) and ev.stream_ended and not self.done.done():
                self.done.set_result(True)


async def run_server(a):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN)
    cfg.load_cert_chain(a.cert, a.key)
    await serve(a.host, a.port, configuration=cfg, create_protocol=H3Server, retry=a.retry == "retry")
    print("listening", flush=True)
    await asyncio.Future()


async def run_client(a):
    alpn = a.alpn.split(",") if a.alpn else H3_ALPN
    cfg = QuicConfiguration(is_client=True, alpn_protocols=alpn, verify_mode=ssl.CERT_NONE,
                            server_name=a.sni)
    if a.version:
        cfg.supported_versions = [int(v, 0) for v in a.version.split(",")]
    if a.original_version:
        cfg.original_version = int(a.original_version, 0)
    async with connect(a.host, a.port, configuration=cfg, create_protocol=H3Client) as c:
        c.get(a.sni)
        await asyncio.wait_for(c.done, 5)
        print("status", c.status)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("rest", nargs="*")
    p.add_argument("--version")
    p.add_argument("--original-version")
    p.add_argument("--alpn")
    a = p.parse_args()
    if a.mode == "server":
        a.cert, a.key = a.rest[0], a.rest[1]
        a.retry = a.rest[2] if len(a.rest) > 2 else ""
        asyncio.run(run_server(a))
    else:
        a.sni = a.rest[0]
        asyncio.run(run_client(a))


if __name__ == "__main__":
    main()
