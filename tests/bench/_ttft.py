"""Time to first token: how long a streamed answer takes to show its first event, one call at a time.

wrk times whole responses; a user of a streamed completion waits for the first event. This client
is a plain blocking socket on one kept-alive connection (nothing of ours in the measuring path):
it sends the streamed request, notes when the first ``data:`` line arrives, then reads the rest to
the end of the chunked body so the connection can carry the next call.
"""

from __future__ import annotations

import socket
import statistics
import time
from urllib.parse import urlsplit

_END = b"0\r\n\r\n"


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
            start = time.perf_counter()
            sock.sendall(request)
            seen = b""
            first: float | None = None
            while True:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError(f"{url}: the connection closed mid-answer")
                seen += data
                if first is None and b"data:" in seen:
                    first = time.perf_counter()
                if seen.endswith(_END):
                    break
            if not seen.startswith(b"HTTP/1.1 200"):
                status = seen.split(b"\r\n", 1)[0].decode(errors="replace")
                raise RuntimeError(f"{url}: {status}")
            if first is not None and i >= warmup:
                times.append((first - start) * 1000.0)
    return statistics.median(times)
