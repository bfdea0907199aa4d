"""The scale runs' direct ledger path: usage_events and synthetic call_features rows by COPY."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from gateway.db.migrate import migrate
from tests.conftest import kyc_service, make_database
from tests.traffic.generator import Config, generate
from tests.traffic.seed import seed_customers
from tests.traffic.synthetic import copy_calls, features

TRAFFIC = generate(Config.small(seed=9))


@pytest.fixture(scope="module")
def own_database_url(admin_url: str) -> Iterator[str]:
    url, drop = make_database(admin_url)
    yield url
    drop()


@pytest.fixture(scope="module")
async def pool(own_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(own_database_url)
    await migrate(conn)
    await seed_customers(conn, TRAFFIC.customers, kyc_service(), now=TRAFFIC.start, jurisdictions=False)
    await conn.close()
    async with asyncpg.create_pool(own_database_url, min_size=1, max_size=2) as p:
        yield p


async def test_rows_land_beside_each_other_and_join_the_seeded_keys(pool: asyncpg.Pool) -> None:
    calls = list(itertools.islice(TRAFFIC.calls(), 3000))
    by_id = {c.id: c for c in TRAFFIC.customers}
    assert await copy_calls(pool, calls, by_id, batch=1000) == 3000
    async with pool.acquire() as conn:
        joined = await conn.fetchval(
            "select count(*) from usage_events u join call_features f using (request_id, occurred_at)"
            " join api_keys k on k.id = u.key_id and k.customer_id = u.customer_id and k.project_id = u.project_id"
        )
        assert joined == 3000
        bands = await conn.fetchval("select min(cardinality(bands)) from call_features")
        assert bands == 16


def test_templated_prompts_share_most_bands_free_text_shares_none() -> None:
    calls = list(itertools.islice(TRAFFIC.calls(), 4000))
    ring_calls = (c for c in TRAFFIC.calls() if c.template and c.template.startswith("ring_linked"))
    ring_of = list(itertools.islice(ring_calls, 400))
    ring = [features(c) for c in ring_of]
    same = [f for c, f in zip(ring_of, ring, strict=True) if c.template == ring_of[0].template][:20]
    assert len(same) >= 5
    # A template with word slots gives many skeletons (as the real extractor does), not one.
    assert len({f.template_fp for f in same}) > 1
    shared = [len(set(a.bands) & set(b.bands)) for a, b in itertools.pairwise(same)]
    assert min(shared) >= 4 and sum(shared) / len(shared) >= 9
    free = [features(c) for c in calls if c.template is None][:50]
    assert all(not set(a.bands) & set(b.bands) for a, b in itertools.pairwise(free))
    assert {f.system_fp for f in free if f.system_fp is not None}
    assert all(isinstance(f.occurred_at, dt.datetime) for f in free)
