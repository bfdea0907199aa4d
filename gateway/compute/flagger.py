"""Raising training-scale flags as they happen: every ``interval`` seconds one replica runs the
accounting pass (:func:`~.records.accounting_pass`) and records each level a customer's linked group
reaches for the first time: a ``compute_flags`` row and a ``compute.flagged`` audit entry, in one
transaction. ``gateway compute flags`` shows the same flags on demand; this is their history, what
an auditor and the regulator reports cite. A level is logged once, whichever replica sees it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import asyncpg
import msgspec
import structlog

from ..audit import log
from ..audit.entry import AuditEntry, decimal, entry
from .records import accounting_pass

if TYPE_CHECKING:
    from ..policy.model import Policy
    from .flags import Flag

_log = structlog.get_logger("gateway.compute")
_LOCK = "select pg_try_advisory_xact_lock(hashtextextended('gateway-compute-flagger', 0))"


async def raise_flags(conn: asyncpg.Connection, policy: Policy, *, now: float) -> list[Flag]:
    """Record the levels reached since the last pass; the flags raised now (none if another replica
    is at it)."""
    async with conn.transaction():
        if not await conn.fetchval(_LOCK):
            return []
        done = await accounting_pass(conn, policy, now=now)
        raised: list[Flag] = []
        for flag in done.flags:
            known = await conn.fetchval(
                "select 1 from compute_flags where customer_id = $1 and threshold = $2 and level = $3",
                uuid.UUID(flag.customer),
                flag.threshold,
                flag.fraction,
            )
            if known:
                continue
            (seq,) = await log.append(conn, [_entry(flag, now)])
            await conn.execute(
                """
                insert into compute_flags (customer_id, threshold, level, threshold_flop, flop, flop_settled,
                                           flop_expected, group_size, jobs, raised_at, audit_seq)
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                """,
                uuid.UUID(flag.customer),
                flag.threshold,
                flag.fraction,
                flag.threshold_flop,
                flag.flop,
                flag.flop_settled,
                flag.flop_expected,
                len(flag.group),
                len(flag.jobs),
                dt.datetime.fromtimestamp(now, dt.UTC),
                seq,
            )
            raised.append(flag)
    for flag in raised:
        _log.warning(
            "training_flag_raised", customer=flag.customer, threshold=flag.threshold, level=flag.fraction
        )
    return raised


def _entry(flag: Flag, now: float) -> AuditEntry:
    return entry(
        "compute.flagged",
        actor="gateway",
        at=dt.datetime.fromtimestamp(now, dt.UTC),
        subject=f"customer:{flag.customer}",
        data={
            "threshold": flag.threshold,
            "threshold_flop": decimal(flag.threshold_flop),
            "level": decimal(flag.fraction),
            "flop": decimal(flag.flop),
            "flop_settled": decimal(flag.flop_settled),
            "flop_expected": decimal(flag.flop_expected),
            "group": flag.group,
            "jobs": len(flag.jobs),
        },
    )


class Flagger:
    """Runs :func:`raise_flags` in the background on every replica (one at a time does the work)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: Callable[[], Policy],
        *,
        interval: float = 300.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.interval = interval
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="compute-flagger")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with self.pool.acquire() as conn:
                    await raise_flags(conn, self.policy(), now=self._wall())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("compute_flagger_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(self.interval)


class RaisedFlag(msgspec.Struct, frozen=True, kw_only=True):
    """A ``compute_flags`` row: a level a customer's linked group reached, when it was first seen."""

    customer_id: uuid.UUID
    threshold: str
    level: float
    threshold_flop: float
    flop: float
    flop_settled: float
    flop_expected: float
    group_size: int
    jobs: int
    raised_at: dt.datetime
    audit_seq: int


async def raised_flags(conn: asyncpg.Connection, *, limit: int = 200) -> list[RaisedFlag]:
    """The flags raised so far, newest first (the history the reports cite)."""
    rows = await conn.fetch(
        "select customer_id, threshold, level, threshold_flop, flop, flop_settled, flop_expected,"
        " group_size, jobs, raised_at, audit_seq from compute_flags order by raised_at desc, audit_seq desc"
        " limit $1",
        limit,
    )
    return [RaisedFlag(**dict(r)) for r in rows]
