"""The upstream client (gateway/proxy/http1.py) against real loopback servers that script the wire.

Each server below is an asyncio server written for its test: it reads the request as bytes and
answers with exactly the bytes the test names, so the framing, the timing and the connection's
fate are the test's to choose (what a well-behaved HTTP server would never do, too).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from gateway.proxy.egress import proxy_for
from gateway.proxy.http1 import (
    ConnectFailed,
    ConnectTimedOut,
    Http1Pool,
    ReadTimedOut,
    UpstreamHttpError,
)
from tests.tls_front import TlsFront

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Wire:
    """A scripted server: counts connections and keeps every request's head and body."""

    def __init__(self, answer: Callable[[Wire, asyncio.StreamWriter, int], Awaitable[None]]) -> None:
        self.answer = answer
        self.connections = 0
        self.closed = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                self.requests.append((head, await reader.readexactly(length)))
                await self.answer(self, writer, len(self.requests))
                if writer.is_closing():
                    break
        self.closed += 1
        writer.close()


@contextlib.asynccontextmanager
async def wire(answer: Callable[[Wire, asyncio.StreamWriter, int], Awaitable[None]]) -> AsyncIterator[Wire]:
    w = Wire(answer)
    w.server = await asyncio.start_server(w._serve, "127.0.0.1", 0)
    try:
        yield w
    finally:
        w.server.close()


def pool(url: str, read_timeout: float = 5.0, **kw: object) -> Http1Pool:
    return Http1Pool(url, connect_timeout=2.0, read_timeout=read_timeout, **kw)  # type: ignore[arg-type]


async def post(p: Http1Pool, body: bytes = b'{"a":1}') -> tuple[int, bytes]:
    async with await p.request(b"POST", b"/v1/chat/completions?x=1", [(b"x-test", b"yes")], body) as r:
        return r.status, await r.read()


async def ok(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
    writer.write(OK)


async def test_the_request_is_written_as_asked_and_a_kept_alive_connection_serves_again() -> None:
    async with wire(ok) as w:
        port = w.port
        p = pool(w.url + "/v1")
        assert await post(p) == (200, b"{}")
        assert await post(p, b"second") == (200, b"{}")
        await p.close()
    assert w.connections == 1
    head, body = w.requests[0]
    assert head == (
        b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: 127.0.0.1:%d\r\ncontent-length: 7\r\n"
        b"x-test: yes\r\n\r\n" % port
    )
    assert body == b'{"a":1}'
    assert w.requests[1][1] == b"second"


async def test_a_chunked_answer_is_handed_over_piece_by_piece_as_it_arrives() -> None:
    more = asyncio.Event()

    async def chunked(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await more.wait()  # the rest only once the client has shown it got the first piece
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")

    async with wire(chunked) as w:
        p = pool(w.url)
        async with await p.request(b"POST", b"/", [], b"") as r:
            assert await r.read_chunk() == b"first"
            more.set()
            assert await r.read_chunk() == b"second"
            assert await r.read_chunk() is None
        assert await post(p) == (200, b"firstsecond")
        await p.close()
    assert w.connections == 1  # a chunked answer read to its end leaves the connection reusable


async def test_pieces_that_arrived_together_are_handed_over_as_one() -> None:
    async def burst(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"".join(b"7\r\nevent %d\r\n" % i for i in range(3)) + b"0\r\n\r\n")

    async with wire(burst) as w:
        p = pool(w.url)
        async with await p.request(b"POST", b"/", [], b"") as r:
            pieces = []
            while (piece := await r.read_chunk()) is not None:
                pieces.append(piece)
        await p.close()
    assert b"".join(pieces) == b"event 0event 1event 2"
    assert len(pieces) == 1  # one read off the socket, one hand-over: not one per chunk of the encoding


async def test_an_answer_framed_by_the_connections_end_is_read_whole_and_not_reused() -> None:
    async def until_close(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async with wire(until_close) as w:
        p = pool(w.url)
        assert await post(p) == (200, b"all of it")
        assert await post(p) == (200, b"all of it")
        await p.close()
    assert w.connections == 2


async def test_connection_close_in_the_answer_is_honoured() -> None:
    async def close_after(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")

    async with wire(close_after) as w:
        p = pool(w.url)
        assert await post(p) == (200, b"ok")
        assert await post(p) == (200, b"ok")
        await p.close()
    assert w.connections == 2


async def test_a_kept_alive_connection_the_upstream_closed_while_idle_is_retried_once_on_a_new_one() -> None:
    async def answer_then_close(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(OK)  # says nothing of closing: the client keeps the connection
        await writer.drain()
        writer.close()

    async with wire(answer_then_close) as w:
        p = pool(w.url)
        assert await post(p) == (200, b"{}")
        await asyncio.sleep(0.05)  # the FIN arrives while the connection is idle in the pool
        assert await post(p) == (200, b"{}")
        await p.close()
    assert w.connections == 2
    assert len(w.requests) == 2  # the request reached the upstream once


async def test_a_connection_closed_mid_answer_fails_and_is_not_sent_again() -> None:
    async def cut(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    async with wire(cut) as w:
        p = pool(w.url)
        async with await p.request(b"POST", b"/", [], b"x") as r:
            assert r.status == 200
            with pytest.raises(UpstreamHttpError, match="closed the connection mid-answer"):
                await r.read()
        await p.close()
    assert len(w.requests) == 1


async def test_a_new_connection_closed_before_the_answer_is_an_error_not_a_retry() -> None:
    async def hang_up(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.close()

    async with wire(hang_up) as w:
        p = pool(w.url)
        with pytest.raises(UpstreamHttpError, match="closed the connection without answering"):
            await post(p)
        await p.close()
    assert len(w.requests) == 1


async def test_silence_longer_than_the_read_timeout_fails_before_and_during_the_body() -> None:
    async def silent(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 2:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n")
        await asyncio.Event().wait()  # and then nothing

    async with wire(silent) as w:
        p = pool(w.url, read_timeout=0.2)
        with pytest.raises(ReadTimedOut):
            await post(p)
        async with await p.request(b"POST", b"/", [], b"") as r:
            assert await r.read_chunk() == b"one"
            with pytest.raises(ReadTimedOut):
                await r.read_chunk()
        await p.close()


async def test_a_refused_connection_and_a_connect_that_hangs() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(ConnectFailed, match="could not connect"):
            await post(pool(f"http://127.0.0.1:{port}"))
    # A listener whose backlog is full and never accepts: the kernel drops further SYNs.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                f.connect(("127.0.0.1", port))
            fillers.append(f)
        try:
            p = Http1Pool(f"http://127.0.0.1:{port}", connect_timeout=0.3, read_timeout=5)
            with pytest.raises(ConnectTimedOut, match=r"within 0\.3 s"):
                await post(p)
        finally:
            for f in fillers:
                f.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for something another task or the kernel will do (bounded: the test fails, not hangs)."""
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_call_cancelled_while_waiting_for_the_answer_closes_its_connection() -> None:
    async def no_answer(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        pass

    async with wire(no_answer) as w:
        p = pool(w.url)
        call = asyncio.ensure_future(post(p))
        await until(lambda: len(w.requests) == 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await until(lambda: w.closed == 1)  # the upstream sees the connection go
        assert not p._open and not p._idle


async def test_a_malformed_answer_is_an_error() -> None:
    async def garbage(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"SMTP ready\r\n\r\n")

    async with wire(garbage) as w:
        with pytest.raises(UpstreamHttpError, match="malformed answer"):
            await post(pool(w.url))


async def test_an_interim_answer_is_skipped() -> None:
    async def continue_then_ok(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)

    async with wire(continue_then_ok) as w:
        p = pool(w.url)
        assert await post(p) == (200, b"{}")
        await p.close()


async def test_a_slow_reader_pauses_the_upstream_loses_nothing_and_is_not_timed_out() -> None:
    size = 4 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)

    async def big(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size + payload)
        await writer.drain()

    async with wire(big) as w:
        p = pool(w.url, read_timeout=0.2)
        async with await p.request(b"POST", b"/", [], b"") as r:
            first = await r.read_chunk()
            assert first
            conn = r._conn
            assert conn is not None
            # The client does not read: the connection fills its buffer, then stops reading.
            for _ in range(200):
                if conn.paused:
                    break
                await asyncio.sleep(0.01)
            assert conn.paused
            assert conn.buffered < size - len(first)
            # A reader slower than the read timeout: the silence is ours, the upstream is not timed out.
            await asyncio.sleep(0.5)
            rest = await r.read()
        assert first + rest == payload
        await p.close()


async def test_an_answer_abandoned_midway_closes_its_connection() -> None:
    async def endless(w: Wire, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n")

    async with wire(endless) as w:
        p = pool(w.url)
        async with await p.request(b"POST", b"/", [], b"") as r:
            assert await r.read_chunk() == b"one"
        async with await p.request(b"POST", b"/", [], b"") as r:
            assert await r.read_chunk() == b"one"
        await p.close()
    assert w.connections == 2


async def test_tls_to_a_trusted_certificate_and_refused_for_an_untrusted_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with wire(ok) as w:
        front = TlsFront(w.port, tmp_path).start()
        try:
            trusted = ssl.create_default_context(cafile=str(front.ca_file))
            p = pool(front.url, ssl_context=trusted)
            assert await post(p) == (200, b"{}")
            await p.close()
            with pytest.raises(ConnectFailed):
                await post(pool(front.url))  # the system's trust: the test CA is not in it
        finally:
            front.stop()


def test_only_http_and_https_urls() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Http1Pool("ftp://example.com", connect_timeout=1, read_timeout=1)
    assert Http1Pool("https://api.openai.com/v1", connect_timeout=1, read_timeout=1).host_header == (
        b"api.openai.com"
    )
    assert Http1Pool("http://[::1]:8080", connect_timeout=1, read_timeout=1).host_header == b"[::1]:8080"


class ForwardProxy:
    """An egress proxy on loopback: CONNECT tunnels, and absolute-form requests passed on in origin
    form; it keeps each request head it was sent. ``refuse`` answers every request with it instead."""

    def __init__(self, refuse: bytes | None = None) -> None:
        self.refuse = refuse
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        if self.refuse is not None:
            writer.write(self.refuse)
            writer.close()
            return
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
        if method == b"CONNECT":
            host, port = target.rsplit(b":", 1)
            up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = urlsplit(target.decode())
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
            up_writer.write(head.replace(target, url.path.encode(), 1))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


async def test_https_through_an_egress_proxys_tunnel_with_its_credentials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with wire(ok) as w:
        front = TlsFront(w.port, tmp_path).start()
        proxy = ForwardProxy()
        proxy_port = await proxy.start()
        try:
            egress = proxy_for(front.url, {"HTTPS_PROXY": f"http://gw:s3cret@127.0.0.1:{proxy_port}"})
            trusted = ssl.create_default_context(cafile=str(front.ca_file))
            p = pool(front.url + "/v1", ssl_context=trusted, proxy=egress)
            assert await post(p) == (200, b"{}")
            assert await post(p) == (200, b"{}")  # the tunnel is kept alive like any connection
            await p.close()
        finally:
            proxy.close()
            front.stop()
    assert len(proxy.heads) == 1
    assert proxy.heads[0] == (
        b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n"
        b"proxy-authorization: Basic Z3c6czNjcmV0\r\n\r\n" % (front.port, front.port)
    )
    assert w.requests[0][0].startswith(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n")  # origin form inside
    assert b"proxy-authorization" not in w.requests[0][0]  # the credentials stop at the proxy


async def test_plain_http_through_an_egress_proxy_names_the_whole_url() -> None:
    async with wire(ok) as w:
        proxy = ForwardProxy()
        proxy_port = await proxy.start()
        try:
            p = pool(w.url, proxy=proxy_for(w.url, {"HTTP_PROXY": f"127.0.0.1:{proxy_port}"}))
            assert await post(p) == (200, b"{}")
            await p.close()
        finally:
            proxy.close()
        port = w.port
    assert proxy.heads[0].startswith(b"POST http://127.0.0.1:%d/v1/chat/completions?x=1 HTTP/1.1\r\n" % port)


async def test_a_tunnel_the_proxy_refuses_is_a_connect_failure_naming_the_proxy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = ForwardProxy(refuse=b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
    proxy_port = await proxy.start()
    try:
        egress = proxy_for("https://api.example.com", {"HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}"})
        p = pool("https://api.example.com/v1", proxy=egress)
        with pytest.raises(ConnectFailed, match=r"refused the tunnel: HTTP/1\.1 407"):
            await post(p)
    finally:
        proxy.close()
