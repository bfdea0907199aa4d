"""Quota counters in PostgreSQL: the truth that every replica shares.

Each operation is one statement (or one short transaction) whose WHERE clause re-checks
the budget after any concurrent commit, so that under read committed no interleaving
of replicas admits more than the limit:

- **reserve** takes an estimate out of the budget before a request is forwarded, and
  refuses when ``used + reserved + leased + cost`` would exceed the limit (hard budgets,
  e.g. FLOP caps, always go this way: zero overshoot);
- **settle** replaces a reservation by what the request actually used;
- **lease** hands a replica a block of the remaining budget to serve from memory
  (overshoot across replicas is then bounded by the blocks outstanding), **release**
  returns what it did not use, and **reclaim** takes back the leases of replicas that
  died without returning them.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec


class CounterKey(msgspec.Struct, frozen=True):
    scope: str
    scope_id: str
    dimension: str
    window_start: dt.datetime
    window_end: dt.datetime


class Counter(msgspec.Struct, frozen=True):
    limit: float
    used: float
    reserved: float
    leased: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.used - self.reserved - self.leased)


_KEY = "scope = $1 and scope_id = $2 and dimension = $3 and window_start = $4"


async def ensure(conn: asyncpg.Connection, key: CounterKey, limit: float) -> None:
    """Create the window's counter, or bring its limit up to date (an operator changed it)."""
    await conn.execute(
        """
        insert into quota_counters (scope, scope_id, dimension, window_start, window_end, limit_value)
        values ($1, $2, $3, $4, $5, $6)
        on conflict (scope, scope_id, dimension, window_start) do update
            set limit_value = excluded.limit_value, updated_at = now()
            where quota_counters.limit_value <> excluded.limit_value
        """,
        key.scope,
        key.scope_id,
        key.dimension,
        key.window_start,
        key.window_end,
        limit,
    )


async def reserve(conn: asyncpg.Connection, key: CounterKey, limit: float, cost: float) -> Counter | None:
    """Take `cost` out of the budget, or None (refused) when it does not fit. Zero overshoot."""
    await ensure(conn, key, limit)
    row = await conn.fetchrow(
        f"""
        update quota_counters set reserved = reserved + $5, updated_at = now()
        where {_KEY} and used + reserved + leased + $5 <= limit_value
        returning limit_value, used, reserved, leased
        """,  # noqa: S608 - _KEY is a constant
        key.scope,
        key.scope_id,
        key.dimension,
        key.window_start,
        cost,
    )
    return None if row is None else Counter(*row)


async def settle(conn: asyncpg.Connection, key: CounterKey, reserved: float, actual: float) -> Counter:
    """Release a reservation and count what was actually used (a refund when the upstream failed)."""
    row = await conn.fetchrow(
        f"""
        update quota_counters
        set reserved = greatest(0, reserved - $5), used = used + $6, updated_at = now()
        where {_KEY}
        returning limit_value, used, reserved, leased
        """,  # noqa: S608 - _KEY is a constant
        key.scope,
        key.scope_id,
        key.dimension,
        key.window_start,
        reserved,
        actual,
    )
    if row is None:
        raise LookupError(f"no quota counter {key}")
    return Counter(*row)


async def lease(
    conn: asyncpg.Connection,
    key: CounterKey,
    limit: float,
    block: float,
    replica: str,
    ttl: dt.timedelta,
) -> tuple[uuid.UUID, float] | None:
    """A block of at most `block` of the remaining budget for `replica`, or None when none is left."""
    await ensure(conn, key, limit)
    async with conn.transaction():
        granted = await conn.fetchval(
            """
            update quota_counters q
            set leased = q.leased + g.amount, updated_at = now()
            from (
                select least($5::float8, limit_value - used - reserved - leased) as amount
                from quota_counters
                where scope = $1 and scope_id = $2 and dimension = $3 and window_start = $4
                for update
            ) g
            where q.scope = $1 and q.scope_id = $2 and q.dimension = $3 and q.window_start = $4
              and g.amount > 0
            returning g.amount
            """,
            key.scope,
            key.scope_id,
            key.dimension,
            key.window_start,
            block,
        )
        if granted is None:
            return None
        lease_id = uuid.uuid4()
        await conn.execute(
            """
            insert into quota_leases
                (id, replica, scope, scope_id, dimension, window_start, amount, expires_at)
            values ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)
            """,
            lease_id,
            replica,
            key.scope,
            key.scope_id,
            key.dimension,
            key.window_start,
            granted,
            ttl,
        )
    return lease_id, float(granted)


async def release(conn: asyncpg.Connection, lease_id: uuid.UUID, consumed: float) -> bool:
    """Return a lease: what was consumed becomes used, the rest goes back to the pool. Once only."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "delete from quota_leases where id = $1"
            " returning scope, scope_id, dimension, window_start, amount",
            lease_id,
        )
        if row is None:
            return False  # already returned, or reclaimed after it expired
        await conn.execute(
            f"""
            update quota_counters
            set leased = greatest(0, leased - $5), used = used + least($6, $5), updated_at = now()
            where {_KEY}
            """,  # noqa: S608 - _KEY is a constant
            row["scope"],
            row["scope_id"],
            row["dimension"],
            row["window_start"],
            row["amount"],
            consumed,
        )
    return True


async def reclaim_expired(conn: asyncpg.Connection) -> int:
    """Take back the leases of replicas that did not return them in time, counted as fully used.

    A dead replica may have served its whole block before dying: counting it used keeps
    the budget's promise (never more than the limit) at the cost of some unused quota.
    """
    async with conn.transaction():
        rows = await conn.fetch(
            "delete from quota_leases where expires_at <= now()"
            " returning scope, scope_id, dimension, window_start, amount"
        )
        for r in rows:
            await conn.execute(
                f"""
                update quota_counters
                set leased = greatest(0, leased - $5), used = used + $5, updated_at = now()
                where {_KEY}
                """,  # noqa: S608 - _KEY is a constant
                r["scope"],
                r["scope_id"],
                r["dimension"],
                r["window_start"],
                r["amount"],
            )
    return len(rows)


async def counter(conn: asyncpg.Connection, key: CounterKey) -> Counter | None:
    row = await conn.fetchrow(
        f"select limit_value, used, reserved, leased from quota_counters where {_KEY}",  # noqa: S608
        key.scope,
        key.scope_id,
        key.dimension,
        key.window_start,
    )
    return None if row is None else Counter(*row)
