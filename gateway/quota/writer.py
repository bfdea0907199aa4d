"""Settlements and lease returns, queued in memory and written in the background.

The hot path never waits for these writes: a settled request, a refunded hard reservation or a
returned lease is queued, and one writer task puts the queue in the database in a single
transaction, again after a pause while the database is unreachable. :func:`settle_reserved` is
the same settle path for a caller that has its own transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import asyncpg
import structlog

from . import store
from .store import CounterKey, sort_key

_log = structlog.get_logger("gateway.quota")


def _lock_order(
    item: tuple[CounterKey, float, float],
) -> tuple[tuple[str, str, str, str, float], float, float]:
    return (sort_key(item[0]), item[1], item[2])


async def settle_reserved(conn: asyncpg.Connection, items: Iterable[tuple[CounterKey, float, float]]) -> None:
    """Replace each ``(key, reserved, actual)`` reservation by what was used, inside ``conn``'s transaction.

    Counter rows are locked in one order by every replica (sorted), so that two writers never
    wait for each other in a cycle.
    """
    for key, reserved, actual in sorted(items, key=_lock_order):
        await store.settle(conn, key, reserved, actual)


class Writer:
    """What this replica owes the database: settlements and the leases it returns."""

    __slots__ = ("db_timeout", "pool", "returns", "settles", "wake")

    def __init__(self, pool: asyncpg.Pool, db_timeout: float) -> None:
        self.pool = pool
        self.db_timeout = db_timeout
        self.settles: list[tuple[CounterKey, float, float]] = []
        self.returns: list[tuple[uuid.UUID, float]] = []
        """Leases closed here, with what each served: written by :meth:`flush`."""
        self.wake = asyncio.Event()

    def settle(self, key: CounterKey, reserved: float, actual: float) -> None:
        """Queue a reservation's settlement (``actual`` 0: given back) and wake the writer."""
        self.settles.append((key, reserved, actual))
        self.wake.set()

    async def flush(self) -> bool:
        """Write queued settlements and lease returns; True when nothing is left queued."""
        settles, self.settles = self.settles, []
        returns, self.returns = self.returns, []
        if not settles and not returns:
            return True
        try:
            async with self.pool.acquire(timeout=self.db_timeout) as conn, conn.transaction():
                await settle_reserved(conn, settles)
                await store.release(conn, returns)
        except asyncio.CancelledError:
            self.settles[:0], self.returns[:0] = settles, returns
            raise
        except Exception as exc:
            self.settles[:0], self.returns[:0] = settles, returns
            _log.warning(
                "quota_write_failed", error=type(exc).__name__, queued=len(self.settles) + len(self.returns)
            )
            return False
        return not self.settles and not self.returns

    async def run(self) -> None:
        """Flush whenever something is queued; after a failure, again after a growing pause."""
        backoff = 0.25
        while True:
            await self.wake.wait()
            self.wake.clear()
            if await self.flush():
                backoff = 0.25
                continue
            self.wake.set()  # try again after a pause
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)
