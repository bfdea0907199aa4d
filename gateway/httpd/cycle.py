"""One request's ASGI ``receive`` and ``send``, and the framing of its answer (see :mod:`.connection`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from ..errors import GatewayError
from .wire import (
    CHUNKED,
    CLOSE,
    CONTINUE,
    KEEP_ALIVE,
    LAST_CHUNK,
    NO_BODY_STATUS,
    chunk,
    error_response,
    status_line,
)

if TYPE_CHECKING:
    from .connection import HttpConnection

_log = structlog.get_logger(__name__)


class Cycle:
    """One request's ASGI ``receive`` and ``send``, and the framing of its answer."""

    __slots__ = (
        "body",
        "bodyless",
        "buffered",
        "chunked",
        "complete",
        "conn",
        "delivered",
        "disconnected",
        "expect",
        "finished",
        "head",
        "keep_alive",
        "length",
        "refused",
        "scope",
        "sent",
        "started",
        "waiter",
    )

    def __init__(self, conn: HttpConnection, scope: dict[str, Any], keep_alive: bool, expect: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect = expect
        self.body: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.disconnected = False
        self.waiter: asyncio.Future[None] | None = None
        self.started = False
        self.finished = False
        self.head: bytes | None = None  # written with the first body bytes, or when the app yields
        self.chunked = False
        self.length: int | None = None
        self.sent = 0
        self.bodyless = False
        self.delivered = False
        self.refused = False

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        conn = self.conn
        try:
            await conn.state.app(self.scope, self.receive, self.send)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                conn._close()
                raise
            _log.exception("request_failed", path=self.scope["path"])
            self._fail()
        else:
            if not self.finished and self.disconnected:
                if not self.started:  # the body broke off (the parser's 400), or the client left
                    conn._write_refusal()
                conn._close()
            elif not self.finished:
                if self.started:  # an answer begun and never ended cannot be framed: cut it
                    _log.error("response_incomplete", path=self.scope["path"])
                else:
                    _log.error("response_missing", path=self.scope["path"])
                self._fail()

    def _fail(self) -> None:
        conn = self.conn
        if not self.started and not conn.closed and conn.transport is not None:
            self.finished = True
            conn.transport.write(error_response(GatewayError("the gateway failed to answer")))
        conn._close()

    # -- receive ---------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        if self.expect:
            self.expect = False
            conn = self.conn
            if not self.complete and not self.body and not conn.closed and conn.transport is not None:
                conn.transport.write(CONTINUE)
        while True:
            if self.disconnected or self.finished:
                return {"type": "http.disconnect"}
            if self.body or (self.complete and not self.delivered):
                chunks = self.body
                body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.body = []
                self.buffered = 0
                self.delivered = self.complete
                self.conn.resume_for(self)
                return {"type": "http.request", "body": body, "more_body": not self.complete}
            # All of the body handed over: wait for the answer's end or the client's leaving.
            await self._wait(None if self.complete else self.conn.state.stall_timeout)

    async def _wait(self, limit: float | None) -> None:
        conn = self.conn
        self.waiter = waiter = conn.loop.create_future()
        conn.resume_for(self)
        timer = None
        if limit is not None:
            timer = conn.loop.call_later(limit, self._stalled)
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

    def _stalled(self) -> None:
        """The body stopped arriving: the client is gone as far as the app is concerned."""
        if not self.complete and not self.disconnected:
            self.disconnected = True
            self.keep_alive = False
            self.wake()
            self.conn._close()

    # -- send ------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        if self.refused:  # the server answers this one (its 400), whatever the app says
            return
        kind = message["type"]
        if kind == "http.response.body":
            if not self.started or self.finished:
                raise RuntimeError("http.response.body before http.response.start or after the last body")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            conn = self.conn
            if conn.closed:  # the client left: the app learns it from receive()
                if not more:
                    self.finished = True
                return
            self._write(body, more)
            if more:
                if conn.write_paused:
                    await conn.drain()
            else:
                self.finished = True
                conn.answered(self)
        elif kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self._start(message["status"], message.get("headers", ()))
            self.started = True
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    def _start(self, status: int, headers: Any) -> None:
        conn = self.conn
        lines = [status_line(status)]
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding":
                continue
            elif name == b"connection" and value.lower() == b"close":
                self.keep_alive = False
                continue
            lines.append(name + b": " + value + b"\r\n")
        lines.append(conn.state.date_header())
        self.bodyless = self.scope["method"] == "HEAD" or status in NO_BODY_STATUS or status < 200
        if not self.complete or conn.state.closing:
            self.keep_alive = False  # the rest of the body is never read: the connection ends
        if self.keep_alive and self.scope["http_version"] == "1.0":
            # HTTP/1.0 keeps a connection only when told so, and only an answer of known length.
            if self.length is None and not self.bodyless:
                self.keep_alive = False
            else:
                lines.append(KEEP_ALIVE)
        if not self.keep_alive:
            lines.append(CLOSE)
        head = b"".join(lines)
        # One line break per line, each a CRLF: a header value holding CR or LF would split the
        # answer in two (response splitting), whoever made it.
        if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines):
            raise RuntimeError("a response header holds a line break")
        self.head = head
        conn.loop.call_soon(self._flush_head)

    def _flush_head(self) -> None:
        """The app yielded between the head and its first body bytes: send the head alone."""
        if self.head is None or self.conn.closed or self.conn.transport is None:
            return
        self.conn.transport.write(self._framed(self.head, None))
        self.head = None

    def _framed(self, head: bytes, whole: int | None) -> bytes:
        """The head, ended, with the framing the app left to the server: ``content-length`` when
        the whole body is known (``whole``: its length), else chunks (HTTP/1.1) or the
        connection's close (HTTP/1.0)."""
        if self.length is None and not self.bodyless:
            if whole is not None:
                head += b"content-length: %d\r\n" % whole
            elif self.scope["http_version"] == "1.1":
                self.chunked = True
                head += CHUNKED
            else:
                self.keep_alive = False
        return head + b"\r\n"

    def _write(self, body: bytes, more: bool) -> None:
        transport = self.conn.transport
        assert transport is not None
        head = self.head
        if self.length is not None:
            self.sent += len(body)
            if self.sent > self.length:
                raise RuntimeError("the response's body is longer than its content-length")
            if not more and self.sent < self.length:
                self.keep_alive = False  # the client will wait for bytes that never come: end it
        if self.bodyless:
            body = b""
        prefix = b""
        if head is not None:  # the first body bytes: the head goes with them, in one write
            self.head = None
            prefix = self._framed(head, None if more else len(body))
        data = prefix + chunk(body) + (b"" if more else LAST_CHUNK) if self.chunked else prefix + body
        if data:
            transport.write(data)
