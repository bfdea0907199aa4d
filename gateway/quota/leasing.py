"""Where the database comes in: leases of a window's quota, and hard reservations.

A replica asks the database (:mod:`.store`) for the next block of a window when no lease it
holds covers a request (:meth:`Leasing.refill`), and for every hard-budget charge
(:meth:`Leasing.reserve_hard`). After a failed call the database is left alone for a second:
requests that need it are refused at once (503 ``quota_unavailable``) instead of each waiting
for it. How leases bound a budget across replicas: :mod:`.meter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog

from ..errors import ServiceUnavailable
from . import store
from .leases import Applied, Charge, Lease, Slot
from .model import COUNTED
from .refusals import exhausted, unavailable
from .store import CounterKey, retrying
from .windows import counter_window

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .writer import Writer

_log = structlog.get_logger("gateway.quota")
_UTC = dt.UTC
_RECHECK_SECONDS = 1.0
"""An exhausted window is asked again this often (others may return leases, or a limit be raised)."""
_DB_BACKOFF_SECONDS = 1.0
"""After a failed database call, refills fail fast for this long instead of each waiting for it."""


class Leasing:
    """This replica's calls to the database on the request path, and the refills in flight."""

    __slots__ = (
        "_background",
        "_down_until",
        "_mono",
        "_pool",
        "_wall",
        "_writer",
        "db_timeout",
        "lease_fraction",
        "lease_share",
        "lease_ttl",
        "replica",
    )

    def __init__(
        self,
        pool: asyncpg.Pool,
        writer: Writer,
        *,
        replica: str,
        lease_ttl: float,
        lease_fraction: float,
        lease_share: float,
        db_timeout: float,
        wall: Callable[[], float],
        mono: Callable[[], float],
    ) -> None:
        self._pool = pool
        self._writer = writer
        self.replica = replica
        self.lease_ttl = lease_ttl
        self.lease_fraction = lease_fraction
        self.lease_share = lease_share
        self.db_timeout = db_timeout
        self._wall = wall
        self._mono = mono
        self._down_until = -math.inf
        self._background: set[asyncio.Task[None]] = set()

    async def refill(self, slot: Slot, a: Applied, need: float) -> None:
        """One lease call per window at a time; concurrent requests wait for the same one."""
        if slot.refill is not None:
            await asyncio.shield(slot.refill)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        slot.refill = future
        try:
            if self._down_until > self._mono():
                raise unavailable()
            await self._lease(slot, a, need)
        except ServiceUnavailable:
            if a.rate_period is None:
                future.set_exception(unavailable())
                future.exception()  # retrieved: waiters re-raise it, nobody else has to
                raise
            # A rate only bounds speed: until the database is back it holds per replica (GCRA),
            # for the rest of this window. Budgets, which bound totals, fail closed instead.
            slot.local = True
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        else:
            future.set_result(None)
        finally:
            slot.refill = None

    async def _lease(self, slot: Slot, a: Applied, need: float) -> None:
        limit = a.limit
        fraction = 0.5 if a.rate_period is not None else self.lease_fraction
        block = limit.limit * fraction
        want = max(need, math.ceil(block) if limit.dimension in COUNTED else block)
        mono = self._mono()
        # Leases this request cannot use go back in the same call, so the pool has them again.
        # (Not those with requests in flight: what those give back is used from memory.)
        spent = [
            lease
            for lease in slot.leases
            if not lease.closed and lease.available < need and lease.inflight <= 0
        ]
        returns = [lease.close() for lease in spent]
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                if returns:
                    await retrying(lambda: store.release(conn, returns))
                lease_id, amount, seen = await retrying(
                    lambda: store.lease(
                        conn,
                        slot.key,
                        limit.limit,
                        want=want,
                        need=need,
                        share=self.lease_share,
                        replica=self.replica,
                        ttl=dt.timedelta(seconds=self.lease_ttl),
                    )
                )
        except asyncio.CancelledError:
            self._writer.returns.extend(returns)
            raise
        except Exception as exc:
            self._writer.returns.extend(returns)  # returned by the writer once the database is back
            self._down_until = self._mono() + _DB_BACKOFF_SECONDS
            _log.warning("quota_lease_failed", error=type(exc).__name__, window=slot.key.window)
            raise unavailable() from None
        slot.leases = [lease for lease in slot.leases if not lease.closed]
        if lease_id is None:
            slot.last = seen
            slot.exhausted_until = self._mono() + _RECHECK_SECONDS
            return
        slot.last = store.Counter(seen.limit, seen.used, seen.reserved, seen.leased + amount)
        slot.exhausted_until = -math.inf
        # Returned well before the database would take it back: half the TTL.
        slot.leases.append(Lease(lease_id, amount, mono + self.lease_ttl / 2))

    async def reserve_hard(self, a: Applied, cost: float, tz: ZoneInfo) -> Charge:
        """Reserve ``cost`` in the database (no lease): 429 if the window cannot take it, or 503."""
        wall = self._wall()
        name, start, end, since = counter_window(a.limit, dt.datetime.fromtimestamp(wall, _UTC), tz)
        key = CounterKey(a.limit.scope, a.scope_id, a.limit.dimension, name, start, end, since)
        if self._down_until > self._mono():
            raise unavailable()
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                counted = await retrying(lambda: store.reserve(conn, key, a.limit.limit, cost))
        except Exception as exc:
            self._down_until = self._mono() + _DB_BACKOFF_SECONDS
            _log.warning("quota_reserve_failed", error=type(exc).__name__, window=name)
            raise unavailable() from None
        if counted is None:
            raise exhausted(a, Slot(key), wall, tz, self.lease_ttl, never=cost > a.limit.limit)
        return Charge(a, cost, key, None)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` (an early refill) in the background; its failure is the next request's to see."""

        async def quietly() -> None:
            with contextlib.suppress(Exception):
                await coro

        task = asyncio.get_running_loop().create_task(quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Let refills in flight finish (each bounded by ``db_timeout``), so their leases can be returned."""
        if self._background:
            await asyncio.wait(self._background, timeout=self.db_timeout * 2)

    async def housekeep(self) -> None:
        """Take back the leases of dead replicas, drop old rate windows. Any replica may."""
        try:
            async with self._pool.acquire(timeout=self.db_timeout) as conn:
                reclaimed = await store.reclaim_expired(conn)
                await store.prune_rate_windows(conn, dt.timedelta(days=1))
            if reclaimed:
                _log.info("quota_leases_reclaimed", leases=reclaimed)
        except Exception as exc:
            _log.warning("quota_housekeeping_failed", error=type(exc).__name__)
