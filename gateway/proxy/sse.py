"""Server-sent events, split from a byte stream without buffering more than one event."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class EventSplitter:
    """Feed chunks, get back complete events (each with its terminating blank line)."""

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._tail + chunk if self._tail else chunk
        events: list[bytes] = []
        start = 0
        for m in _BOUNDARY.finditer(data):
            events.append(data[start : m.end()])
            start = m.end()
        self._tail = data[start:]
        return events

    def rest(self) -> bytes:
        """Whatever is left when the stream ends (an unterminated last event)."""
        tail, self._tail = self._tail, b""
        return tail


def event_data(event: bytes) -> bytes:
    """The joined ``data:`` lines of one event."""
    # Most events are one ``data: ...`` line (every OpenAI chunk): sliced, 0.5 µs, not 3 µs split.
    if (
        event.startswith(b"data: ")
        and event.find(b"\n") == len(event) - 2
        and event.endswith(b"\n\n")
        and b"\r" not in event
        and event[6:7] != b" "
    ):
        return event[6:-2]
    return _joined_data_lines(event)


def _joined_data_lines(event: bytes) -> bytes:
    lines = [line[5:].lstrip(b" ") if line.startswith(b"data:") else None for line in event.splitlines()]
    return b"\n".join(x for x in lines if x is not None)
