"""Time to first token: how long a streamed answer takes to show its first event, one call at a time.

wrk times whole responses; a user of a streamed completion waits for the first event. This client
is a plain blocking socket on one kept-alive connection (nothing of ours in the measuring path):
it sends the streamed request, notes when the first ``data:`` line arrives, then reads the rest to
the end of the answer (framed by llhttp, through httptools) so the connection carries the next call.
"""

from __future__ import annotations

import socket
import statistics
import time
from urllib.parse import urlsplit

import httptools


class _Answer:
    """httptools (llhttp) callbacks: when the first event came, and when the answer ended."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.done = False
        self.body = b""

    def on_body(self, body: bytes) -> None:
        if self.first is None:
            self.body += body
            if b"data:" in self.body:
                self.first = time.perf_counter()

    def on_message_complete(self) -> None:
        self.done = True


def first_event_ms(url: str, body: bytes, api_key: str, calls: int = 300, warmup: int = 30) -> float:
    """The median, over ``calls`` sequential streamed calls, of milliseconds to the first event."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {api_key}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    times: list[float] = []
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(warmup + calls):
            answer = _Answer()
            parser = httptools.HttpResponseParser(answer)
            start = time.perf_counter()
            sock.sendall(request)
            while not answer.done:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"{url}: the connection closed mid-answer")
                parser.feed_data(data)
            if parser.get_status_code() != 200:
                raise RuntimeError(f"{url}: status {parser.get_status_code()}")
            if answer.first is not None and i >= warmup:
                times.append((answer.first - start) * 1000.0)
    return statistics.median(times)
