"""Failure drills, short: four replicas on one database under load from 16 clients while a replica is
SIGKILLed, PostgreSQL restarts, the key in use is revoked, a broken policy is pushed, PostgreSQL
becomes unreachable, or one replica's spool disk fills (a PostgreSQL server of the drills' own, so
that restarting it touches nothing else; a tmpfs for the disk). In every drill each answered call has
its usage event (nothing lost), and a customer's hard budget, exhausted by the load, is not exceeded
(no overshoot). ``tests/drills/run.py`` runs the same drills at full length and prints the README's
table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.demo.upstream import DemoUpstream
from tests.drills import drills, postgres
from tests.drills.harness import table
from tests.oidc_issuer import TestIssuer

REPLICAS = 4


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def replicas(
    upstream: tuple[DemoUpstream, int], oidc_issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[drills.Replicas]:
    if not postgres.available():
        pytest.skip(
            "no PostgreSQL server binaries under /usr/lib/postgresql: the drills run a server of their own"
        )
    cluster, pg = await drills.start(
        upstream[1], oidc_issuer.issuer, tmp_path_factory.mktemp("drills"), REPLICAS
    )
    yield cluster
    await drills.stop(cluster, pg)


@pytest.mark.asyncio(loop_scope="session")
async def test_drills_lose_no_usage_event(replicas: drills.Replicas) -> None:
    outcomes = [
        await drills.replica_killed(replicas),
        await drills.postgres_restarted(replicas),
        await drills.key_revoked(replicas),
        await drills.bad_policy(replicas),
        await drills.network_cut(replicas, seconds=3.0),
    ]
    print("\n" + table(outcomes))
    for o in outcomes:
        assert o.lost == 0, o
        assert o.served > 0, o
        assert o.budget is not None and o.budget.exhausted, o  # the load reached the hard budget ...
        assert o.overshoot == 0, o  # ... and no replica served beyond it
    killed, restarted, revoked, policy, network = outcomes
    # A restart breaks every connection: the replicas reconnect; what they could not write waits.
    assert set(restarted.refused) <= {
        "rate_limited",
        "budget_exhausted",
        "quota_unavailable",
        "identity_unavailable",
        "kyc_unavailable",
    }
    assert set(killed.refused) <= {"no_answer", "rate_limited", "budget_exhausted"}, killed
    assert "revoked_api_key" in revoked.refused and revoked.note.startswith("0 calls served"), revoked
    assert "reload answered 422 policy_invalid" in policy.note and "NOT kept" not in policy.note, policy
    assert set(policy.refused) <= {"rate_limited", "budget_exhausted"}, policy
    # While PostgreSQL is away the replicas serve from memory: no call is refused for it, but the
    # hard budget's (reserved in the database: fail closed).
    assert set(network.refused) <= {"rate_limited", "budget_exhausted", "quota_unavailable"}, network


@pytest.mark.asyncio(loop_scope="session")
async def test_a_full_spool_disk_serves_on_while_the_database_takes_events_then_fails_closed(
    replicas: drills.Replicas,
) -> None:
    if replicas.disk is None:
        pytest.skip(f"no small disk to fill: {replicas.no_disk}")
    full = await drills.disk_full(replicas, seconds=2.0)
    print("\n" + table([full]))
    assert full.lost == 0, full  # the refused calls' events too: spooled once space was back, then written
    assert full.budget is not None and full.budget.exhausted and full.overshoot == 0, full
    assert full.refused.get("ledger_unavailable", 0) > 0, full
    assert "served 0 calls" not in full.note and "journal failing" in full.note, full
    assert "not ready: refusing calls" in full.note and "accepting again" in full.recovery, full


def test_the_table_is_markdown() -> None:
    from tests.drills.harness import HEADER, Budget, Outcome

    budget = Budget(uuid.uuid4(), 0, 5, served=5, counted=5.0, exhausted=True)
    text = table(
        [
            Outcome("x", 2, 1, {"rate_limited": 1}, 2, 0, "now", budget=budget),
            Outcome("y", 0, 0, {}, 0, 0, "-"),
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "| " + " | ".join(HEADER) + " |"
    assert lines[2] == "| x | 1 | rate_limited 1 | 2 of 2 | 0 | 5 of 5 | 0 | now |  |"
    assert lines[3] == "| y | 0 | none | 0 of 0 | 0 | none | - | - |  |"
    assert Budget(uuid.uuid4(), 0, 5, served=6, counted=6.0).overshoot == 1  # served beyond the limit
    off = Budget(uuid.uuid4(), 0, 5, served=5, counted=6.0, reserved=1.0, exhausted=True)
    assert (off.overshoot, off.cell()) == (0, "5 of 5; counter: 6 used, 1 left reserved")
