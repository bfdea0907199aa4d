"""A table's rows in memory, kept current by PostgreSQL LISTEN/NOTIFY.

The hot path reads these caches and never queries the database. A trigger on the
table notifies every replica of each changed row; a supervisor re-listens after a
lost connection and reloads everything periodically as a safety net. While the
change feed has been down longer than the allowed staleness, :attr:`fresh` is
False and callers fail closed rather than trust what may have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import asyncpg
import structlog

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_log = structlog.get_logger(__name__)


class NotifyCache(Generic[K, V]):
    """Subclasses say which channel to listen on and how to load rows (all, or some by key)."""

    channel: str
    name: str

    def __init__(
        self,
        connect: Callable[[], asyncpg.Connection],
        pool: asyncpg.Pool,
        *,
        resync_seconds: float = 60.0,
        max_staleness_seconds: float = 30.0,
        ping_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._pool = pool
        self._entries: dict[K, V] = {}
        self._resync = resync_seconds
        self._max_staleness = max_staleness_seconds
        self._ping = ping_seconds
        self._clock = clock
        self._fresh_at = float("-inf")
        self._conn: asyncpg.Connection | None = None
        self._pending: set[K] = set()
        self._reload_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._extra: dict[str, Callable[[str], None]] = {}

    def also_listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Another channel on the same connection (before :meth:`start`), called with each payload."""
        self._extra[channel] = callback

    # -- what a subclass provides -----------------------------------------------

    def _key(self, payload: str) -> K:
        raise NotImplementedError

    async def _load(self, conn: asyncpg.Connection, keys: list[K] | None) -> dict[K, V]:
        """Rows by key: all of them (``keys`` None) or those of ``keys`` that still exist."""
        raise NotImplementedError

    # -- reading ----------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self._entries)

    @property
    def fresh(self) -> bool:
        return self._clock() - self._fresh_at <= self._max_staleness

    # -- keeping current --------------------------------------------------------

    async def start(self) -> None:
        await self._listen()
        await self._reload_all()
        self._supervisor = asyncio.create_task(self._supervise(), name=self.name)

    async def stop(self) -> None:
        for task in (self._supervisor, self._reload_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)

    async def _listen(self) -> None:
        # LISTEN before loading, so that no change between the two is missed.
        conn = await self._connect()
        await conn.add_listener(self.channel, self._on_notify)
        for channel, callback in self._extra.items():
            await conn.add_listener(channel, lambda _c, _p, _ch, payload, cb=callback: cb(payload))
        self._conn = conn

    async def _reload_all(self) -> None:
        async with self._pool.acquire() as conn:
            entries = await self._load(conn, None)
        self._entries = entries
        self._fresh_at = self._clock()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._pending.add(self._key(payload))
        except ValueError:
            _log.warning("cache_bad_notification", cache=self.name)
            return
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(self._reload_pending())

    async def _reload_pending(self) -> None:
        while self._pending:
            keys, self._pending = list(self._pending), set()
            try:
                async with self._pool.acquire() as conn:
                    found = await self._load(conn, keys)
            except Exception:
                _log.warning("cache_reload_failed", cache=self.name, rows=len(keys))
                self._pending.update(keys)  # the supervisor's next full reload covers them
                return
            for key in keys:
                value = found.get(key)
                if value is None:
                    self._entries.pop(key, None)
                else:
                    self._entries[key] = value

    async def _supervise(self) -> None:
        last_full = self._clock()
        while True:
            await asyncio.sleep(self._ping)
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._listen()
                    await self._reload_all()
                    last_full = self._clock()
                    _log.info("cache_relistening", cache=self.name, rows=len(self._entries))
                    continue
                await self._conn.execute("select 1", timeout=max(self._ping, 1.0))
                if self._clock() - last_full >= self._resync or self._pending:
                    await self._reload_all()
                    self._pending.clear()
                    last_full = self._clock()
                else:
                    self._fresh_at = self._clock()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("cache_feed_down", cache=self.name, error=type(exc).__name__)
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
