"""The quota counters in PostgreSQL: exact under concurrency, leases bounded and returned."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from gateway.quota.store import (
    CounterKey,
    counter,
    lease,
    prune_rate_windows,
    reclaim_expired,
    release,
    reserve,
    settle,
)

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=30)


def key(dimension: str = "flop", window: str = "month") -> CounterKey:
    return CounterKey("customer", str(uuid.uuid4()), dimension, window, START, END)


def rolling(scope_id: str, hour: dt.datetime, days: int = 2) -> CounterKey:
    return CounterKey(
        "customer",
        scope_id,
        "output_tokens",
        f"rolling:{days}",
        hour,
        hour + dt.timedelta(hours=1),
        hour - dt.timedelta(days=days),
    )


async def test_a_hard_budget_admits_exactly_its_limit_under_concurrency(database_url: str) -> None:
    k = key()
    pool = await asyncpg.create_pool(database_url, min_size=16, max_size=16)
    admitted = 0

    async def attempt() -> None:
        nonlocal admitted
        async with pool.acquire() as conn:
            if await reserve(conn, k, 100.0, 1.0) is not None:
                admitted += 1

    # 16 connections racing 400 reservations of 1 against a budget of 100.
    await asyncio.gather(*(attempt() for _ in range(400)))
    async with pool.acquire() as conn:
        c = await counter(conn, k)
    await pool.close()
    assert admitted == 100
    assert c is not None and (c.reserved, c.remaining) == (100.0, 0.0)


async def test_a_rolling_budget_sums_its_hours_exactly_under_concurrency(database_url: str) -> None:
    scope_id = str(uuid.uuid4())
    now = dt.datetime(2026, 11, 27, 13, tzinfo=dt.UTC)
    pool = await asyncpg.create_pool(database_url, min_size=8, max_size=8)
    async with pool.acquire() as conn:
        # 60 used in an hour inside the 2-day window, 1000 in one just outside it.
        assert await reserve(conn, rolling(scope_id, now - dt.timedelta(hours=30)), 100.0, 60.0)
        assert await reserve(conn, rolling(scope_id, now - dt.timedelta(days=2, hours=1)), 5000.0, 1000.0)
    admitted = 0

    async def attempt() -> None:
        nonlocal admitted
        async with pool.acquire() as conn:
            if await reserve(conn, rolling(scope_id, now), 100.0, 1.0) is not None:
                admitted += 1

    await asyncio.gather(*(attempt() for _ in range(200)))
    await pool.close()
    assert admitted == 40  # 100 - 60; the hour 49 h ago is out of the window


async def test_settle_releases_the_estimate_and_counts_the_actual(conn) -> None:
    k = key("output_tokens", "day")
    assert await reserve(conn, k, 1000.0, 600.0) is not None
    assert await reserve(conn, k, 1000.0, 600.0) is None  # 600 + 600 > 1000
    await settle(conn, k, 600.0, 150.0)  # the answer was shorter than max_tokens
    c = await counter(conn, k)
    assert c is not None and (c.used, c.reserved, c.remaining) == (150.0, 0.0, 850.0)
    assert await reserve(conn, k, 1000.0, 500.0) is not None
    await settle(conn, k, 500.0, 0.0)  # upstream error: refunded whole
    c = await counter(conn, k)
    assert c is not None and c.used == 150.0


async def test_two_limits_whose_windows_start_together_count_apart(conn) -> None:
    day = key("requests", "day")
    month = CounterKey(day.scope, day.scope_id, "requests", "month", START, END)
    assert await reserve(conn, day, 10.0, 10.0) is not None
    assert await reserve(conn, month, 100.0, 10.0) is not None
    assert (await counter(conn, day)).reserved == 10.0  # type: ignore[union-attr]
    assert (await counter(conn, month)).reserved == 10.0  # type: ignore[union-attr]


async def test_leases_are_bounded_by_the_remaining_budget_and_returned_once(conn) -> None:
    k = key("requests")

    async def take(want: float, need: float = 1.0, share: float = 1.0) -> tuple[uuid.UUID | None, float]:
        lease_id, amount, _ = await lease(
            conn, k, 100.0, want=want, need=need, share=share, replica="r", ttl=TTL
        )
        return lease_id, amount

    first = await take(60.0)
    second = await take(60.0)
    assert (first[1], second[1]) == (60.0, 40.0)  # never more than what is left
    assert (await take(60.0))[0] is None
    assert await reserve(conn, k, 100.0, 1.0) is None  # leased out: direct reservations wait too
    assert first[0] is not None and second[0] is not None
    assert await release(conn, [(first[0], 10.0)]) == 1
    assert await release(conn, [(first[0], 10.0)]) == 0  # once only
    c = await counter(conn, k)
    assert c is not None and (c.used, c.leased, c.remaining) == (10.0, 40.0, 50.0)
    # At most `share` of what is left, but at least what the waiting request needs.
    assert (await take(60.0, need=1.0, share=0.5))[1] == 25.0
    assert (await take(60.0, need=20.0, share=0.1))[1] == 20.0
    assert (await take(60.0, need=6.0))[0] is None  # 5 left: not enough for 6, nothing leased


async def test_a_release_counts_usage_beyond_the_lease(conn) -> None:
    k = key("input_tokens", "day")
    lease_id, amount, _ = await lease(conn, k, 100.0, want=10.0, need=1.0, share=1.0, replica="r", ttl=TTL)
    assert lease_id is not None and amount == 10.0
    assert await release(conn, [(lease_id, 14.0)]) == 1  # the prompt was longer than estimated
    c = await counter(conn, k)
    assert c is not None and (c.used, c.leased) == (14.0, 0.0)


async def test_an_expired_lease_returns_to_the_pool_counted_as_used(conn) -> None:
    k = key("requests")
    # Taken already expired (by the database's clock), as if its replica had died long ago.
    dead, _, _ = await lease(
        conn, k, 100.0, want=30.0, need=1.0, share=1.0, replica="killed", ttl=dt.timedelta(seconds=-1)
    )
    assert dead is not None
    assert await reclaim_expired(conn) >= 1
    c = await counter(conn, k)
    assert c is not None and (c.leased, c.used, c.remaining) == (0.0, 30.0, 70.0)
    assert await release(conn, [(dead, 0.0)]) == 0  # the dead replica cannot return it twice


async def test_an_operator_lowering_the_limit_applies_at_once(conn) -> None:
    k = key("gpu_seconds")
    assert await reserve(conn, k, 100.0, 50.0) is not None
    assert await reserve(conn, k, 60.0, 20.0) is None  # the limit is now 60: 50 + 20 > 60
    c = await counter(conn, k)
    assert c is not None and c.limit == 60.0


async def test_old_rate_windows_are_pruned_and_budgets_kept(conn) -> None:
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    second = CounterKey("key", str(uuid.uuid4()), "requests", "second", old, old + dt.timedelta(seconds=1))
    day = CounterKey(second.scope, second.scope_id, "requests", "day", old, old + dt.timedelta(days=1))
    assert await reserve(conn, second, 10.0, 1.0) is not None
    assert await reserve(conn, day, 10.0, 1.0) is not None
    assert await prune_rate_windows(conn, dt.timedelta(days=1)) >= 1
    assert await counter(conn, second) is None
    assert await counter(conn, day) is not None


@pytest.mark.parametrize("cost", [0.0, 0.5])
async def test_zero_and_fractional_costs(conn, cost: float) -> None:
    k = key("flop")
    assert await reserve(conn, k, 1.0, cost) is not None


async def test_settling_in_callers_transactions_takes_row_locks_in_one_order(database_url: str) -> None:
    from gateway.quota.writer import settle_reserved

    a, b = key(), key()
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
    rounds = 20
    async with pool.acquire() as conn:
        for k in (a, b):
            assert await reserve(conn, k, 1e6, 2.0 * rounds) is not None

    async def settle_in_transaction(items: list[tuple[CounterKey, float, float]]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await settle_reserved(conn, items)

    # Two callers settling the same rows given in opposite orders: sorted, neither waits in a cycle.
    for _ in range(rounds):
        await asyncio.gather(
            settle_in_transaction([(a, 1.0, 0.5), (b, 1.0, 0.25)]),
            settle_in_transaction([(b, 1.0, 0.25), (a, 1.0, 0.5)]),
        )
    async with pool.acquire() as conn:
        counted = [await counter(conn, k) for k in (a, b)]
    await pool.close()
    assert [(c.used, c.reserved) for c in counted if c is not None] == [(20.0, 0.0), (10.0, 0.0)]


class _AckLost:
    """A pool whose connection breaks just after a transaction committed, before the writer hears
    of it: what PostgreSQL restarting at that moment does (the commit stands, the client sees an error)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def acquire(self, timeout: float | None = None) -> _AckLost:
        self._cm = self.pool.acquire(timeout=timeout)
        return self

    async def __aenter__(self) -> asyncpg.Connection:
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")


async def test_a_settlement_whose_commit_was_not_heard_is_not_charged_twice(conn, database_url: str) -> None:
    from gateway.quota.writer import Writer

    k = key("requests", "day")
    assert await reserve(conn, k, 10.0, 5.0) is not None
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        writer = Writer(_AckLost(pool), db_timeout=5.0)  # type: ignore[arg-type]
        writer.settle(k, 5.0, 3.0)
        assert await writer.flush() is False  # committed, but the writer cannot know
        assert writer.queued_settles == 1
        writer.settle(k, 0.0, 1.0)  # a later settlement waits behind the unheard one
        writer.pool = pool
        assert await writer.flush() is False  # the retry is recognised as done; the later one is left
        assert await writer.flush() is True
    finally:
        await pool.close()
    c = await counter(conn, k)
    assert c is not None and (c.used, c.reserved) == (4.0, 0.0)  # 3 + 1, not 3 + 3 + 1
