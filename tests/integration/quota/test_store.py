"""The quota counters in PostgreSQL: exact under concurrency, leases bounded and returned."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest

from gateway.quota.store import CounterKey, counter, lease, reclaim_expired, release, reserve, settle

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def key(dimension: str = "flop") -> CounterKey:
    return CounterKey("customer", str(uuid.uuid4()), dimension, START, END)


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


async def test_settle_releases_the_estimate_and_counts_the_actual(conn) -> None:
    k = key("output_tokens")
    assert await reserve(conn, k, 1000.0, 600.0) is not None
    assert await reserve(conn, k, 1000.0, 600.0) is None  # 600 + 600 > 1000
    c = await settle(conn, k, 600.0, 150.0)  # the answer was shorter than max_tokens
    assert (c.used, c.reserved, c.remaining) == (150.0, 0.0, 850.0)
    refund = await reserve(conn, k, 1000.0, 500.0)
    assert refund is not None
    assert (await settle(conn, k, 500.0, 0.0)).used == 150.0  # upstream error: refunded whole


async def test_leases_are_bounded_by_the_remaining_budget_and_returned_once(conn) -> None:
    k = key("requests")
    first = await lease(conn, k, 100.0, 60.0, "replica-a", dt.timedelta(seconds=30))
    second = await lease(conn, k, 100.0, 60.0, "replica-b", dt.timedelta(seconds=30))
    assert first is not None and second is not None
    assert (first[1], second[1]) == (60.0, 40.0)  # never more than what is left
    assert await lease(conn, k, 100.0, 60.0, "replica-c", dt.timedelta(seconds=30)) is None
    assert await reserve(conn, k, 100.0, 1.0) is None  # leased out: direct reservations wait too
    assert await release(conn, first[0], consumed=10.0)
    assert not await release(conn, first[0], consumed=10.0)  # once only
    c = await counter(conn, k)
    assert c is not None and (c.used, c.leased, c.remaining) == (10.0, 40.0, 50.0)


async def test_an_expired_lease_returns_to_the_pool_counted_as_used(conn) -> None:
    k = key("requests")
    # Taken already expired (by the database's clock), as if its replica had died long ago.
    dead = await lease(conn, k, 100.0, 30.0, "killed-replica", dt.timedelta(seconds=-1))
    assert dead is not None
    assert await reclaim_expired(conn) >= 1
    c = await counter(conn, k)
    assert c is not None and (c.leased, c.used, c.remaining) == (0.0, 30.0, 70.0)
    assert not await release(conn, dead[0], consumed=0.0)  # the dead replica cannot return it twice


async def test_an_operator_lowering_the_limit_applies_at_once(conn) -> None:
    k = key("gpu_seconds")
    assert await reserve(conn, k, 100.0, 50.0) is not None
    assert await reserve(conn, k, 60.0, 20.0) is None  # the limit is now 60: 50 + 20 > 60
    c = await counter(conn, k)
    assert c is not None and c.limit == 60.0


@pytest.mark.parametrize("cost", [0.0, 0.5])
async def test_zero_and_fractional_costs(conn, cost: float) -> None:
    k = key("flop")
    assert await reserve(conn, k, 1.0, cost) is not None
