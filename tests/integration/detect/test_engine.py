"""detect() on a real PostgreSQL ledger: a synthetic week with planted campaigns
(tests/detect_scenario.py), call features and payment fingerprints written directly."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.db.migrate import migrate
from gateway.detect.engine import detect
from gateway.policy import load_policy
from tests.detect_scenario import SINCE, UNTIL, Scenario, build, load

POLICY = load_policy()


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build(7, ordinary=150, ring_payment=40, ring_templates=50, scale=0.4)


@pytest.fixture
async def db(empty_database_url: str, scenario: Scenario) -> AsyncIterator[asyncpg.Connection]:
    """The detector scores every active account: a database no other test fills."""
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    await load(conn, scenario)
    await conn.execute("analyze call_features")
    yield conn
    await conn.close()


async def test_detect_finds_the_planted_campaigns_and_nothing_else(
    db: asyncpg.Connection, scenario: Scenario
) -> None:
    started = time.perf_counter()
    found = await detect(db, POLICY, SINCE, UNTIL, now=UNTIL)
    elapsed = time.perf_counter() - started
    label = {a.id: a.label for a in scenario.accounts}
    by_kind: dict[str, list[set[uuid.UUID]]] = {}
    for f in found:
        by_kind.setdefault(f.kind, []).append(set(f.members))
        assert 0 <= f.score <= 1 and f.score >= POLICY.detection.actions.flag
        assert f.reasons and f.signals and f.since == SINCE and f.until == UNTIL
        assert f.first_seen >= SINCE
    assert sorted(by_kind) == ["extractor", "reseller", "ring"]
    assert by_kind["extractor"] == [scenario.labelled("extractor")]
    assert by_kind["reseller"] == [scenario.labelled("reseller")]
    rings = sorted(by_kind["ring"], key=len)
    assert rings == sorted([scenario.labelled("ring_payment"), scenario.labelled("ring_templates")], key=len)
    flagged = {label[m] for f in found for m in f.members}
    assert flagged.isdisjoint({"ordinary", "app", "lab", "batch"})
    payment_ring = next(
        f for f in found if f.kind == "ring" and set(f.members) == scenario.labelled("ring_payment")
    )
    assert any(lk.hard and lk.kind == "payment" for lk in payment_ring.links)
    assert payment_ring.first_seen >= SINCE + dt.timedelta(days=1)  # the ring started on day two
    template_ring = next(f for f in found if f.kind == "ring" and f is not payment_ring)
    assert template_ring.signals["sync"] > 0.3 and template_ring.signals["hard_linked_share"] == 0
    assert elapsed < 10


async def test_detect_is_deterministic_and_scores_only_its_window(db: asyncpg.Connection) -> None:
    first = await detect(db, POLICY, SINCE, UNTIL, now=UNTIL)
    assert await detect(db, POLICY, SINCE, UNTIL, now=UNTIL) == first
    assert await detect(db, POLICY, SINCE - dt.timedelta(days=7), SINCE, now=UNTIL) == []
    assert await detect(db, POLICY, SINCE, UNTIL, now=SINCE) == []  # nothing lived yet
    async with db.transaction():  # inside the caller's transaction, the same answer
        assert await detect(db, POLICY, SINCE, UNTIL, now=UNTIL) == first
