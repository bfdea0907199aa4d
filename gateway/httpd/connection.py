"""One client connection: HTTP/1.1 parsed by httptools, each request served by the ASGI app in turn.

Per request the server does what ASGI needs and nothing more: one scope dict, a ``receive`` that
hands over the body as it arrived, and a ``send`` that frames the response. A response's head is not
written on ``http.response.start`` but with the first body bytes (one ``write``, one syscall, for a
plain JSON answer); if the app waits on something between the two, the head goes out when it
yields (``call_soon``), so a stream's client sees its head as soon as the gateway has it.

**Framing.** The app's ``content-length`` is kept (and held to: more bytes are an error, fewer close
the connection); without one, a single-message body gets one, and a streamed body is sent chunked
(HTTP/1.1) or until the connection closes (HTTP/1.0). The app's own ``transfer-encoding`` is
dropped: framing is the server's job. ``HEAD``, 1xx, 204 and 304 answers carry no body.

**Limits and timeouts.** A request line over :data:`MAX_URL_BYTES` is answered 414, a head over
:data:`MAX_HEAD_BYTES` or :data:`MAX_HEADERS` headers 431, unparseable bytes 400, each in the
gateway's error shape with a request id, and the connection closed. A connection that sends no
complete head within ``idle_timeout`` (a new one, or a kept-alive one between requests) is closed;
so is one whose body stalls for ``stall_timeout`` while the app waits for it, and one that reads
nothing of an answer for ``stall_timeout`` while the app has more to send (either way the app
sees ``http.disconnect``). Reading pauses while :data:`BODY_HIGH_WATER` bytes of a body wait
unread, and while a pipelined request waits its turn; ``send`` waits while the socket's buffer is
full.

**Pipelining.** Requests on one connection are answered in order: the next starts when the one
before has sent its last byte. A request whose body was not all read when its answer ended, an
``Upgrade`` (served as a plain request: nothing here speaks another protocol) and ``connection:
close`` end the connection after the answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import httptools
import structlog

from ..errors import BadRequest, GatewayError, RequestHeadersTooLarge
from .cycle import Cycle
from .wire import error_response

_log = structlog.get_logger(__name__)

MAX_URL_BYTES = 16 * 1024
MAX_HEAD_BYTES = 80 * 1024
"""Request line and headers together. The app refuses past 100 headers or 64 KiB of them with its
own 431 (``gateway.app``); this bound only keeps the parser's memory bounded before it can."""
MAX_HEADERS = 256
BODY_HIGH_WATER = 256 * 1024

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.3"}


class ServerState:
    """What all connections of one worker share: the app, the settings, the open connections."""

    def __init__(self, app: App, *, idle_timeout: float = 75.0, stall_timeout: float = 60.0) -> None:
        self.app = app
        self.idle_timeout = idle_timeout
        self.stall_timeout = stall_timeout
        self.connections: set[HttpConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.lifespan_state: dict[str, Any] = {}
        self.closing = False
        self.all_closed = asyncio.Event()
        self._second = 0
        self._date = b""

    def date_header(self) -> bytes:
        """``date: ...\\r\\n`` (RFC 9110 asks an origin server with a clock for it), once a second."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._date = b"date: " + email.utils.formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._date

    def shut(self) -> None:
        """Stop serving: idle connections close now, busy ones after their current answer."""
        self.closing = True
        for conn in list(self.connections):
            conn.close_if_idle()
        if not self.connections:
            self.all_closed.set()


class _Refused(Exception):
    """A request refused while its head is parsed (the parser's callbacks cannot answer)."""

    def __init__(self, err: GatewayError) -> None:
        self.err = err


INVALID_REQUEST = BadRequest(
    "the request is not valid HTTP/1.1 (request line, headers, content-length or chunked encoding)"
)


class HttpConnection(asyncio.Protocol):
    """asyncio's protocol for one connection; the parser calls its ``on_*`` methods."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.loop = loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.serving: Cycle | None = None  # the request being answered
        self.reading: Cycle | None = None  # the request whose body is being read (may be queued)
        self.queued: deque[Cycle] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.read_paused = False
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._expect = False
        self.refusal: bytes | None = None  # the answer to a refused request, after the one before

    # -- asyncio ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        self.state.connections.add(self)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Served as a plain request; whatever follows the head is another protocol's and is
            # never read: the connection ends with this answer.
            if self.reading is not None:
                self.reading.keep_alive = False
                self.reading.complete = True
                self.reading.wake()
            self._pause_reading()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.err)
            else:  # a fault of ours, not of the request
                _log.error("request_head_failed", exc_info=cause)
                self._refuse(GatewayError("the gateway failed to read the request"))
        except httptools.HttpParserError:
            self._refuse(INVALID_REQUEST)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        state = self.state
        state.connections.discard(self)
        if state.closing and not state.connections:
            state.all_closed.set()
        for cycle in (self.serving, self.reading):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        self.queued.clear()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def eof_received(self) -> bool | None:
        # The client's end of the connection: it has left (a half-close is not told apart; an
        # HTTP client that stops sending has gone), and the app's receive() says so.
        return None

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._expect = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL_BYTES:
            too_long = f"the request line's target exceeds {MAX_URL_BYTES} bytes"
            raise _Refused(BadRequest(too_long, code="uri_too_long", status=414))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES or len(self._headers) >= MAX_HEADERS:
            raise _Refused(
                RequestHeadersTooLarge(
                    f"the request's head exceeds {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} headers"
                )
            )
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._cancel_timer()
        parser = self.parser
        try:
            raw_path, query = _target(self._url)
            path = raw_path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError, ValueError):
            raise _Refused(BadRequest("the request's target is not a valid URL")) from None
        if "%" in path:
            path = unquote(path)
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": parser.get_http_version(),
            "server": self.server,
            "client": self.client,
            "scheme": "http",
            "method": parser.get_method().decode("ascii"),
            "root_path": "",
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
            "state": self.state.lifespan_state.copy(),
        }
        cycle = Cycle(self, scope, parser.should_keep_alive(), self._expect)
        self.reading = cycle
        if self.serving is None:
            self._serve(cycle)
        else:
            self.queued.append(cycle)
            self._pause_reading()

    def on_body(self, body: bytes) -> None:
        cycle = self.reading
        if cycle is None:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > BODY_HIGH_WATER:
            self._pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.reading
        if cycle is not None:
            cycle.complete = True
            cycle.wake()
            self.reading = None

    # -- serving ---------------------------------------------------------------------------

    def _serve(self, cycle: Cycle) -> None:
        self.serving = cycle
        task = self.loop.create_task(cycle.run())
        # The loop keeps only a weak reference to a task: this one is held until it ends.
        tasks = self.state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def answered(self, cycle: Cycle) -> None:
        """The last byte of ``cycle``'s answer is written: close, or serve what comes next."""
        cycle.wake()  # a receive() waiting past the body now sees http.disconnect
        if not cycle.keep_alive or not cycle.complete or self.state.closing:
            self._close()
            return
        self.serving = None
        if self.queued:
            self._serve(self.queued.popleft())
        elif self.refusal is not None:
            self._write_refusal()
            return
        else:
            self._arm_idle()
        self._resume_reading()

    def close_if_idle(self) -> None:
        if self.serving is None:
            self._close()

    def _refuse(self, err: GatewayError) -> None:
        """Answer a request the parser refused, once any answer before it is out; then close."""
        self.parser = httptools.HttpRequestParser(self)  # nothing more is parsed on this one
        broken = self.reading
        if broken is not None:  # its body broke off: to its app the client has left; the 400 is ours
            broken.refused = not broken.started
            broken.disconnected = True
            broken.keep_alive = False
            broken.wake()
        self.reading = None
        self._pause_reading()
        self.refusal = error_response(err)
        if self.serving is None:
            self._write_refusal()

    def _write_refusal(self) -> None:
        if self.refusal is not None and self.transport is not None and not self.closed:
            self.transport.write(self.refusal)
        self._close()

    def _close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    # -- flow control ----------------------------------------------------------------------

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and not self.queued and self.refusal is None and not self.closed:
            reading = self.reading
            if reading is None or reading.buffered <= BODY_HIGH_WATER:
                self.read_paused = False
                assert self.transport is not None
                self.transport.resume_reading()

    def resume_for(self, cycle: Cycle) -> None:
        """``cycle`` took its buffered body: read on if it is the request being read."""
        if cycle is self.reading:
            self._resume_reading()

    async def drain(self) -> None:
        """Wait while the client is not reading; one that reads nothing for ``stall_timeout`` is
        cut off, so that it cannot hold its call (and the upstream's connection) forever."""
        if self.write_paused and not self.closed:
            if self.drained is None or self.drained.done():
                self.drained = self.loop.create_future()
            timer = self.loop.call_later(self.state.stall_timeout, self._stalled_reader)
            try:
                await self.drained
            finally:
                timer.cancel()

    def _stalled_reader(self) -> None:
        if self.write_paused and self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()  # close() would wait, for ever, to write what is buffered

    # -- timers ----------------------------------------------------------------------------

    def _arm_idle(self) -> None:
        self._cancel_timer()
        self.timer = self.loop.call_later(self.state.idle_timeout, self._close)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return None


def _target(url: bytes) -> tuple[bytes, bytes]:
    """The path and query of a request target: origin form (``/p?q``), absolute form or ``*``."""
    if url[:1] == b"/":
        path, _, query = url.partition(b"?")
        path = path.partition(b"#")[0]
        return path, query.partition(b"#")[0]
    if url == b"*":
        return url, b""
    parsed = httptools.parse_url(url)
    return parsed.path or b"/", parsed.query or b""
