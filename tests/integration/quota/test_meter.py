"""The quota meter against the real database: leases, refusals, refunds, windows, outages.

Each "replica" is a QuotaMeter with its own caches, as one gateway process has. Clocks are
injected where a test needs a window edge; everything else runs on the real database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from gateway.errors import Forbidden, ServiceUnavailable, TooManyRequests
from gateway.identity import Principal
from gateway.identity.repository import create_key
from gateway.kyc.standing import Standing, StandingCache
from gateway.policy.loader import load_policy, shipped_policy_dir
from gateway.policy.model import ModelPrice
from gateway.quota.meter import QuotaMeter
from gateway.quota.model import Usage
from gateway.quota.overrides import OverrideCache, set_override
from gateway.quota.resolve import estimate_chat
from gateway.quota.store import CounterKey, counter
from tests.conftest import eventually, verified_customer
from tests.tcp_proxy import TcpProxy

POLICY = load_policy(shipped_policy_dir())
ONE = Usage(requests=1)


@dataclass
class Clock:
    """Wall and monotonic time that a test moves by hand."""

    wall: float = field(default_factory=lambda: dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC).timestamp())
    mono: float = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def at(self, when: dt.datetime) -> None:
        """Set the wall clock (backwards too); the monotonic clock only ever moves on."""
        self.wall = when.timestamp()
        self.mono += 3600.0


class Meter(QuotaMeter):
    """A replica's meter, with the standing its KnowCustomer stage would hand it for each caller."""

    def __init__(self, standings: StandingCache, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.standings = standings

    def standing(self, who: Principal) -> Standing | None:
        return self.standings.standing(who.customer_id)


class Replica:
    def __init__(
        self, database_url: str, meter_url: str | None = None, clock: Clock | None = None, **kw: float
    ):
        self.database_url = database_url
        self.meter_url = meter_url or database_url
        self.clock = clock
        self.kw = kw

    async def __aenter__(self) -> Meter:
        self.pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=4)
        self.meter_pool = (
            self.pool
            if self.meter_url == self.database_url
            else await asyncpg.create_pool(self.meter_url, min_size=1, max_size=4)
        )
        url = self.database_url
        self.standings = StandingCache(lambda: asyncpg.connect(url), self.pool, policy=lambda: POLICY)
        self.overrides = OverrideCache(lambda: asyncpg.connect(url), self.pool)
        await self.standings.start()
        await self.overrides.start()
        clocks: dict[str, Callable[[], float]] = {}
        if self.clock is not None:
            clock = self.clock
            clocks = {"wall": lambda: clock.wall, "mono": lambda: clock.mono}
        self.meter = Meter(
            self.standings,
            self.meter_pool,
            self.overrides,
            lambda: POLICY,
            **clocks,
            **self.kw,  # type: ignore[arg-type]
        )
        return self.meter

    async def __aexit__(self, *exc: object) -> None:
        await self.meter.stop(wait=2.0)
        await self.standings.stop()
        await self.overrides.stop()
        if self.meter_pool is not self.pool:
            self.meter_pool.terminate()  # its connections may lead to a cut proxy
        await self.pool.close()


@pytest.fixture
async def caller(conn: asyncpg.Connection) -> Principal:
    customer = await verified_customer(conn, f"meter-{uuid.uuid4().hex[:8]}")
    key = await create_key(conn, str(customer.id), "default")
    project = await conn.fetchval("select project_id from api_keys where id = $1", key.id)
    return Principal(customer.id, project, key.id)


async def limit(
    conn: asyncpg.Connection, who: Principal, dimension: str, value: float, period: str, **kw: object
) -> None:
    await set_override(
        conn, who.customer_id, dimension=dimension, limit=value, period=period, actor="test", **kw
    )  # type: ignore[arg-type]


async def known(meter: Meter, who: Principal, source: str) -> None:
    """Wait until the replica's caches have this customer and the override named by ``source``."""

    async def ready() -> bool:
        try:
            return any(a.limit.source.startswith(source) for a in meter.limits(who, meter.standing(who)))
        except ServiceUnavailable:
            return False

    await eventually(ready, timeout=2.0)


async def admitted(meter: Meter, who: Principal, n: int, usage: Usage = ONE) -> int:
    count = 0
    for _ in range(n):
        try:
            (await meter.admit(who, meter.standing(who), usage)).settle(usage)
            count += 1
        except TooManyRequests:
            pass
    return count


def refusal(exc: pytest.ExceptionInfo[TooManyRequests]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in exc.value.headers}


async def test_a_budget_admits_its_limit_then_refuses_with_the_headers_clients_read(
    conn, caller, database_url
) -> None:
    await limit(conn, caller, "requests", 5, "day")
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 5) == 5
        with pytest.raises(TooManyRequests) as refused:
            await meter.admit(caller, meter.standing(caller), ONE)
    assert refused.value.code == "budget_exhausted" and refused.value.status == 429
    assert "requests <= 5 per day" in refused.value.message
    h = refusal(refused)
    assert h["ratelimit-policy"] == '"customer-requests-day";q=5;w=86400'
    assert h["ratelimit"].startswith('"customer-requests-day";r=0;t=')
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("5", "0")
    assert int(h["retry-after"]) > 60 and h["x-should-retry"] == "false"  # tomorrow: SDKs should not spin
    c = await counter(conn, CounterKey("customer", str(caller.customer_id), "requests", "day",
                                       *_day(dt.datetime.now(dt.UTC))))  # fmt: skip
    assert c is not None and (c.used, c.leased) == (5.0, 0.0)  # returned on stop, every request counted


def _day(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


async def test_a_smooth_rate_says_how_long_to_wait_and_admits_after_it(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 2, "second", scope="key", scope_name=caller.key_id)
    clock = Clock()
    clock.advance(0.9)  # 12:00:00.9
    async with Replica(database_url, clock=clock) as meter:
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 2) == 2
        clock.advance(0.1)  # a new second: a fixed window would admit 2 more at once, GCRA spreads them
        with pytest.raises(TooManyRequests) as refused:
            await meter.admit(caller, meter.standing(caller), ONE)
        h = refusal(refused)
        assert refused.value.code == "rate_limited"
        assert h["retry-after-ms"] == "400" and h["retry-after"] == "1"
        assert h["ratelimit-policy"] == '"key-requests-second";q=2;w=1'
        clock.advance(0.4)
        assert await admitted(meter, caller, 2) == 1  # exactly when it said, and one only
        clock.advance(0.6)  # 12:00:02.0: this second's window is full after 2
        assert await admitted(meter, caller, 1) == 1


async def test_an_admitted_request_says_where_the_caller_stands(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 10, "day")
    await limit(conn, caller, "requests", 4, "second", scope="key", scope_name=caller.key_id)
    await limit(conn, caller, "output_tokens", 1000, "day")
    clock = Clock()  # 12:00:00 UTC
    async with Replica(database_url, clock=clock) as meter:
        await known(meter, caller, "override:")
        first = await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=100))
        h = {k.decode(): v.decode() for k, v in first.headers()}
        # Requests: 9 of 10 left today, 3 of 4 this second: the rate is closer to exhaustion.
        assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]) == ("4", "3")
        assert h["x-ratelimit-reset-requests"] == "250ms"  # one request's share of the second
        assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"]) == ("1000", "900")
        assert h["x-ratelimit-reset-tokens"] == "12h0m0s"  # the day's end, in UTC
        assert h["ratelimit-policy"] == '"key-requests-second";q=4;w=1'
        assert h["ratelimit"] == '"key-requests-second";r=3;t=1'
        first.settle(Usage(requests=1, output_tokens=20))
        clock.advance(0.5)  # the rate has recovered: now the budgets are the tightest
        second = await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=700))
        h = {k.decode(): v.decode() for k, v in second.headers()}
        assert h["x-ratelimit-remaining-requests"] == "3"  # 4 x (1 - 0.25 s ahead): the rate again
        assert h["x-ratelimit-remaining-tokens"] == "280"  # 1000 - 20 used - 700 in flight
        assert h["ratelimit"].startswith('"customer-output_tokens-day";r=280;t=')
        second.settle(Usage(requests=1, output_tokens=700))


async def test_what_a_request_did_not_use_is_given_back(conn, caller, database_url) -> None:
    await limit(conn, caller, "output_tokens", 1000, "day")
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        first = await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=1000))
        with pytest.raises(TooManyRequests):
            await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=1))
        first.settle(Usage())  # the upstream failed: nothing used, all refunded
        second = await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=1000))
        second.settle(Usage(requests=1, output_tokens=300))  # a shorter answer than max_tokens
        third = await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=700))
        third.settle(Usage(requests=1, output_tokens=700))
        with pytest.raises(TooManyRequests):
            await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=1))


async def test_a_request_larger_than_the_whole_limit_is_told_not_to_retry(conn, caller, database_url) -> None:
    await limit(conn, caller, "output_tokens", 100, "day")
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        with pytest.raises(TooManyRequests) as refused:
            await meter.admit(caller, meter.standing(caller), Usage(requests=1, output_tokens=4096))
    h = refusal(refused)
    assert h["x-should-retry"] == "false" and "retry-after" not in h


async def test_a_hard_budget_is_reserved_in_the_database_per_request(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 3, "month", hard=True)
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        held = [await meter.admit(caller, meter.standing(caller), ONE) for _ in range(3)]
        rows = await conn.fetch(
            "select reserved, leased from quota_counters where scope_id = $1 and dimension = 'requests'"
            " and \"window\" = 'month'",
            str(caller.customer_id),
        )
        assert [(r["reserved"], r["leased"]) for r in rows] == [(3.0, 0.0)]  # no lease: in the database
        with pytest.raises(TooManyRequests) as refused:
            await meter.admit(caller, meter.standing(caller), ONE)
        assert refused.value.code == "budget_exhausted"
        held[0].settle(ONE)
        held[1].settle(Usage())  # refunded: room for one more
        await meter.flush()
        (await meter.admit(caller, meter.standing(caller), ONE)).settle(ONE)
        held[2].settle(ONE)
    used = await conn.fetchval(
        "select used from quota_counters where scope_id = $1 and \"window\" = 'month' and dimension = 'requests'",
        str(caller.customer_id),
    )
    assert used == 3.0


async def test_spend_is_counted_in_money_and_what_has_no_price_is_refused(conn, caller, database_url) -> None:
    # $0.01 a day at $1 / $2 per million tokens: an estimate of 1,000 in and 2,000 out costs $0.005.
    await limit(conn, caller, "spend", 0.01, "day")
    price = ModelPrice(models=("m",), input_per_million=1.0, output_per_million=2.0)
    estimate = estimate_chat(4000, 2000, price=price)
    assert estimate.spend == pytest.approx(0.005, rel=1e-12)
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        with pytest.raises(Forbidden) as unpriced:
            await meter.admit(caller, meter.standing(caller), estimate_chat(4000, 2000, price=None))
        assert (unpriced.value.status, unpriced.value.code) == (403, "unpriced")
        first = await meter.admit(caller, meter.standing(caller), estimate)
        second = await meter.admit(caller, meter.standing(caller), estimate)
        with pytest.raises(TooManyRequests) as refused:
            await meter.admit(caller, meter.standing(caller), estimate)
        assert refused.value.code == "budget_exhausted" and "spend <= 0.01 per day" in refused.value.message
        first.settle(Usage(requests=1, input_tokens=1000, output_tokens=500, spend=price.cost(1000, 500)))
        second.settle(Usage(requests=1, input_tokens=1000, output_tokens=500, spend=price.cost(1000, 500)))
        # $0.004 spent: the $0.005 estimate of a third request fits again.
        (await meter.admit(caller, meter.standing(caller), estimate)).settle(Usage(requests=1, spend=0.001))
    c = await counter(conn, CounterKey("customer", str(caller.customer_id), "spend", "day",
                                       *_day(dt.datetime.now(dt.UTC))))  # fmt: skip
    assert c is not None and c.used == pytest.approx(0.005, rel=1e-9) and c.leased == 0.0


async def test_without_a_spend_limit_an_unpriced_request_is_served(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 5, "day")
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        (await meter.admit(caller, meter.standing(caller), estimate_chat(40, 10, price=None))).settle(ONE)


async def test_without_a_standing_or_its_entitlement_quota_fails_closed(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 5, "day")
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        standing = meter.standing(caller)
        assert standing is not None
        unentitled = Standing(
            standing.status, standing.expires_at, standing.sanctions, standing.facts, None, standing.tz
        )
        for missing in (None, unentitled):
            with pytest.raises(ServiceUnavailable) as down:
                await meter.admit(caller, missing, ONE)
            assert (down.value.status, down.value.code) == (503, "quota_unavailable")
            with pytest.raises(ServiceUnavailable) as down:
                await meter.reserve_in_database(caller, missing, Usage(gpu_seconds=60.0))
            assert (down.value.status, down.value.code) == (503, "quota_unavailable")
        (await meter.admit(caller, standing, ONE)).settle(ONE)


async def test_two_replicas_together_admit_exactly_the_budget(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 37, "day")
    async with Replica(database_url) as a, Replica(database_url) as b:
        await known(a, caller, "override:")
        await known(b, caller, "override:")

        async def hammer(meter: Meter) -> int:
            return await admitted(meter, caller, 60)

        counts = await asyncio.gather(hammer(a), hammer(b), hammer(a), hammer(b))
    assert sum(counts) == 37
    assert min(counts[0] + counts[2], counts[1] + counts[3]) > 0  # both replicas served some


async def test_windows_follow_the_customers_midnight_across_a_clock_change(
    conn, caller, database_url
) -> None:
    await conn.execute(
        "update customers set time_zone = 'America/New_York' where id = $1", caller.customer_id
    )
    await limit(conn, caller, "requests", 2, "day")
    await limit(conn, caller, "requests", 3, "month")
    clock = Clock()
    # 23:59:59.5 on Saturday 7 March 2026 in New York (EST, UTC-5); clocks go forward that night.
    clock.at(dt.datetime(2026, 3, 8, 4, 59, 59, 500000, tzinfo=dt.UTC))
    async with Replica(database_url, clock=clock) as meter:
        await eventually(lambda: _zone_is(meter, caller, "America/New_York"), timeout=2.0)
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 3) == 2  # the daily budget
        clock.advance(0.6)  # 00:00:00.1 local: a new day, same month
        assert await admitted(meter, caller, 3) == 1  # now the month's 3 are used
        clock.at(dt.datetime(2026, 4, 1, 3, 59, 59, tzinfo=dt.UTC))  # 31 March 23:59:59 EDT
        assert await admitted(meter, caller, 1) == 0
        clock.advance(1.5)  # 1 April, local
        assert await admitted(meter, caller, 3) == 2
    windows = await conn.fetch(
        'select "window", window_start, window_end from quota_counters'
        " where scope_id = $1 and dimension = 'requests' and \"window\" in ('day', 'month') order by 1, 2",
        str(caller.customer_id),
    )
    utc = dt.UTC
    assert [(w["window"], w["window_start"], w["window_end"]) for w in windows] == [
        ("day", dt.datetime(2026, 3, 7, 5, tzinfo=utc), dt.datetime(2026, 3, 8, 5, tzinfo=utc)),
        # The day of the change is 23 hours long: midnight EST to midnight EDT.
        ("day", dt.datetime(2026, 3, 8, 5, tzinfo=utc), dt.datetime(2026, 3, 9, 4, tzinfo=utc)),
        ("day", dt.datetime(2026, 3, 31, 4, tzinfo=utc), dt.datetime(2026, 4, 1, 4, tzinfo=utc)),
        ("day", dt.datetime(2026, 4, 1, 4, tzinfo=utc), dt.datetime(2026, 4, 2, 4, tzinfo=utc)),
        ("month", dt.datetime(2026, 3, 1, 5, tzinfo=utc), dt.datetime(2026, 4, 1, 4, tzinfo=utc)),
        ("month", dt.datetime(2026, 4, 1, 4, tzinfo=utc), dt.datetime(2026, 5, 1, 4, tzinfo=utc)),
    ]


async def _zone_is(meter: Meter, who: Principal, zone: str) -> bool:
    standing = meter.standing(who)
    return standing is not None and str(standing.tz) == zone


async def test_a_rolling_budget_counts_the_last_days(conn, caller, database_url) -> None:
    await set_override(conn, caller.customer_id, dimension="requests", limit=3, rolling_days=2, actor="test")
    clock = Clock()
    async with Replica(database_url, clock=clock) as meter:
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 2) == 2
        clock.advance(36 * 3600)
        meter.sweep()  # as the sweeper would by now: the last hour's leases go back
        await meter.flush()
        assert await admitted(meter, caller, 3) == 1  # the first two are still inside the 2 days
        clock.advance(13 * 3600)  # 49 h after the first two: out of the window (hour buckets)
        assert await admitted(meter, caller, 3) == 2


async def test_leases_come_back_on_shutdown_and_a_dead_replicas_expire(conn, caller, database_url) -> None:
    await limit(conn, caller, "requests", 100, "day")
    scope_id = str(caller.customer_id)
    async with Replica(database_url) as meter:
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 3) == 3
        replica = meter.replica
        assert await conn.fetchval("select count(*) from quota_leases where replica = $1", replica) > 0
    assert await conn.fetchval("select count(*) from quota_leases where replica = $1", replica) == 0
    row = await conn.fetchrow(
        "select used, leased from quota_counters where scope_id = $1 and \"window\" = 'day'", scope_id
    )
    assert (row["used"], row["leased"]) == (3.0, 0.0)

    # A replica that dies holding a lease: it is never returned, and expires.
    dead = Replica(database_url, lease_ttl=1.0)
    meter = await dead.__aenter__()
    await known(meter, caller, "override:")
    assert await admitted(meter, caller, 1) == 1
    lease_amount = await conn.fetchval(
        "select sum(amount) from quota_leases where replica = $1 and \"window\" = 'day'", meter.replica
    )
    for task in meter._tasks:
        task.cancel()
    meter.local.slots.clear()  # as if the process were gone: nothing will return its lease
    await dead.standings.stop()
    await dead.overrides.stop()
    await dead.pool.close()

    async with Replica(database_url) as survivor:

        async def reclaimed() -> bool:
            await survivor.leasing.housekeep()
            return (
                await conn.fetchval("select count(*) from quota_leases where replica = $1", meter.replica)
                == 0
            )

        await eventually(reclaimed, timeout=5.0, interval=0.2)
    row = await conn.fetchrow(
        "select used, leased from quota_counters where scope_id = $1 and \"window\" = 'day'", scope_id
    )
    # Counted as used, whole: the dead replica may have served all of it.
    assert (row["used"], row["leased"]) == (3.0 + lease_amount, 0.0)


async def test_with_the_database_gone_it_serves_from_leases_then_fails_closed(
    conn, caller, database_url
) -> None:
    await limit(conn, caller, "requests", 1000, "day")
    host, port = "127.0.0.1", int(database_url.rsplit(":", 1)[1].split("/")[0])
    proxy = await TcpProxy(host, port).start()
    through = database_url.replace(f":{port}/", f":{proxy.port}/")
    clock = Clock()
    async with Replica(database_url, meter_url=through, clock=clock) as meter:
        await known(meter, caller, "override:")
        assert await admitted(meter, caller, 1) == 1  # takes a lease of 100 (lease_fraction 0.1)
        await proxy.cut()
        served = 0
        with pytest.raises(ServiceUnavailable) as down:
            while True:
                clock.advance(0.05)  # 20 a second: within the plan's 50 a second per key
                (await meter.admit(caller, meter.standing(caller), ONE)).settle(ONE)
                served += 1
        assert down.value.code == "quota_unavailable" and down.value.status == 503
        assert served == 99  # the rest of the lease, from memory
        await proxy.restore()
        await eventually(meter.flush, timeout=10.0, interval=0.2)  # returned once it is back
        clock.advance(1.0)  # after a failure, refills wait a second rather than each hitting the outage
        assert await admitted(meter, caller, 1) == 1
    row = await conn.fetchrow(
        "select used, leased from quota_counters where scope_id = $1 and \"window\" = 'day'",
        str(caller.customer_id),
    )
    assert (row["used"], row["leased"]) == (101.0, 0.0)  # nothing lost
    await proxy.cut()
