"""The usage events' journal: each event is appended to a file under the state folder before its
response's last byte is sent, so that a gateway killed outright (SIGKILL, the OOM killer, a node
drained without grace) loses none of the calls it served. The writer deletes a journal file once all
of its events are in the database (or in the spool, fsynced); at start, the files a dead process left
are replayed like the spool (an event already written is skipped) and deleted.

One ``os.write`` of an encoded line per call, to the page cache: a killed process's writes are kept
by the kernel. Only a crash of the whole host can lose the last moments' lines, which no fsync per
call is paid to prevent.

A write that fails (a full disk) leaves its event in memory only, on its way to the database: the
journal remembers which events those are (:attr:`Journal.missed`), so that the writer knows how long
an event has been kept nowhere else and can refuse calls when that lasts (``writer.py``). Events are
numbered in the order they are offered, which is the order the writer consumes them in: a file goes
once every event up to its last is consumed, whatever failed in between.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from ..spool import SPOOL_FILE_MODE, spool_folder

__all__ = ["Journal", "leftovers"]

_log = structlog.get_logger(__name__)
PREFIX = "journal-usage"


class _Segment:
    __slots__ = ("fd", "last", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.last = 0  # the number of the last event written to it (0: none)


class Journal:
    """The current segment, and the closed ones whose events are not all in the database yet."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self._clock = clock
        self._active: _Segment | None = None
        self._closed: collections.deque[_Segment] = collections.deque()
        self._offered = 0  # events offered so far, journaled or not: the last one's number
        self._done = 0  # the events numbered up to this are in the database or the spool
        self._torn = False  # the active segment ends in part of a line (a short write)
        self.missed: collections.deque[tuple[int, float]] = collections.deque()
        """Events not journaled and not yet consumed: (number, when), oldest first."""
        self.failures = 0
        self.error: str | None = None
        """Why the last write failed, while writes fail; None once one succeeds."""

    def open(self) -> None:
        """The first segment. A folder that takes no new file (a full disk) leaves the journal
        without one: events are missed until :meth:`rotate` manages to open it."""
        spool_folder(self.folder)
        try:
            self._active = self._new_segment()
        except OSError as exc:
            self._failed(exc.strerror or "cannot open a segment")

    def _new_segment(self) -> _Segment:
        path = self.folder / f"{PREFIX}-{time.time_ns()}-{os.getpid()}.jsonl"
        # Readable by the gateway's user only; a new name each time, O_EXCL against a planted one.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, SPOOL_FILE_MODE)
        return _Segment(path, fd)

    def append(self, line: bytes) -> bool:
        """Write one event's line; False if it is not on disk (kept in :attr:`missed`)."""
        self._offered += 1
        active = self._active
        if active is None:
            self.missed.append((self._offered, self._clock()))
            return False
        if self._torn:  # end the partial line a short write left, so that this one stands alone
            line = b"\n" + line
        try:
            written = os.write(active.fd, line)
        except OSError as exc:
            self.missed.append((self._offered, self._clock()))
            self._failed(exc.strerror or "write failed")
            return False
        if written < len(line):  # the disk filled mid-line: replay skips the part that got there
            self._torn = self._torn or written > 0
            self.missed.append((self._offered, self._clock()))
            self._failed("short write (No space left on device?)")
            return False
        self._torn = False
        active.last = self._offered
        if self.error is not None:
            _log.warning("ledger_journal_writing_again", failures=self.failures)
            self.error = None
        return True

    def _failed(self, reason: str) -> None:
        self.failures += 1
        if self.error is None or self.failures % 10_000 == 0:
            _log.error("ledger_journal_failed", error=reason, failures=self.failures)
        self.error = reason

    def rotate(self) -> None:
        """Start a new segment (the writer does before each flush): the old one can go as soon as
        its events are in, while new calls go on being journaled. If no new file can be made (a
        full disk), the current segment goes on."""
        active = self._active
        if active is not None and active.last <= self._done:
            return  # nothing in it waits for the database
        try:
            fresh = self._new_segment()
        except OSError as exc:
            if active is None and self.error is None:
                self._failed(exc.strerror or "cannot open a segment")
            return
        if active is not None:
            os.close(active.fd)
            self._closed.append(active)
        self._active = fresh
        self._torn = False

    def consumed(self, count: int) -> None:
        """The ``count`` oldest events offered and not yet consumed are in the database (or the
        spool): the files whose events are all in go."""
        self._done = done = min(self._done + count, self._offered)
        missed = self.missed
        while missed and missed[0][0] <= done:
            missed.popleft()
        while self._closed and self._closed[0].last <= done:
            _unlink(self._closed.popleft().path)

    @property
    def exposed_since(self) -> float | None:
        """When the oldest event kept in memory only (not journaled, not yet consumed) was offered."""
        return self.missed[0][1] if self.missed else None

    def close(self) -> None:
        """At shutdown, everything written: the files whose events are all in go."""
        for segment in self._closed:
            if segment.last <= self._done:
                _unlink(segment.path)
        self._closed.clear()
        if self._active is not None:
            os.close(self._active.fd)
            if self._active.last <= self._done:
                _unlink(self._active.path)
            self._active = None

    @property
    def pending(self) -> int:
        """Events journaled and not yet consumed."""
        return self._offered - self._done - len(self.missed)


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
