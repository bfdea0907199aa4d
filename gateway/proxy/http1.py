"""The upstream client: HTTP/1.1 on the event loop itself, parsed by httptools (llhttp).

Why not a general client: the data plane makes one kind of call (a POST with a body in memory,
to a few upstreams, over kept-alive connections, the answer passed on chunk by chunk), and the
general clients cost most of the gateway's CPU per request doing more. Measured side by side in
one run (tests/bench/README.md, ``bench_proxy.py --bare``): a Rust client beside the event loop
(pyreqwest) pays a hand-off between threads per read; this one reads where the loop already is.

What it does: a pool of kept-alive connections per upstream (LIFO, idle ones closed after
``idle_timeout``), TLS where the URL says ``https``, a connect timeout and a read timeout (the
longest silence between two reads), bodies framed by Content-Length, chunked encoding or the
connection's end, back-pressure (reading pauses while a slow caller has ``_HIGH_WATER`` bytes
unread), and one retry, on a fresh connection, of a call whose kept-alive connection turned out
to be closed before a byte of the answer came (the upstream closed it while idle; nothing was
processed, so sending it again is safe). It follows no redirects and decodes no content.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from urllib.parse import urlsplit

import httptools

from .egress import EgressProxy

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


class UpstreamHttpError(Exception):
    """The call failed on the way: no answer, or an answer cut short or malformed."""


class ConnectFailed(UpstreamHttpError):
    """The upstream refused the connection, or its name did not resolve."""


class ConnectTimedOut(UpstreamHttpError):
    """No connection within ``connect_timeout``."""


class ReadTimedOut(UpstreamHttpError):
    """The upstream was silent for ``read_timeout`` while an answer was owed."""


class _Stale(Exception):
    """A reused connection closed before the answer began: the call may go again."""


class Response:
    """An answer's status and headers, its body read as it arrives (``read_chunk``, ``read``).

    ``close()`` (or leaving ``async with``) before the end abandons the connection.
    """

    __slots__ = ("_conn", "headers", "status")

    def __init__(self, conn: _Connection, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._conn: _Connection | None = conn
        self.status = status
        self.headers = headers
        """As received, names lower-cased."""

    async def read_chunk(self) -> bytes | None:
        """The next piece of the body as it came off the wire; None at its end."""
        conn = self._conn
        if conn is None:
            return None
        chunk = await conn.next_chunk()
        if chunk is None:
            self._conn = None
        return chunk

    async def read(self) -> bytes:
        parts = []
        while (chunk := await self.read_chunk()) is not None:
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abandon()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer, hands the body out piece by piece."""

    def __init__(self, pool: Http1Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.reused = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.began = False
        self.head: asyncio.Future[None] | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = False
        self.error: Exception | None = None
        self.paused = False
        self.until_close = True  # no Content-Length, not chunked: the body ends with the connection
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- the caller's side ---------------------------------------------------------------

    async def send(self, request: bytes) -> Response:
        assert self.transport is not None
        self.head = self.loop.create_future()
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self.last_read + self.pool.read_timeout, self._check_silence)
        self.transport.write(request)
        try:
            await self.head
        except BaseException:
            # Failed, or the caller was cancelled (its client left): nobody will read this answer,
            # and a connection with an answer still coming can serve no one else.
            self._close()
            raise
        return Response(self, self.parser.get_status_code(), self.headers)

    async def next_chunk(self) -> bytes | None:
        while not self.chunks:
            if self.complete:
                self._finished()
                return None
            if self.error is not None:
                raise self.error
            self.waiter = self.loop.create_future()
            await self.waiter
        # What has arrived goes on at once, as one piece: a burst of events is one send, not one each.
        chunks = self.chunks
        if len(chunks) == 1:
            chunk = chunks.popleft()
        else:
            chunk = b"".join(chunks)
            chunks.clear()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= _LOW_WATER and self.transport is not None:
            self.paused = False
            self.last_read = self.loop.time()  # the upstream's silence is counted from here again
            self.transport.resume_reading()
        return chunk

    def abandon(self) -> None:
        """The caller stops reading: the rest of this answer is not wanted, nor the connection."""
        if not (self.complete and not self.chunks):
            self._close()
        else:
            self._finished()

    def _finished(self) -> None:
        self._stop_timer()
        keep = self.error is None and self.keep_alive
        self._reset()
        if keep and self.transport is not None and not self.transport.is_closing():
            self.pool.release(self)
        else:
            self._close()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _close(self) -> None:
        self._stop_timer()
        if self.transport is not None:
            self.transport.close()

    # -- the wire's side -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.head is None or self.complete:  # bytes beyond an answer: not HTTP as we speak it
            self._close()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamHttpError(f"malformed answer: {exc}"))
            self._close()

    def on_message_begin(self) -> None:
        self.began = True

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self.until_close = False
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # 1xx: an interim answer; the real one follows
            self.headers = []
            return
        head = self.head
        if head is not None and not head.done():
            head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            return
        self.complete = True
        # Asked now: once the message is over, llhttp answers False whatever the headers said.
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool.forget(self)
        self._stop_timer()
        if self.head is None or self.complete:
            return
        if self.until_close and self.began and self.head.done():
            self.complete = True  # the body was framed by the connection's end: this is its end
            self._wake()
            return
        if not self.began and self.reused:
            self._fail(_Stale())
        elif not self.began:
            self._fail(UpstreamHttpError("the upstream closed the connection without answering"))
        else:
            self._fail(UpstreamHttpError("the upstream closed the connection mid-answer"))

    def _check_silence(self) -> None:
        self.timer = None
        if self.head is None or self.complete:
            return
        due = self.last_read + self.pool.read_timeout
        if self.paused:  # we stopped reading (a slow caller), not the upstream: not its silence
            due = self.loop.time() + self.pool.read_timeout
        if self.loop.time() < due:
            self.timer = self.loop.call_at(due, self._check_silence)
            return
        self._fail(ReadTimedOut(f"no answer for {self.pool.read_timeout:g} s"))
        self._close()

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        head = self.head
        if head is not None and not head.done():
            head.set_exception(error)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)


class _TunnelHandshake(asyncio.Protocol):
    """The proxy's answer to CONNECT: its status line, once its head is in (it sends no body)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, where: str) -> None:
        self.answer: asyncio.Future[str] = loop.create_future()
        self.where = where
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer and not self.answer.done():
            self.answer.set_result(self.buffer.split(b"\r\n", 1)[0].decode("latin-1"))
        elif len(self.buffer) > 16384 and not self.answer.done():
            self.answer.set_exception(ConnectFailed(f"{self.where}: an answer to CONNECT without end"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(ConnectFailed(f"{self.where} closed the connection before the tunnel"))


class Http1Pool:
    """Kept-alive connections to one upstream origin (scheme, host, port)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        idle_timeout: float = 60.0,
        max_idle: int = 256,
        ssl_context: ssl.SSLContext | None = None,
        proxy: EgressProxy | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = (host if default_port else f"{host}:{self.port}").encode("idna")
        self.proxy = proxy
        # Through a proxy, a plain-HTTP call names its whole URL (RFC 9112 3.2.2, absolute form);
        # an https one goes through a CONNECT tunnel and is written as if direct.
        self._absolute = b"http://" + self.host_header if proxy is not None and self.ssl is None else b""
        self._proxy_auth: list[bytes] = []
        if self._absolute and proxy is not None and proxy.authorization is not None:
            self._proxy_auth = [b"proxy-authorization: ", proxy.authorization, b"\r\n"]
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self._idle: collections.deque[_Connection] = collections.deque()
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def request(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Response:
        """Send one request; returns once the answer's head has come (read its body after)."""
        head = [method, b" ", self._absolute, target, b" HTTP/1.1\r\nhost: ", self.host_header]
        head += [b"\r\ncontent-length: ", str(len(body)).encode(), b"\r\n", *self._proxy_auth]
        for name, value in headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        request = b"".join(head) + body
        conn = self._reuse()
        if conn is not None:
            try:
                return await conn.send(request)
            except _Stale:
                pass  # closed by the upstream while idle: once more, on a new connection
        conn = await self._connect()
        try:
            return await conn.send(request)
        except _Stale:  # a new connection is never reused; kept for the type checker's sake
            raise UpstreamHttpError("the upstream closed the connection") from None

    def _reuse(self) -> _Connection | None:
        now = self.loop.time()
        idle = self._idle
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed
            fresh = now - conn.idle_since < self.idle_timeout
            if fresh and conn.transport is not None and not conn.transport.is_closing():
                conn.reused = True
                return conn
            conn._close()
        return None

    async def _connect(self) -> _Connection:
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.proxy is not None and self.ssl is not None:
                    conn = await self._tunnel(self.proxy)
                else:
                    host, port = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
                    _, conn = await self.loop.create_connection(
                        lambda: _Connection(self),
                        host,
                        port,
                        ssl=self.ssl,
                        server_hostname=self.host if self.ssl is not None else None,
                    )
        except TimeoutError:
            raise ConnectTimedOut(f"no connection to {where} within {self.connect_timeout:g} s") from None
        except OSError as exc:
            raise ConnectFailed(f"could not connect to {where}: {exc.strerror or exc}") from None
        self._open.add(conn)
        return conn

    async def _tunnel(self, proxy: EgressProxy) -> _Connection:
        """A TLS connection to the upstream through the proxy's CONNECT tunnel."""
        assert self.ssl is not None
        where = f"the egress proxy {proxy.host}:{proxy.port}"
        raw, handshake = await self.loop.create_connection(
            lambda: _TunnelHandshake(self.loop, where), proxy.host, proxy.port
        )
        try:
            host = f"[{self.host}]" if ":" in self.host else self.host
            authority = f"{host}:{self.port}".encode("idna")
            ask = [b"CONNECT ", authority, b" HTTP/1.1\r\nhost: ", authority, b"\r\n"]
            if proxy.authorization is not None:
                ask += [b"proxy-authorization: ", proxy.authorization, b"\r\n"]
            raw.write(b"".join([*ask, b"\r\n"]))
            status_line = await handshake.answer
            fields = status_line.split(" ", 2)
            if len(fields) < 2 or not fields[1].startswith("2"):
                raise ConnectFailed(f"{where} refused the tunnel: {status_line}")
            conn = _Connection(self)
            transport = await self.loop.start_tls(raw, conn, self.ssl, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        assert transport is not None
        conn.connection_made(transport)
        return conn

    def release(self, conn: _Connection) -> None:
        conn.idle_since = self.loop.time()
        self._idle.append(conn)
        if len(self._idle) > self.max_idle:
            self._idle.popleft()._close()

    def forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        with contextlib.suppress(ValueError):  # not idle: it was in use
            self._idle.remove(conn)

    async def close(self) -> None:
        for conn in list(self._open):
            conn._close()
        self._idle.clear()

    def __repr__(self) -> str:
        return f"Http1Pool({self.host}:{self.port}, idle={len(self._idle)}, open={len(self._open)})"
