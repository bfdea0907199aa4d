"""The floor: the least a Python proxy can do per request, to measure the gateway against.

    python tests/bench/bare_proxy.py --variant asgi|rsgi|raw --upstream http://127.0.0.1:PORT --port N

Each variant forwards ``POST`` bodies to one upstream over kept-alive connections and passes the
answer back, streamed chunk by chunk, with nothing else: no keys, no policy, no quota, no ledger.

- ``asgi``: an ASGI app under granian, calling the upstream with pyreqwest: the gateway's own
  server, interface and client. The gateway minus this is what its pipeline costs.
- ``rsgi``: the same under granian's RSGI interface (its native one: no ASGI message dicts).
- ``uvicorn-http1``, ``httpd-http1``: the ``asgi`` app with http1 under uvicorn, and under the
  gateway's own server (``gateway.httpd``, ``server = "gateway"``).
- ``raw``: uvloop with httptools parsing, a plain ``asyncio.Protocol`` each side, upstream bytes
  relayed as they arrive (the upstream's own framing, never re-encoded): what Python on its event
  loop costs with neither a server framework nor an HTTP client.

``bench_proxy.py --bare`` starts each of them beside nginx, so all are measured in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host", b"te", b"upgrade"}


# -- asgi and rsgi: granian, pyreqwest ---------------------------------------------------


def _client() -> Any:
    from pyreqwest.client import ClientBuilder

    return ClientBuilder().gzip(False).brotli(False).zstd(False).deflate(False).build()


class AsgiProxy:
    def __init__(self, upstream: str, client: str = "pyreqwest") -> None:
        self.upstream = upstream.rstrip("/")
        self.client: Any = None
        self.kind = client
        self.pool: Any = None
        if client == "http1":
            from gateway.proxy.http1 import Http1Pool

            self.pool = Http1Pool(upstream, connect_timeout=5, read_timeout=60)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if self.pool is not None:
            hdrs = [(k, v) for k, v in scope["headers"] if k not in _HOP]
            async with await self.pool.request(b"POST", scope["path"].encode(), hdrs, b"".join(chunks)) as r:
                out = [(k, v) for k, v in r.headers if k not in _HOP]
                await send({"type": "http.response.start", "status": r.status, "headers": out})
                while (piece := await r.read_chunk()) is not None:
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if self.client is None:
            self.client = _client()
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in _HOP]
        builder = (
            self.client.request(scope["method"], self.upstream + scope["path"])
            .headers(headers)
            .body_bytes(b"".join(chunks))
            .streamed_read_buffer_limit(0)
        )
        async with builder.build_streamed() as response:
            out = [(k.encode(), v.encode()) for k, v in response.headers.items() if k.encode() not in _HOP]
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            body = response.body_reader
            while (chunk := await body.read_chunk()) is not None:
                await send({"type": "http.response.body", "body": bytes(chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class RsgiProxy:
    def __init__(self, upstream: str, client: str = "pyreqwest") -> None:
        self.upstream = upstream.rstrip("/")
        self.client: Any = None
        self.pool: Any = None
        if client == "http1":
            from gateway.proxy.http1 import Http1Pool

            self.pool = Http1Pool(upstream, connect_timeout=5, read_timeout=60)

    async def __call__(self, scope: Any, protocol: Any) -> None:
        body = await protocol()
        if self.pool is not None:
            hdrs = [(k.encode(), v.encode()) for k, v in scope.headers.items() if k.encode() not in _HOP]
            async with await self.pool.request(b"POST", scope.path.encode(), hdrs, body) as r:
                out = [(k.decode(), v.decode()) for k, v in r.headers if k not in _HOP]
                transport = protocol.response_stream(r.status, out)
                while (piece := await r.read_chunk()) is not None:
                    await transport.send_bytes(piece)
            return
        if self.client is None:
            self.client = _client()
        headers = [(k, v) for k, v in scope.headers.items() if k.encode() not in _HOP]
        builder = (
            self.client.request(scope.method, self.upstream + scope.path)
            .headers(headers)
            .body_bytes(body)
            .streamed_read_buffer_limit(0)
        )
        async with builder.build_streamed() as response:
            out = [(k, v) for k, v in response.headers.items() if k.encode() not in _HOP]
            transport = protocol.response_stream(response.status, out)
            reader = response.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                await transport.send_bytes(bytes(chunk))


def serve_granian(variant: str, upstream: str, host: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    rsgi = variant.startswith("rsgi")
    client = "http1" if variant.endswith("-http1") else "pyreqwest"
    factory = RsgiProxy if rsgi else AsgiProxy
    interface = Interfaces.RSGI if rsgi else Interfaces.ASGI
    Granian(
        "bare_proxy:app", address=host, port=port, interface=interface, workers=1, log_access=False
    ).serve(target_loader=functools.partial(factory, upstream, client), wrap_loader=False)


def serve_uvicorn(upstream: str, host: str, port: int) -> None:
    import uvicorn

    app = AsgiProxy(upstream, "http1")
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


# -- raw: uvloop, httptools, a protocol each side --------------------------------------


class _UpstreamConn(asyncio.Protocol):
    """One kept-alive connection to the upstream; relays a response's bytes to a client."""

    def __init__(self, pool: _Pool) -> None:
        import httptools

        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.client: _ClientConn | None = None
        self.done = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        client = self.client
        self.parser.feed_data(data)
        if client is not None:
            client.transport.write(data)
        if self.done:
            self.done = False
            self.client = None
            self.pool.release(self)
            if client is not None:
                client.finished()

    def on_message_complete(self) -> None:
        self.done = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.discard(self)
        if self.client is not None:
            self.client.transport.close()


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: deque[_UpstreamConn] = deque()

    async def acquire(self) -> _UpstreamConn:
        if self.idle:
            return self.idle.pop()
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _UpstreamConn(self), self.host, self.port)
        return conn

    def release(self, conn: _UpstreamConn) -> None:
        self.idle.append(conn)

    def discard(self, conn: _UpstreamConn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)


class _ClientConn(asyncio.Protocol):
    def __init__(self, pool: _Pool, upstream_host: bytes) -> None:
        import httptools

        self.pool = pool
        self.host = upstream_host
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.url = b""
        self.headers: list[bytes] = []
        self.body: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() not in _HOP:
            self.headers.append(name + b": " + value + b"\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self.body)
        head = b"".join(
            [
                self.parser.get_method(),
                b" ",
                self.url,
                b" HTTP/1.1\r\nhost: ",
                self.host,
                b"\r\ncontent-length: ",
                str(len(body)).encode(),
                b"\r\n",
                *self.headers,
                b"\r\n",
            ]
        )
        self.url, self.headers, self.body = b"", [], []
        self.transport.pause_reading()  # one request at a time on this connection
        asyncio.get_running_loop().create_task(self._forward(head + body))

    async def _forward(self, request: bytes) -> None:
        conn = await self.pool.acquire()
        conn.client = self
        conn.transport.write(request)

    def finished(self) -> None:
        self.transport.resume_reading()


def serve_raw(upstream: str, host: str, port: int) -> None:
    import uvloop

    parts = urlsplit(upstream)
    up_host, up_port = parts.hostname or "127.0.0.1", parts.port or 80

    async def main() -> None:
        pool = _Pool(up_host, up_port)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _ClientConn(pool, f"{up_host}:{up_port}".encode()), host, port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def serve_httpd(upstream: str, host: str, port: int) -> None:
    """The ASGI app under the gateway's own server (gateway.httpd), one worker."""
    from gateway.httpd.supervise import serve

    sys.exit(serve(functools.partial(AsgiProxy, upstream, "http1"), host=host, port=port, workers=1))


VARIANTS = ["asgi", "asgi-http1", "rsgi", "rsgi-http1", "uvicorn-http1", "httpd-http1", "raw"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--variant", choices=VARIANTS, required=True)
    p.add_argument("--upstream", required=True, help="http://host:port of the upstream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args(argv)
    if a.variant == "raw":
        serve_raw(a.upstream, a.host, a.port)
    elif a.variant == "uvicorn-http1":
        serve_uvicorn(a.upstream, a.host, a.port)
    elif a.variant == "httpd-http1":
        serve_httpd(a.upstream, a.host, a.port)
    else:
        serve_granian(a.variant, a.upstream, a.host, a.port)
    return 0


sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # gateway.proxy.http1, run as a script

if __name__ == "__main__":
    sys.exit(main())
