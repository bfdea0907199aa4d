"""The ledger's monthly partitions (``sql/017_ledger_partitions.sql``): made ahead of time, and
dropped whole once past the retention a provider sets.

Every replica runs a :class:`PartitionKeeper`: at start, then every ``interval`` seconds, it makes
the partitions of the months to come (the database function takes a lock, so replicas take turns)
and, with ``ledger_retention_days`` set, drops the months entirely older than that. A drop is an
audit-log entry naming the partitions, in the same transaction: what the ledger no longer holds,
and when it stopped holding it, is on the record. The audit log's entries are partitioned the same
way (``sql/018``); with ``audit_retention_days`` set, the keeper drops its oldest months through
:func:`gateway.audit.retention.prune`, which keeps the rest verifiable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import asyncpg
import msgspec
import structlog

from ..audit import log, retention
from ..audit.entry import entry

__all__ = ["MONTHS_AHEAD", "Partition", "PartitionKeeper", "ensure", "partitions", "prune"]

_log = structlog.get_logger("gateway.ledger")
MONTHS_AHEAD = 2
"""Partitions exist this many months past the current one: a replica down for weeks still finds its
month's partition when it comes back."""


class Partition(msgspec.Struct, frozen=True):
    table: str
    name: str
    bounds: str
    """PostgreSQL's own words for the range: ``FOR VALUES FROM (...) TO (...)`` or ``DEFAULT``."""
    rows: int
    """An estimate (the planner's statistics), as ``gateway usage partitions`` shows it."""


async def ensure(
    conn: asyncpg.Connection, months_ahead: int = MONTHS_AHEAD, *, now: dt.datetime | None = None
) -> int:
    """Make the partitions missing up to ``months_ahead`` months after ``now`` (the database's
    clock by default); how many were made."""
    made: int = await conn.fetchval("select ledger_ensure_partitions($1, $2)", months_ahead, now)
    return made


async def prune(conn: asyncpg.Connection, before: dt.datetime, *, actor: str) -> list[str]:
    """Drop the partitions whose months all end at or before ``before``; their names. Audited."""
    async with conn.transaction():
        dropped = [r[0] for r in await conn.fetch("select ledger_drop_partitions($1)", before)]
        if dropped:
            await log.append(
                conn,
                [
                    entry(
                        "ledger.partitions_dropped",
                        actor=actor,
                        at=dt.datetime.now(dt.UTC),
                        data={"before": before.isoformat(), "partitions": dropped},
                    )
                ],
            )
    return dropped


async def partitions(conn: asyncpg.Connection, family: str = "ledger") -> list[Partition]:
    """The partitions of the ledger's tables (``family="audit"``: of the audit log's entries)."""
    rows = await conn.fetch(
        """
        select parent.relname as table, child.relname as name,
               pg_get_expr(child.relpartbound, child.oid) as bounds,
               greatest(child.reltuples, 0)::bigint as rows
        from ledger_partitioning lp
        join pg_class parent on parent.relname = lp.table_name
        join pg_inherits i on i.inhparent = parent.oid
        join pg_class child on child.oid = i.inhrelid
        where lp.family = $1
        order by parent.relname, child.relname
        """,
        family,
    )
    return [Partition(r["table"], r["name"], r["bounds"], int(r["rows"])) for r in rows]


class PartitionKeeper:
    """Keeps the months to come partitioned and, with a retention, the old ones dropped."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        retention_days: int | None,
        audit_retention_days: int | None = None,
        interval: float = 6 * 3600,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.pool = pool
        self.retention_days = retention_days
        self.audit_retention_days = audit_retention_days
        self.interval = interval
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    async def once(self) -> None:
        now = self._wall()
        async with self.pool.acquire() as conn:
            made = await ensure(conn, now=now)
            dropped: list[str] = []
            if self.retention_days is not None:
                cutoff = now - dt.timedelta(days=self.retention_days)
                dropped = await prune(conn, cutoff, actor="gateway:retention")
            if self.audit_retention_days is not None:
                cutoff = now - dt.timedelta(days=self.audit_retention_days)
                cut = await retention.prune(conn, cutoff, actor="gateway:retention")
                if cut is not None:
                    dropped += cut.partitions
        if made or dropped:
            _log.info("ledger_partitions", made=made, dropped=dropped)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-partitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next turn tries again; months ahead leave time for it
                _log.warning("ledger_partitions_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(self.interval)
