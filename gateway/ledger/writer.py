"""Batch writer for the ledger: usage events, compute events and call features.

Requests append to an in-memory buffer (no I/O on the hot path); a background task COPYs
batches into ``usage_events``, and settled cluster jobs into ``compute_events``, and each call's
features (``gateway/detect/``, extracted off the hot path) into ``call_features``, the same way.
While the database is down events stay buffered; past ``max_buffer`` and at shutdown, whatever
cannot be written is appended to a spool file under the state folder and replayed at the next
start. An accepted event is therefore written once the database is back, or on disk. With the
journal on (``ledger_journal``), each usage event is also on disk from the moment it is recorded,
so that not even a killed process loses one (``journal.py``).

**A full disk.** While the database takes events, a journal that cannot write costs only what a
kill would lose of the last moments (the events wait in memory for the next flush, a fraction of
a second): the gateway serves on and says so (:meth:`LedgerWriter.health`, a metric, a log line).
When a usage event can be kept neither on disk nor in the database (not journaled, and the
database failing or not taking it for ``grace`` seconds; or, without the journal, the spool failing
while the database is down), :attr:`LedgerWriter.accepting` turns False and calls are refused
(503 ``ledger_unavailable``, ``proxy/stages.py``) rather than served unrecorded. The writer tries to
spool what it holds at every round meanwhile; as soon as the spool or the database takes it,
calls are accepted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import structlog

from ..detect.features import FEATURE_COLUMNS, CallFeatures
from ..errors import ServiceUnavailable
from ..spool import spool_folder, write_spool_file
from .copy_binary import Unencodable, features_copy
from .events import COMPUTE_COLUMNS, USAGE_COLUMNS, ComputeEvent, UsageEvent
from .journal import Journal, leftovers

_log = structlog.get_logger(__name__)
_encode_line = msgspec.json.Encoder().encode


# PostgreSQL types of each table's columns, in order (for the tolerant insert's unnest()).
_USAGE_TYPES = (
    "uuid", "timestamptz", "uuid", "uuid", "text", "text", "text", "text", "boolean", "integer",
    "text", "integer", "integer", "boolean", "double precision", "bigint", "bigint", "inet", "text", "text",
)  # fmt: skip
_COMPUTE_TYPES = (
    "uuid", "timestamptz", "uuid", "uuid", "text", "text", "text", "text", "text", "integer",
    "timestamptz", "timestamptz", "double precision", "double precision", "double precision",
    "double precision", "double precision", "double precision", "boolean", "text",
)  # fmt: skip

_FEATURE_TYPES = (
    "uuid", "timestamptz", "uuid", "text", "text", "integer", "integer", "integer", "inet", "cidr",
    "text", "real", "smallint", "boolean", "smallint", "boolean", "boolean", "text", "bigint", "bigint",
    "bigint[]",
)  # fmt: skip


def _inet(address: str | None) -> bytes | str | None:
    """An address as asyncpg's inet codec takes it cheapest: packed. Given a string, the codec parses
    it with the ``ipaddress`` module, 4 µs of the writer's CPU per column and event; ``inet_pton`` is
    0.2 µs. What ``inet_pton`` refuses goes as it was, for PostgreSQL to judge."""
    if address is None:
        return None
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    except OSError:
        return address


def _cidr(network: str | None) -> tuple[bytes, int] | str | None:
    """A network as (packed address, prefix length): the codec's cheap path, as for :func:`_inet`."""
    if network is None:
        return None
    address, _, prefix = network.partition("/")
    packed = _inet(address)
    if not isinstance(packed, bytes) or not prefix.isdigit():
        return network
    return packed, int(prefix)


def _usage_row(e: UsageEvent) -> tuple[object, ...]:
    return (
        e.request_id, e.occurred_at, e.customer_id, e.project_id, e.key_id, e.upstream, e.route,
        e.model, e.stream, e.status, e.error_code, e.prompt_tokens, e.completion_tokens,
        e.usage_complete, e.duration_ms, e.bytes_in, e.bytes_out,
        _inet(e.client_ip),
        e.origin_country, e.policy_hash,
    )  # fmt: skip


class _Table:
    """One ledger table: its events waiting to be written, how each becomes a row, its spool files."""

    __slots__ = ("arrays", "binary", "buffer", "columns", "decode", "insert", "name", "row", "spool_prefix")

    def __init__(
        self,
        name: str,
        event: type[UsageEvent | ComputeEvent | CallFeatures],
        columns: Sequence[str],
        pg_types: Sequence[str],
        row: Callable[[Any], tuple[object, ...]],
        spool_prefix: str,
        binary: Callable[[Sequence[Any]], bytearray] | None = None,
    ) -> None:
        assert len(columns) == len(pg_types)
        # A batch as the binary COPY stream, built without asyncpg's codecs (copy_binary.py); it
        # raises Unencodable for a batch asyncpg is left to encode.
        self.binary = binary
        self.name = name
        self.columns = tuple(columns)
        self.row = row
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(event).decode
        self.spool_prefix = spool_prefix
        self.buffer: list[Any] = []
        # unnest() of one array per column inserts a batch in one statement, skipping duplicates.
        # An array column cannot ride in an array of arrays (unnest() would flatten it, and rows'
        # arrays differ in length): it is passed as text literals and cast back per row.
        self.arrays = tuple(i for i, t in enumerate(pg_types) if t.endswith("[]"))
        params = ", ".join(
            f"${i}::text[]" if t.endswith("[]") else f"${i}::{t}[]" for i, t in enumerate(pg_types, start=1)
        )
        names = [f"c{i}" for i in range(len(pg_types))]
        picked = ", ".join(
            f"{n}::{t}" if t.endswith("[]") else n for n, t in zip(names, pg_types, strict=True)
        )
        self.insert = (
            f"insert into {name} ({', '.join(columns)}) select {picked} "  # noqa: S608
            f"from unnest({params}) as t({', '.join(names)}) on conflict do nothing"
        )

    def columns_of(self, batch: Sequence[Any]) -> list[Sequence[object]]:
        """The batch as one sequence per column, for :attr:`insert`."""
        columns: list[Sequence[object]] = list(zip(*(self.row(e) for e in batch), strict=True))
        for i in self.arrays:
            columns[i] = [None if v is None else _array_literal(v) for v in columns[i]]  # type: ignore[arg-type]
        return columns


def _array_literal(values: Sequence[object]) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


_FEATURE_IP = FEATURE_COLUMNS.index("client_ip")
_FEATURE_NET = FEATURE_COLUMNS.index("network")


def _features_row(f: CallFeatures) -> tuple[object, ...]:
    row = list(msgspec.structs.astuple(f))
    row[_FEATURE_IP] = _inet(row[_FEATURE_IP])
    row[_FEATURE_NET] = _cidr(row[_FEATURE_NET])
    return tuple(row)


def _usage_table() -> _Table:
    return _Table(
        "usage_events",
        UsageEvent,
        USAGE_COLUMNS,
        _USAGE_TYPES,
        _usage_row,
        "usage",
    )


def _features_table() -> _Table:
    return _Table(
        "call_features",
        CallFeatures,
        FEATURE_COLUMNS,
        _FEATURE_TYPES,
        _features_row,
        "features",
        features_copy,
    )


def _compute_table() -> _Table:
    return _Table(
        "compute_events",
        ComputeEvent,
        COMPUTE_COLUMNS,
        _COMPUTE_TYPES,
        msgspec.structs.astuple,
        "compute",
    )


class LedgerWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        spool_dir: Path,
        *,
        batch_size: int = 1000,
        flush_interval: float = 0.25,
        max_buffer: int = 200_000,
        journal: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._spool_dir = spool_dir
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_buffer = max_buffer
        self._usage = _usage_table()
        self._compute = _compute_table()
        self._features = _features_table()
        self._tables = (self._usage, self._compute, self._features)
        self._buffer = self._usage.buffer  # the hot path's list: only ever changed in place
        # Usage events on disk as they are recorded (journal.py). Compute events need none (the
        # follower finds a settled job whose event is missing), nor call features (derived).
        self._journal = Journal(spool_dir, clock) if journal else None
        self._clock = clock
        # How long an event may wait in memory only (not journaled) for the database to take it:
        # a few flushes. Beyond it the database is not taking events, whatever it says.
        self._grace = max(1.0, 4 * flush_interval)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._db_failing = False  # the last flush failed
        self.spool_error: str | None = None
        """Why the last spool write failed, until one succeeds."""
        self._refusing = False  # for the log line when refusing starts and ends
        self._respool: list[tuple[_Table, Path]] = []  # spooled here while running: replayed here
        self.written = 0
        self.failures = 0
        self.spooled = 0

    # -- hot path -------------------------------------------------------------

    def record(self, event: UsageEvent) -> None:
        self._buffer.append(event)
        if self._journal is not None:
            self._journal.append(_encode_line(event) + b"\n")
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def record_compute(self, event: ComputeEvent) -> None:
        """A settled cluster job: written with the next batch, like a usage event."""
        self._compute.buffer.append(event)

    def record_features(self, features: CallFeatures) -> None:
        """One call's features (extracted off the hot path): written with the next batch."""
        self._features.buffer.append(features)
        if len(self._features.buffer) >= self._batch_size:
            self._wake.set()

    @property
    def depth(self) -> int:
        return sum(len(table.buffer) for table in self._tables)

    # -- can a call's usage event be kept? -------------------------------------------

    @property
    def accepting(self) -> bool:
        """False while a new call's usage event could be kept nowhere but in memory: the hot
        path's check (one attribute, unless the disk is failing)."""
        journal = self._journal
        if journal is not None:
            since = journal.exposed_since
            ok = since is None or (not self._db_failing and self._clock() - since <= self._grace)
        else:
            ok = self.spool_error is None or not self._db_failing
        if ok != (not self._refusing):
            self._refusing = not ok
            if ok:
                _log.warning("ledger_accepting_again")
            else:
                _log.error("ledger_refusing_calls", **self.health())
        return ok

    def refusal(self) -> ServiceUnavailable:
        """What a call is told while :attr:`accepting` is False."""
        return ServiceUnavailable(
            "the usage ledger cannot record this call right now (its spool disk is full and the "
            "database is not taking events); retry shortly or on another replica",
            code="ledger_unavailable",
        )

    @property
    def unjournaled(self) -> int:
        """Usage events held in memory only: not journaled (a full disk) and not yet written."""
        return len(self._journal.missed) if self._journal is not None else 0

    def health(self) -> dict[str, object]:
        """For readiness and logs: whether the disk and the database take events."""
        journal = self._journal
        return {
            "journal": "off" if journal is None else (f"failing: {journal.error}" if journal.error else "ok"),
            "spool": f"failing: {self.spool_error}" if self.spool_error else "ok",
            "database": "failing" if self._db_failing else "ok",
            "in_memory_only": self.unjournaled,
            "queued": self.depth,
        }

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        spool_folder(self._spool_dir)
        await self.replay_spool()
        if self._journal is not None:
            await self._replay_journal()
            self._journal.open()
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    async def stop(self) -> None:
        """Write everything accepted so far; spool to disk what the database does not take."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for table in self._tables:
            while table.buffer:
                if not await self._flush_once(table) and not self._spool_all(table):
                    # Neither the database nor the disk: the journaled ones stay in its files (replayed
                    # at the next start); the rest are lost, and said so.
                    lost = self.unjournaled if table is self._usage else len(table.buffer)
                    _log.error("ledger_events_unsaved", table=table.name, events=len(table.buffer), lost=lost)
                    break
        if self._journal is not None:
            self._journal.close()

    async def _run(self) -> None:
        backoff = self._interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            if self._journal is not None:
                self._journal.rotate()
            ok = True
            for table in self._tables:
                while table.buffer and ok and not self._closing:
                    ok = await self._flush_once(table)
            if ok:
                backoff = self._interval
                if self._respool and not self._db_failing and not self._closing:
                    await self._replay_own()
                continue
            # While events wait in memory only, the spool is tried every round (the disk may have
            # room again) and the database at least every second: calls are refused meanwhile.
            exposed = self._journal is not None and self._journal.missed
            backoff = min(backoff * 2, 1.0 if exposed or self.spool_error else 5.0)
            for table in self._tables:
                if len(table.buffer) > self._max_buffer or (exposed and table is self._usage):
                    self._spool_all(table)

    async def _flush_once(self, table: _Table) -> bool:
        batch = table.buffer[: self._batch_size]
        try:
            async with self._pool.acquire(timeout=5) as conn:
                await _copy(conn, table, batch)
        except (asyncpg.UniqueViolationError, asyncpg.DataError):
            # A batch COPY is all or nothing; fall back to a tolerant insert so one bad
            # or duplicate row cannot block every other event behind it.
            try:
                await self._insert_tolerant(table, batch)
            except Exception:
                return self._failed(table, batch)
        except Exception:
            return self._failed(table, batch)
        del table.buffer[: len(batch)]
        self._db_failing = False
        self.written += len(batch)
        if table is self._usage and self._journal is not None:
            self._journal.consumed(len(batch))
        return True

    def _failed(self, table: _Table, batch: list[Any]) -> bool:
        self.failures += 1
        self._db_failing = True
        _log.warning("ledger_flush_failed", table=table.name, events=len(batch), buffered=len(table.buffer))
        return False

    async def _insert_tolerant(self, table: _Table, batch: Sequence[Any]) -> None:
        async with self._pool.acquire(timeout=5) as conn:
            await conn.execute(table.insert, *table.columns_of(batch), timeout=30)

    # -- spool -------------------------------------------------------------

    def _spool_all(self, table: _Table) -> bool:
        """The table's buffer to a spool file, fsynced; False (the events kept) if the disk refuses."""
        try:
            self._spool(table, table.buffer)
        except OSError as exc:
            if self.spool_error is None:
                _log.error(
                    "ledger_spool_failed", table=table.name, events=len(table.buffer), error=exc.strerror
                )
            self.spool_error = exc.strerror or type(exc).__name__
            return False
        if self.spool_error is not None:
            _log.warning("ledger_spool_writing_again", table=table.name)
            self.spool_error = None
        if table is self._usage and self._journal is not None:
            self._journal.consumed(len(table.buffer))  # the spool has them now, fsynced
        table.buffer.clear()
        return True

    def _spool(self, table: _Table, events: list[Any]) -> None:
        spool_folder(self._spool_dir)
        path = self._spool_dir / f"{table.spool_prefix}-{time.time_ns()}-{os.getpid()}.jsonl"
        # Who called what, from where: readable by the gateway's user only, whatever the umask.
        write_spool_file(path, (_encode_line(event) + b"\n" for event in events))
        self._respool.append((table, path))
        self.spooled += len(events)
        _log.error("ledger_spooled", table=table.name, events=len(events), file=path.name)

    async def replay_spool(self) -> int:
        """Insert spooled events (duplicates ignored) and delete each file once it is in."""
        replayed = 0
        for table in self._tables:
            replayed += await self._replay(table)
        if replayed:
            _log.info("ledger_spool_replayed", events=replayed)
        return replayed

    async def _replay_journal(self) -> None:
        """What a killed process journaled: inserted (rows already written are skipped), then gone."""
        replayed = 0
        for path in leftovers(self._spool_dir):
            events = []
            for line in path.read_bytes().splitlines():
                try:
                    events.append(self._usage.decode(line))
                except msgspec.DecodeError:  # a line cut short by a full disk: the rest is whole
                    _log.warning("ledger_journal_bad_line", file=path.name)
            for i in range(0, len(events), self._batch_size):
                await self._insert_tolerant(self._usage, events[i : i + self._batch_size])
            path.unlink()
            replayed += len(events)
        if replayed:
            _log.info("ledger_journal_replayed", events=replayed)

    async def _replay(self, table: _Table) -> int:
        replayed = 0
        for path in sorted(self._spool_dir.glob(f"{table.spool_prefix}-*.jsonl")):
            replayed += await self._replay_file(table, path)
        return replayed

    async def _replay_file(self, table: _Table, path: Path) -> int:
        # A small local file (read at once, as the journal's are): not worth a thread.
        events = _spooled(table, path)
        for i in range(0, len(events), self._batch_size):
            await self._insert_tolerant(table, events[i : i + self._batch_size])
        _remove(path)
        return len(events)

    async def _replay_own(self) -> None:
        """The files this process spooled while the database was down, once it is back (not a
        sibling's: one may be writing its file)."""
        while self._respool:
            table, path = self._respool[0]
            try:
                events = await self._replay_file(table, path)
            except Exception as exc:
                _log.warning("ledger_spool_replay_failed", file=path.name, error=type(exc).__name__)
                self._db_failing = True  # tried again after the next flush that works
                return
            self._respool.pop(0)
            _log.info("ledger_spool_replayed", table=table.name, events=events, file=path.name)


async def _copy(conn: asyncpg.Connection, table: _Table, batch: Sequence[Any]) -> None:
    data = None
    if table.binary is not None:
        with contextlib.suppress(Unencodable):
            data = table.binary(batch)
    if data is None:
        await conn.copy_records_to_table(
            table.name, records=[table.row(e) for e in batch], columns=table.columns, timeout=30
        )
    else:
        # A memoryview: copy_to_table would take bytes for a file's path.
        await conn.copy_to_table(
            table.name, source=memoryview(data), columns=table.columns, format="binary", timeout=30
        )


def _spooled(table: _Table, path: Path) -> list[Any]:
    events = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            events.append(table.decode(line))
        except msgspec.DecodeError:  # a file a crash cut short: the whole lines are kept
            _log.warning("ledger_spool_bad_line", file=path.name)
    return events


def _remove(path: Path) -> None:
    path.unlink()


_USAGE = _usage_table()
_FEATURES = _features_table()


async def insert_calls(
    conn: asyncpg.Connection,
    events: Sequence[UsageEvent],
    features: Sequence[CallFeatures],
    *,
    batch_size: int = 5000,
) -> int:
    """Usage events and their features through the writer's tolerant insert (a row already there is
    skipped), on the caller's connection and so in its transaction: what ``gateway usage import``
    writes. Returns how many usage events were new."""
    written = 0
    for table, rows in ((_USAGE, events), (_FEATURES, features)):
        for i in range(0, len(rows), batch_size):
            status = await conn.execute(table.insert, *table.columns_of(rows[i : i + batch_size]))
            if table is _USAGE:
                written += int(status.rsplit(" ", 1)[-1])
    return written
