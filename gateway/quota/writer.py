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


class _Batch:
    """Settlements and returns written together, once: the id makes a retry of a batch whose
    commit went through unheard a no-op (``store.claim_batch``)."""

    __slots__ = ("id", "returns", "settles")

    def __init__(
        self, settles: list[tuple[CounterKey, float, float]], returns: list[tuple[uuid.UUID, float]]
    ) -> None:
        self.id = uuid.uuid4()
        self.settles = settles
        self.returns = returns


class Writer:
    """What this replica owes the database: settlements and the leases it returns."""

    __slots__ = ("db_timeout", "pending", "pool", "returns", "settles", "wake")

    def __init__(self, pool: asyncpg.Pool, db_timeout: float) -> None:
        self.pool = pool
        self.db_timeout = db_timeout
        self.settles: list[tuple[CounterKey, float, float]] = []
        self.returns: list[tuple[uuid.UUID, float]] = []
        """Leases closed here, with what each served: written by :meth:`flush`."""
        self.pending: _Batch | None = None
        """A batch whose write failed: retried as it is, with its id, before anything newer."""
        self.wake = asyncio.Event()

    @property
    def queued_settles(self) -> int:
        return len(self.settles) + (len(self.pending.settles) if self.pending else 0)

    @property
    def queued_returns(self) -> int:
        return len(self.returns) + (len(self.pending.returns) if self.pending else 0)

    def settle(self, key: CounterKey, reserved: float, actual: float) -> None:
        """Queue a reservation's settlement (``actual`` 0: given back) and wake the writer."""
        self.settles.append((key, reserved, actual))
        self.wake.set()

    async def flush(self) -> bool:
        """Write queued settlements and lease returns; True when nothing is left queued."""
        if self.pending is None:
            if not self.settles and not self.returns:
                return True
            self.pending = _Batch(self.settles, self.returns)
            self.settles, self.returns = [], []
        batch = self.pending
        try:
            async with self.pool.acquire(timeout=self.db_timeout) as conn, conn.transaction():
                if await store.claim_batch(conn, batch.id):
                    await settle_reserved(conn, batch.settles)
                    await store.release(conn, batch.returns)
                else:
                    _log.info(
                        "quota_batch_already_written", settles=len(batch.settles), returns=len(batch.returns)
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.warning(
                "quota_write_failed",
                error=type(exc).__name__,
                queued=self.queued_settles + self.queued_returns,
            )
            return False
        self.pending = None
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
