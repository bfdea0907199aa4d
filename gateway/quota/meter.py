"""Admission against every limit a request is held to, served from memory.

PostgreSQL holds the truth (:mod:`.store`); a replica serves requests from what it holds:

- **Rates** (per second, minute, hour) are smooth on each replica (GCRA, one float per
  counter) and counted across replicas in the rate's window, like a budget.
- **Budgets and rate windows** are served from **leases**: blocks of the window's remaining
  quota taken from the database, at most ``lease_fraction`` of the limit and at most
  ``lease_share`` of what is left (so the tail of a budget is spread over the replicas that ask
  for it rather than stranded in one). A request takes its estimate out of a lease in memory;
  the database is asked only for the next block. A lease is returned (what it served counted
  as used, the rest back to the pool) after ``lease_ttl / 2``, when its window ends, and on
  shutdown; one that is never returned expires after ``lease_ttl`` and any replica takes it
  back, counted as used.
- **Hard budgets** (FLOP caps) are reserved in the database per request: zero overshoot.

What the bound is: leases are carved out of the budget, so requests admitted across all
replicas never take more *estimates* than the limit. Settlement then charges what a request
really used, which for output tokens is at most the estimate (``max_tokens``) and for input
tokens can exceed it (the prompt estimate is ``bytes / 4``): the only overshoot. The price of
leases is the other way: quota leased to one replica and unused is refused to the others until
it is returned (at most ``lease_ttl / 2``).

The hot path awaits the database only when no lease covers a request (the first request of a
window on this replica, or a block used up) and for hard budgets. With the database down, a
replica serves from the leases it holds, then refuses with 503 ``quota_unavailable``; what
it has served is returned to the database once it is back (and the usage ledger has every
request regardless).

:class:`QuotaMeter` composes the parts, each with one job: :mod:`.plans` (which limits a caller
is held to), :mod:`.admission` (taking and settling estimates in memory), :mod:`.leasing` (the
database on the request path: leases and hard reservations), :mod:`.writer` (settlements and
lease returns, written in the background) and :mod:`.refusals` (what a caller is told).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import asyncpg
import structlog

from ..errors import TooManyRequests
from .admission import Admission, LocalQuota
from .leasing import Leasing
from .plans import Plans
from .writer import Writer, settle_reserved

if TYPE_CHECKING:
    from ..identity import Principal
    from ..kyc.standing import Standing
    from ..policy.model import Policy
    from .leases import Applied, Charge
    from .model import Usage
    from .overrides import OverrideCache
    from .store import CounterKey

__all__ = ["Admission", "QuotaMeter", "settle_reserved"]

_log = structlog.get_logger("gateway.quota")


class QuotaMeter:
    """Every replica's quota engine: admit (reserve), settle, and the leases behind both.

    The caller's :class:`Standing` is the one its customer was checked against (the
    ``KnowCustomer`` stage keeps it on the request): the meter does not look it up.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        overrides: OverrideCache,
        policy: Callable[[], Policy],
        *,
        replica: str | None = None,
        lease_ttl: float = 30.0,
        lease_fraction: float = 0.1,
        lease_share: float = 0.5,
        db_timeout: float = 2.0,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replica = replica or f"{uuid.uuid4().hex[:12]}"
        self.lease_ttl = lease_ttl
        self.plans = Plans(overrides, policy)
        self.writer = Writer(pool, db_timeout)
        self.leasing = Leasing(
            pool,
            self.writer,
            replica=self.replica,
            lease_ttl=lease_ttl,
            lease_fraction=lease_fraction,
            lease_share=lease_share,
            db_timeout=db_timeout,
            wall=wall,
            mono=mono,
        )
        self.local = LocalQuota(self.leasing, self.writer, lease_ttl=lease_ttl, wall=wall, mono=mono)
        self._tasks: list[asyncio.Task[None]] = []

    def limits(self, principal: Principal, standing: Standing | None) -> list[Applied]:
        """The limits this caller is held to, rebuilt only when its standing, overrides or policy change."""
        return self.plans.plan(principal, standing).applied

    # -- admission ------------------------------------------------------------------

    async def admit(self, principal: Principal, standing: Standing | None, estimate: Usage) -> Admission:
        """Reserve ``estimate`` against every limit, or raise 429 (which limit, when to retry) or 503."""
        plan = self.plans.priced(principal, standing, estimate)
        applied, tz = plan.applied, plan.standing.tz
        hard: list[Charge] = []
        try:
            for a in applied:
                cost = estimate.get(a.limit.dimension)
                if a.limit.hard and cost > 0:
                    hard.append(await self.leasing.reserve_hard(a, cost, tz))
            for _ in range(5):
                charges, refills = self.local.take(applied, estimate, tz)
                if not refills:
                    return Admission(self.local, hard + charges, estimate)
                await asyncio.gather(*(self.leasing.refill(slot, a, cost) for slot, a, cost in refills))
            # Other requests took each block before this one could: the replica is overrun.
            raise TooManyRequests(
                "quota is being handed out faster than it can be served; retry shortly",
                code="rate_limited",
                headers=[(b"retry-after", b"1"), (b"retry-after-ms", b"200")],
            )
        except BaseException:
            for charge in hard:
                assert charge.key is not None
                self.writer.settle(charge.key, charge.cost, 0.0)
            raise

    async def reserve_in_database(
        self, principal: Principal, standing: Standing | None, usage: Usage
    ) -> list[tuple[CounterKey, float]]:
        """Reserve ``usage`` on every limit it touches, each in the database: a cluster job's bound.

        Unlike :meth:`admit`, nothing is served from a lease: a job's GPU-seconds and FLOP are
        reserved for as long as it runs (hours), survive restarts in its workload record, and are
        settled by whichever replica sees it end. ``requests`` are left to :meth:`admit`.
        Raises 429 ``budget_exhausted`` (nothing kept reserved) or 503 ``quota_unavailable``.
        """
        plan = self.plans.priced(principal, standing, usage)
        applied, tz = plan.applied, plan.standing.tz
        done: list[Charge] = []
        try:
            for a in applied:
                cost = usage.get(a.limit.dimension)
                if cost > 0 and a.limit.dimension != "requests":
                    done.append(await self.leasing.reserve_hard(a, cost, tz))
        except BaseException:
            self.release_in_database([(c.key, c.cost) for c in done if c.key is not None])
            raise
        return [(c.key, c.cost) for c in done if c.key is not None]

    def release_in_database(self, reservations: list[tuple[CounterKey, float]]) -> None:
        """Give back reservations of :meth:`reserve_in_database` that were never used (written soon)."""
        for key, amount in reservations:
            self.writer.settle(key, amount, 0.0)

    # -- background -----------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="quota-writer"),
            asyncio.create_task(self._sweep_loop(), name="quota-sweeper"),
        ]

    def sweep(self) -> int:
        """Close the leases due back (half their TTL gone, or their window over); queue their return."""
        return self.local.sweep()

    async def flush(self) -> bool:
        """Write queued settlements and lease returns; True when nothing is left queued."""
        return await self.writer.flush()

    async def _sweep_loop(self) -> None:
        period = min(5.0, max(0.2, self.lease_ttl / 8))
        rounds = 0
        while True:
            await asyncio.sleep(period)
            self.local.sweep()
            rounds += 1
            if rounds % max(1, int(self.lease_ttl / period)) == 0:
                await self.leasing.housekeep()

    async def stop(self, wait: float = 5.0) -> None:
        """Return every lease and write what is queued (after in-flight requests have finished)."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Refills in flight finish, so that their leases are returned below rather than left to expire.
        await self.leasing.drain()
        self.local.close_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not await self.writer.flush():
            if loop.time() >= deadline:
                _log.warning(
                    "quota_unwritten_at_shutdown",
                    settlements=self.writer.queued_settles,
                    leases=self.writer.queued_returns,
                    note="unreturned leases are reclaimed as used; the ledger has every request",
                )
                return
            await asyncio.sleep(0.2)
