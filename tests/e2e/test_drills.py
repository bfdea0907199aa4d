"""Failure drills, short: four replicas on one database under load from 16 clients while a replica is
SIGKILLed, PostgreSQL restarts, the key in use is revoked, a broken policy is pushed, or PostgreSQL
becomes unreachable (a PostgreSQL server of the drills' own, so that restarting it touches nothing else).
In every drill each answered call has its usage event (nothing lost). ``tests/drills/run.py`` runs
the same drills at full length and prints the README's table."""

from __future__ import annotations

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
    killed, restarted, revoked, policy, network = outcomes
    # A restart breaks every connection: the replicas reconnect; what they could not write waits.
    assert set(restarted.refused) <= {
        "rate_limited",
        "quota_unavailable",
        "identity_unavailable",
        "kyc_unavailable",
    }
    assert set(killed.refused) <= {"no_answer", "rate_limited"}, killed
    assert "revoked_api_key" in revoked.refused and revoked.note.startswith("0 calls served"), revoked
    assert "reload answered 422 policy_invalid" in policy.note and "NOT kept" not in policy.note, policy
    assert set(policy.refused) <= {"rate_limited"}, policy
    # While PostgreSQL is away the replicas serve from memory: no call is refused for it.
    assert set(network.refused) <= {"rate_limited"}, network


def test_the_table_is_markdown() -> None:
    from tests.drills.harness import HEADER, Outcome

    text = table([Outcome("x", 2, 1, {"rate_limited": 1}, 2, 0, "now")])
    lines = text.splitlines()
    assert lines[0] == "| " + " | ".join(HEADER) + " |"
    assert lines[2] == "| x | 1 | rate_limited 1 | 2 of 2 | 0 | now |  |"
