"""Quota counters in PostgreSQL: the truth that every replica shares.

Each operation is one statement (or one short transaction) that re-checks the budget after
any concurrent commit, so that under read committed no interleaving of replicas admits more
than the limit:

- **reserve** takes an estimate out of the budget before a request is forwarded, and
  refuses when ``used + reserved + leased + cost`` would exceed the limit (hard budgets,
  e.g. FLOP caps, always go this way: zero overshoot);
- **settle** replaces a reservation by what the request actually used;
- **lease** hands a replica a block of the remaining budget to serve from memory, **release**
  returns what it did not use, and **reclaim** takes back the leases of replicas that died
  without returning them (counted as used: the dead replica may have served all of it).

A calendar window is one row. A rolling window (``rolling:N``) is a row per UTC hour, and an
admission sums the rows of the last N days under a transaction-scoped advisory lock on the
(scope, dimension, window), since no single row's WHERE can see the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
import msgspec

from .model import COUNTED


class CounterKey(msgspec.Struct, frozen=True):
    """One counter row: a limit's window, for one scope."""

    scope: str
    scope_id: str
    dimension: str
    window: str
    """``second`` ... ``month``, or ``rolling:N`` for the hourly buckets of an N-day rolling budget."""
    window_start: dt.datetime
    window_end: dt.datetime
    since: dt.datetime | None = None
    """Rolling windows only: the first bucket the budget sums (``window_start`` - N days)."""


class Counter(msgspec.Struct, frozen=True):
    """A window's totals (for a rolling window: summed over its buckets)."""

    limit: float
    used: float
    reserved: float
    leased: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.used - self.reserved - self.leased)


_KEY = 'scope = $1 and scope_id = $2 and dimension = $3 and "window" = $4 and window_start = $5'
_ENSURE = """
    insert into quota_counters (scope, scope_id, dimension, "window", window_start, window_end, limit_value)
    values ($1, $2, $3, $4, $5, $6, $7)
    on conflict (scope, scope_id, dimension, "window", window_start) do update
        set limit_value = excluded.limit_value, updated_at = now()
        where quota_counters.limit_value <> excluded.limit_value
"""
# Rolling windows: what the last N days hold, with the row lock taken by the advisory lock.
_LOCK = "select pg_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3 || '/' || $4, 5))"
_SUM = """
    select coalesce(sum(used), 0), coalesce(sum(reserved), 0), coalesce(sum(leased), 0)
    from quota_counters
    where scope = $1 and scope_id = $2 and dimension = $3 and "window" = $4
      and window_start >= $5 and window_start <= $6
"""


def _k(key: CounterKey) -> tuple[str, str, str, str, dt.datetime]:
    return key.scope, key.scope_id, key.dimension, key.window, key.window_start


async def _ensure(conn: asyncpg.Connection, key: CounterKey, limit: float) -> None:
    await conn.execute(_ENSURE, *_k(key), key.window_end, limit)


async def _rolling_total(conn: asyncpg.Connection, key: CounterKey, limit: float) -> Counter:
    """Lock the rolling window and sum it (call inside a transaction)."""
    assert key.since is not None
    await conn.execute(_LOCK, key.scope, key.scope_id, key.dimension, key.window)
    await _ensure(conn, key, limit)
    used, reserved, leased = await conn.fetchrow(
        _SUM, key.scope, key.scope_id, key.dimension, key.window, key.since, key.window_start
    )
    return Counter(limit, used, reserved, leased)


async def reserve(conn: asyncpg.Connection, key: CounterKey, limit: float, cost: float) -> Counter | None:
    """Take ``cost`` out of the budget, or None (refused) when it does not fit. Zero overshoot."""
    if key.since is not None:
        async with conn.transaction():
            total = await _rolling_total(conn, key, limit)
            if total.used + total.reserved + total.leased + cost > limit:
                return None
            await conn.execute(
                f"update quota_counters set reserved = reserved + $6, updated_at = now() where {_KEY}",  # noqa: S608
                *_k(key),
                cost,
            )
            return Counter(limit, total.used, total.reserved + cost, total.leased)
    # One statement: a new window's row is created with the reservation in it, an existing one
    # takes it only if it still fits (the WHERE is re-evaluated on the row's latest version).
    row = await conn.fetchrow(
        """
        insert into quota_counters as q
            (scope, scope_id, dimension, "window", window_start, window_end, limit_value, reserved)
        select $1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz,
               $7::float8, $8::float8
        where $8::float8 <= $7::float8
        on conflict (scope, scope_id, dimension, "window", window_start) do update
            set reserved = q.reserved + excluded.reserved, limit_value = excluded.limit_value,
                updated_at = now()
            where q.used + q.reserved + q.leased + excluded.reserved <= excluded.limit_value
        returning limit_value, used, reserved, leased
        """,
        *_k(key),
        key.window_end,
        limit,
        cost,
    )
    if row is None:
        await _ensure(conn, key, limit)  # refused; an operator's new limit still applies from now
        return None
    return Counter(*row)


async def settle(conn: asyncpg.Connection, key: CounterKey, reserved: float, actual: float) -> None:
    """Release a reservation and count what was actually used (a refund when the upstream failed).

    Also corrects a request served from a lease that was returned before the request ended (the
    return counted its estimate as used): ``reserved=0`` and ``actual`` the difference, which may
    be negative (a refund; ``used`` never goes below zero).
    """
    await conn.execute(
        f"""
        update quota_counters
        set reserved = greatest(0, reserved - $6), used = greatest(0, used + $7), updated_at = now()
        where {_KEY}
        """,  # noqa: S608 - _KEY is a constant
        *_k(key),
        reserved,
        actual,
    )


async def lease(
    conn: asyncpg.Connection,
    key: CounterKey,
    limit: float,
    *,
    want: float,
    need: float,
    share: float,
    replica: str,
    ttl: dt.timedelta,
) -> tuple[uuid.UUID | None, float, Counter]:
    """A block of the remaining budget for ``replica``: ``(lease id, amount, counter before)``.

    The block is ``want``, but at most ``share`` of what remains (so that the last of a budget is
    spread over the replicas asking for it instead of stranded in one), and at least ``need`` (the
    request waiting for it). When not even ``need`` is left, nothing is leased and the id is None.
    """
    async with conn.transaction():
        if key.since is not None:
            total = await _rolling_total(conn, key, limit)
        else:
            await _ensure(conn, key, limit)
            row = await conn.fetchrow(
                f"select limit_value, used, reserved, leased from quota_counters where {_KEY} for update",  # noqa: S608
                *_k(key),
            )
            total = Counter(*row)
        remaining = total.limit - total.used - total.reserved - total.leased
        if remaining < need or remaining <= 0:
            return None, 0.0, total
        # Whole units of what is counted (requests, tokens): a fraction of a request left in a lease
        # could serve nothing, yet be refused to every other replica.
        block = remaining * share
        if key.dimension in COUNTED:
            block = math.floor(block)
        amount = min(want, remaining, max(need, block))
        await conn.execute(
            f"update quota_counters set leased = leased + $6, updated_at = now() where {_KEY}",  # noqa: S608
            *_k(key),
            amount,
        )
        lease_id = uuid.uuid4()
        await conn.execute(
            """
            insert into quota_leases
                (id, replica, scope, scope_id, dimension, "window", window_start, amount, expires_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9::interval)
            """,
            lease_id,
            replica,
            *_k(key),
            amount,
            ttl,
        )
    return lease_id, amount, total


_RELEASE = """
with gone as (
    delete from quota_leases l
    using unnest($1::uuid[], $2::float8[]) as r(id, consumed)
    where l.id = r.id
    returning l.scope, l.scope_id, l.dimension, l."window", l.window_start, l.amount, r.consumed
), totals as (
    select scope, scope_id, dimension, "window", window_start,
           sum(amount) as amount, sum(consumed) as consumed, count(*) as n
    from gone group by 1, 2, 3, 4, 5
)
update quota_counters q
set leased = greatest(0, q.leased - t.amount), used = q.used + t.consumed, updated_at = now()
from totals t
where q.scope = t.scope and q.scope_id = t.scope_id and q.dimension = t.dimension
  and q."window" = t."window" and q.window_start = t.window_start
returning t.n
"""


async def release(conn: asyncpg.Connection, returns: Sequence[tuple[uuid.UUID, float]]) -> int:
    """Return leases ``(id, consumed)``: consumed becomes used, the rest goes back to the pool.

    One statement for any number of leases. A lease already returned or reclaimed is skipped
    (returned once only); the count of leases returned now is the result. ``consumed`` is counted
    whole even beyond the lease (a request that used more than its estimate is charged in full).
    """
    if not returns:
        return 0
    rows = await conn.fetch(_RELEASE, [r[0] for r in returns], [max(0.0, r[1]) for r in returns])
    return sum(int(r[0]) for r in rows)


async def reclaim_expired(conn: asyncpg.Connection) -> int:
    """Take back leases that expired unreturned (their replica died), counted as fully used."""
    rows = await conn.fetch(
        """
        with gone as (
            delete from quota_leases where expires_at <= now()
            returning scope, scope_id, dimension, "window", window_start, amount
        ), totals as (
            select scope, scope_id, dimension, "window", window_start,
                   sum(amount) as amount, count(*) as n
            from gone group by 1, 2, 3, 4, 5
        )
        update quota_counters q
        set leased = greatest(0, q.leased - t.amount), used = q.used + t.amount, updated_at = now()
        from totals t
        where q.scope = t.scope and q.scope_id = t.scope_id and q.dimension = t.dimension
          and q."window" = t."window" and q.window_start = t.window_start
        returning t.n
        """
    )
    return sum(int(r[0]) for r in rows)


async def claim_batch(conn: asyncpg.Connection, batch_id: uuid.UUID) -> bool:
    """Record a batch of settlements in the caller's transaction; False if it was applied before
    (its commit went through though the writer did not hear of it: sql/019)."""
    claimed = await conn.fetchval(
        "insert into quota_settlements (batch_id) values ($1) on conflict do nothing returning true", batch_id
    )
    return claimed is not None


async def prune_rate_windows(conn: asyncpg.Connection, older_than: dt.timedelta) -> int:
    """Drop the counters of second/minute/hour windows that ended long ago (86,400 a day per key),
    and the ids of settlement batches as old (a retry comes within seconds, not a day)."""
    done: str = await conn.execute(
        """
        delete from quota_counters
        where "window" in ('second', 'minute', 'hour') and window_end < now() - $1::interval
        """,
        older_than,
    )
    await conn.execute("delete from quota_settlements where settled_at < now() - $1::interval", older_than)
    return int(done.split()[-1])


async def counter(conn: asyncpg.Connection, key: CounterKey) -> Counter | None:
    """A window's totals (summed over a rolling window's buckets), or None if never used."""
    row = await conn.fetchrow(
        f"select limit_value, used, reserved, leased from quota_counters where {_KEY}",  # noqa: S608
        *_k(key),
    )
    if row is None:
        return None
    if key.since is None:
        return Counter(*row)
    used, reserved, leased = await conn.fetchrow(
        _SUM, key.scope, key.scope_id, key.dimension, key.window, key.since, key.window_start
    )
    return Counter(row[0], used, reserved, leased)


def sort_key(key: CounterKey) -> tuple[str, str, str, str, float]:
    """One order for counter rows, which every writer locks them in (no lock cycles between replicas)."""
    return key.scope, key.scope_id, key.dimension, key.window, key.window_start.timestamp()


T = TypeVar("T")


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Run one short statement again when PostgreSQL broke a lock cycle by cancelling it.

    Leases, returns and reservations of different replicas lock counter rows in whatever order
    their requests came in; PostgreSQL detects the rare cycle and fails one of them, which is
    safe to repeat (it did nothing).
    """
    for attempt in range(attempts):
        try:
            return await call()
        except (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
