"""Failure drills, short: four replicas on one database under load from 16 clients while a replica is
SIGKILLed, the key in use is revoked, a broken policy is pushed, or PostgreSQL becomes unreachable.
In every drill each answered call has its usage event (nothing lost). ``tests/drills/run.py`` runs
the same drills at full length and prints the README's table."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.demo.upstream import DemoUpstream
from tests.drills import drills
from tests.drills.harness import table
from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess, free_port, gateway_config, with_settings
from tests.oidc_issuer import TestIssuer
from tests.tcp_proxy import TcpProxy

REPLICAS = 4


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def replicas(
    upstream: tuple[DemoUpstream, int],
    oidc_issuer: TestIssuer,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[drills.Replicas]:
    import asyncio
    from urllib.parse import urlsplit

    folder = tmp_path_factory.mktemp("drills")
    policy_dir = folder / "policies"
    policy_dir.mkdir()
    direct = urlsplit(database_url)
    proxy = await TcpProxy(direct.hostname or "127.0.0.1", direct.port or 5432).start()
    through = database_url.replace(f"{direct.hostname}:{direct.port}", f"127.0.0.1:{proxy.port}")
    config = folder / "gateway.toml"
    base = gateway_config(upstream[1], free_port(), oidc_issuer.issuer)
    config.write_text(with_settings(base, f'policy_dir = "{policy_dir}"'))
    gateways = [GatewayProcess(config, through, folder / f"state-{i}") for i in range(REPLICAS)]
    await asyncio.gather(*(asyncio.to_thread(g.start) for g in gateways))
    assert hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest() in config.read_text()
    cluster = drills.Replicas(gateways, database_url, proxy, policy_dir, ADMIN_TOKEN)
    yield cluster
    await asyncio.gather(*(asyncio.to_thread(g.stop) for g in cluster.gateways))
    await proxy.cut()


@pytest.mark.asyncio(loop_scope="session")
async def test_drills_lose_no_usage_event(replicas: drills.Replicas) -> None:
    outcomes = [
        await drills.replica_killed(replicas),
        await drills.key_revoked(replicas),
        await drills.bad_policy(replicas),
        await drills.network_cut(replicas, seconds=3.0),
    ]
    print("\n" + table(outcomes))
    for o in outcomes:
        assert o.lost == 0, o
        assert o.served > 0, o
    killed, revoked, policy, network = outcomes
    assert set(killed.refused) <= {"no_answer", "rate_limited"}, killed
    assert "revoked_api_key" in revoked.refused and revoked.note.startswith("0 calls served after"), revoked
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
