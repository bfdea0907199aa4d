"""The gateway behind PgBouncer in transaction mode, as a provider runs many replicas on one database:
its pool goes through the pooler (``db_statement_cache_size = 0`` for PgBouncer before 1.21), while
what needs a session of its own (the caches' LISTEN connections, the migrations' lock, the
``gateway`` command) goes straight to PostgreSQL (``database_direct_url``)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from gateway.demo.upstream import DemoUpstream
from gateway.identity.repository import revoke_key
from tests.conftest import _run
from tests.e2e.conftest import GatewayProcess, free_port, gateway_config, new_key, with_settings
from tests.oidc_issuer import TestIssuer
from tests.pgbouncer import BINARY, PgBouncer, available

CALLS = 200


@pytest.fixture(scope="module")
def pooler() -> Iterator[PgBouncer]:
    if not available():
        pytest.skip(
            f"no PgBouncer at {BINARY}: Debian's pgbouncer package is needed (`make test` installs it where apt can)"
        )
    bouncer = PgBouncer().start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def pooled_gateway(
    pooler: PgBouncer,
    upstream: tuple[DemoUpstream, int],
    oidc_issuer: TestIssuer,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("pooled")
    config = folder / "gateway.toml"
    base = gateway_config(upstream[1], free_port(), oidc_issuer.issuer)
    config.write_text(
        with_settings(base, f'database_direct_url = "{database_url}"\ndb_statement_cache_size = 0')
    )
    gw = GatewayProcess(config, pooler.url(database_url), folder / "state").start()
    yield gw
    gw.stop()


def pooler_stats(pooler: PgBouncer, database: str) -> dict[str, int]:
    """PgBouncer's own counters for ``database`` (its admin console speaks the simple protocol only)."""
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(pooler.port), "-U", "postgres", "-At", "-F", "|", "pgbouncer",
         "-c", "SHOW STATS"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout  # fmt: skip
    header = ["database", "total_xact_count", "total_query_count"]
    for line in out.splitlines():
        fields = line.split("|")
        if fields[0] == database:
            return dict(zip(header[1:], (int(fields[1]), int(fields[2])), strict=True))
    return {"total_xact_count": 0, "total_query_count": 0}


async def _chat(client: httpx.AsyncClient, key: str, gate: asyncio.Semaphore) -> int:
    async with gate:
        answer = await client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "through the pooler"}]},
        )
        return answer.status_code


async def _events(database_url: str, customer: str) -> tuple[int, int]:
    """The customer's chat calls in the ledger: all of them, and those served."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "select count(*), count(*) filter (where e.status = 200) from usage_events e"
            " join customers c on c.id = e.customer_id where c.name = $1 and e.model = 'gpt-test'",
            customer,
        )
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


def test_behind_pgbouncer_every_call_is_served_and_recorded_and_a_revocation_is_heard(
    pooled_gateway: GatewayProcess, pooler: PgBouncer, database_url: str
) -> None:
    database = database_url.rsplit("/", 1)[1]
    before = pooler_stats(pooler, database)["total_xact_count"]
    key = new_key(database_url, pooled_gateway, "pooled-co")

    async def load() -> list[int]:
        gate = asyncio.Semaphore(20)
        async with httpx.AsyncClient(base_url=pooled_gateway.url, timeout=30) as client:
            return await asyncio.gather(*(_chat(client, key.key, gate) for _ in range(CALLS)))

    statuses = _run(load())
    # The tier's 50 requests a second per key refuse some of them: the quota's counters and leases
    # work through the pooler too, and a refused call is a usage event like a served one.
    served = statuses.count(200)
    assert set(statuses) <= {200, 429} and served >= 50, statuses
    deadline = time.monotonic() + 15
    while (recorded := _run(_events(database_url, "pooled-co")))[0] < CALLS:
        assert time.monotonic() < deadline, f"{recorded} of {CALLS} calls in the ledger"
        time.sleep(0.05)
    assert recorded == (CALLS, served)
    # The ledger's batches, the quota's leases and the key lookups went through the pooler.
    assert pooler_stats(pooler, database)["total_xact_count"] > before

    # A revocation is heard at once (LISTEN on the direct connection), not at the next resync.
    async def revoke() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await revoke_key(conn, key.id)
        finally:
            await conn.close()

    _run(revoke())
    deadline = time.monotonic() + 5
    while (
        httpx.get(
            pooled_gateway.url + "/v1/models", headers={"authorization": f"Bearer {key.key}"}
        ).status_code
        != 401
    ):
        assert time.monotonic() < deadline, "the revocation did not reach the gateway"
        time.sleep(0.02)
