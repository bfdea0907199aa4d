"""Batched audit appends, for entries recorded where no transaction is open (a refusal on the hot
path, an access to the control plane, a policy reload): in memory first, then appended in batches
of up to ``batch_size`` per transaction, every ``flush_interval``, as the usage ledger is written.

A change that has a transaction of its own (a KYC decision, a key) appends its entry in it instead
(:func:`gateway.audit.log.append`): logged exactly when it commits. Here, while the database is
down, entries stay buffered; past ``max_buffer`` and at shutdown they go to a spool file (0600)
under the state folder, appended at the next start, in the order they were recorded. A spool the
disk refuses (full) leaves the entries in memory, tried again at the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import asyncpg
import msgspec
import structlog

from ..spool import spool_folder, write_spool_file
from . import log
from .entry import AuditEntry, canonical

_log = structlog.get_logger("gateway.audit")
_decode = msgspec.json.Decoder(AuditEntry).decode
_SPOOL = "audit-*.jsonl"


class AuditWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        spool_dir: Path,
        *,
        batch_size: int = 256,
        flush_interval: float = 0.25,
        max_buffer: int = 100_000,
    ) -> None:
        self._pool = pool
        self._spool_dir = spool_dir
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_buffer = max_buffer
        self._buffer: list[AuditEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.spooled = 0

    def record(self, entry: AuditEntry) -> None:
        """Accept an entry (refused at once if it cannot be logged as it is)."""
        canonical(entry)
        self._buffer.append(entry)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    @property
    def depth(self) -> int:
        return len(self._buffer)

    async def start(self) -> None:
        spool_folder(self._spool_dir)
        await self.replay_spool()
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Append everything accepted; spool what the database does not take."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._buffer:
            if not await self.flush_once() and not self._spool():
                _log.error("audit_entries_unsaved", entries=len(self._buffer))
                break

    async def _run(self) -> None:
        backoff = self._interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            ok = True
            while self._buffer and ok and not self._closing:
                ok = await self.flush_once()
            backoff = self._interval if ok else min(backoff * 2, 5.0)
            if not ok and len(self._buffer) > self._max_buffer:
                self._spool()

    async def flush_once(self) -> bool:
        batch = self._buffer[: self._batch_size]
        try:
            async with self._pool.acquire(timeout=5) as conn:
                await log.append(conn, batch)
        except Exception as exc:
            _log.warning("audit_append_failed", error=type(exc).__name__, buffered=len(self._buffer))
            return False
        del self._buffer[: len(batch)]
        self.written += len(batch)
        return True

    def _spool(self) -> bool:
        """The buffer to a spool file, fsynced; False (the entries kept) if the disk refuses."""
        path = self._spool_dir / f"audit-{time.time_ns()}-{os.getpid()}.jsonl"
        try:
            spool_folder(self._spool_dir)
            write_spool_file(path, (msgspec.json.encode(entry) + b"\n" for entry in self._buffer))
        except OSError as exc:
            _log.error("audit_spool_failed", entries=len(self._buffer), error=exc.strerror)
            return False
        self.spooled += len(self._buffer)
        _log.error("audit_spooled", entries=len(self._buffer), file=path.name)
        self._buffer.clear()
        return True

    async def replay_spool(self) -> int:
        """Append spooled entries, oldest file first, and delete each file once it is in."""
        replayed = 0
        for path in sorted(self._spool_dir.glob(_SPOOL)):
            entries = [_decode(line) for line in path.read_bytes().splitlines() if line.strip()]
            for i in range(0, len(entries), self._batch_size):
                async with self._pool.acquire(timeout=5) as conn:
                    await log.append(conn, entries[i : i + self._batch_size])
            path.unlink()
            replayed += len(entries)
        if replayed:
            _log.info("audit_spool_replayed", entries=replayed)
        return replayed
