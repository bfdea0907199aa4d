"""API keys in memory, kept current by PostgreSQL LISTEN/NOTIFY.

The hot path never queries the database: a key is checked against this cache.
A trigger on ``api_keys`` notifies every replica of each change; a supervisor
re-listens after a lost connection and reloads everything periodically as a
safety net. If the change feed has been down longer than the configured
staleness, lookups fail closed (503) rather than trust a possibly revoked key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Callable

import asyncpg
import structlog

from ..errors import ServiceUnavailable, Unauthorized
from .keys import parse_key
from .principal import Principal
from .repository import KeyRow, load_key_rows

CHANNEL = "gateway_api_keys"
_log = structlog.get_logger(__name__)


class _Entry:
    __slots__ = ("hash", "principal", "revoked")

    def __init__(self, row: KeyRow) -> None:
        self.hash = row.secret_hash
        self.principal = Principal(row.customer_id, row.project_id, row.id)
        self.revoked = row.revoked


class KeyCache:
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
        self._entries: dict[str, _Entry] = {}
        self._resync = resync_seconds
        self._max_staleness = max_staleness_seconds
        self._ping = ping_seconds
        self._clock = clock
        self._fresh_at = float("-inf")
        self._conn: asyncpg.Connection | None = None
        self._pending: set[str] = set()
        self._reload_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # -- hot path -------------------------------------------------------------

    def authenticate(self, presented: str | None) -> Principal:
        """The principal for a presented key, or an :class:`Unauthorized` saying why not."""
        if not presented:
            raise Unauthorized(
                "no API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        parsed = parse_key(presented)
        if parsed is None:
            raise Unauthorized("the API key is malformed", code="invalid_api_key")
        if self._clock() - self._fresh_at > self._max_staleness:
            raise ServiceUnavailable(
                "API keys cannot be checked right now; retry shortly", code="identity_unavailable"
            )
        entry = self._entries.get(parsed.id)
        if entry is None or not hmac.compare_digest(entry.hash, parsed.hash):
            raise Unauthorized("the API key is not valid", code="invalid_api_key")
        if entry.revoked:
            raise Unauthorized("the API key has been revoked", code="revoked_api_key")
        return entry.principal

    # -- keeping current --------------------------------------------------------

    async def start(self) -> None:
        await self._listen()
        await self._reload_all()
        self._supervisor = asyncio.create_task(self._supervise(), name="key-cache")

    async def stop(self) -> None:
        for task in (self._supervisor, self._reload_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)

    @property
    def size(self) -> int:
        return len(self._entries)

    @property
    def fresh(self) -> bool:
        return self._clock() - self._fresh_at <= self._max_staleness

    async def _listen(self) -> None:
        # LISTEN before loading, so that no change between the two is missed.
        conn = await self._connect()
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn

    async def _reload_all(self) -> None:
        async with self._pool.acquire() as conn:
            rows = await load_key_rows(conn)
        self._entries = {row.id: _Entry(row) for row in rows}
        self._fresh_at = self._clock()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, key_id: str) -> None:
        self._pending.add(key_id)
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(self._reload_pending())

    async def _reload_pending(self) -> None:
        while self._pending:
            ids, self._pending = list(self._pending), set()
            try:
                async with self._pool.acquire() as conn:
                    rows = await load_key_rows(conn, ids)
            except Exception:
                _log.warning("key_cache_reload_failed", keys=len(ids))
                self._pending.update(ids)  # the supervisor's next full reload covers them
                return
            found = {row.id: row for row in rows}
            for key_id in ids:
                row = found.get(key_id)
                if row is None:
                    self._entries.pop(key_id, None)
                else:
                    self._entries[key_id] = _Entry(row)

    async def _supervise(self) -> None:
        last_full = self._clock()
        while True:
            await asyncio.sleep(self._ping)
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._listen()
                    await self._reload_all()
                    last_full = self._clock()
                    _log.info("key_cache_relistening", keys=len(self._entries))
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
                _log.warning("key_cache_feed_down", error=type(exc).__name__)
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
