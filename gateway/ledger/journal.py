"""The usage events' journal: each event is appended to a file under the state folder before its
response's last byte is sent, so that a gateway killed outright (SIGKILL, the OOM killer, a node
drained without grace) loses none of the calls it served. The writer deletes a journal file once all
of its events are in the database (or in the spool, fsynced); at start, the files a dead process left
are replayed like the spool (an event already written is skipped) and deleted.

One ``os.write`` of an encoded line per call, to the page cache: a killed process's writes are kept
by the kernel. Only a crash of the whole host can lose the last moments' lines, which no fsync per
call is paid to prevent. A write that fails (a full disk) is counted and logged; the event is still
in memory, on its way to the database.
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

import structlog

from ..spool import SPOOL_FILE_MODE, spool_folder

__all__ = ["Journal", "leftovers"]

_log = structlog.get_logger(__name__)
PREFIX = "journal-usage"


class _Segment:
    __slots__ = ("fd", "path", "remaining")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.remaining = 0  # events written to it and not yet in the database


class Journal:
    """The current segment, and the closed ones whose events are not all in the database yet."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._active: _Segment | None = None
        self._closed: collections.deque[_Segment] = collections.deque()
        self.failures = 0

    def open(self) -> None:
        spool_folder(self.folder)
        self._active = self._new_segment()

    def _new_segment(self) -> _Segment:
        path = self.folder / f"{PREFIX}-{time.time_ns()}-{os.getpid()}.jsonl"
        # Readable by the gateway's user only; a new name each time, O_EXCL against a planted one.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, SPOOL_FILE_MODE)
        return _Segment(path, fd)

    def append(self, line: bytes) -> None:
        active = self._active
        if active is None:
            return
        try:
            os.write(active.fd, line)
        except OSError as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 10_000 == 0:
                _log.error("ledger_journal_failed", error=exc.strerror, failures=self.failures)
            return
        active.remaining += 1

    def rotate(self) -> None:
        """Start a new segment (the writer does before each flush): the old one can go as soon as
        its events are in, while new calls go on being journaled."""
        active = self._active
        if active is None or active.remaining == 0:
            return
        os.close(active.fd)
        self._closed.append(active)
        self._active = self._new_segment()

    def consumed(self, count: int) -> None:
        """The ``count`` oldest journaled events are in the database (or the spool): their files go."""
        while count and self._closed:
            segment = self._closed[0]
            taken = min(count, segment.remaining)
            segment.remaining -= taken
            count -= taken
            if segment.remaining == 0:
                _unlink(segment.path)
                self._closed.popleft()
        if count and self._active is not None:
            self._active.remaining = max(0, self._active.remaining - count)

    def close(self) -> None:
        """At shutdown, everything written: the files whose events are all in go."""
        for segment in self._closed:
            if segment.remaining == 0:
                _unlink(segment.path)
        self._closed.clear()
        if self._active is not None:
            os.close(self._active.fd)
            if self._active.remaining == 0:
                _unlink(self._active.path)
            self._active = None

    @property
    def pending(self) -> int:
        return sum(s.remaining for s in self._closed) + (self._active.remaining if self._active else 0)


def leftovers(folder: Path) -> list[Path]:
    """Journal files of processes that are gone (or of this process's pid in an earlier life: it has
    written none yet): their events may not all be in the database. A live sibling's are left alone."""
    found = []
    for path in sorted(folder.glob(f"{PREFIX}-*.jsonl")):
        try:
            pid = int(path.stem.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or not _alive(pid):
            found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        # A killed process whose parent died too may linger as a zombie nobody reaps (a container
        # without an init): it still answers kill(0), but it writes nothing more.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = None
    if state is not None:
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge, so not ours to replay
    return True


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
