"""A gateway killed outright under load (SIGKILL: the OOM killer, a node lost) loses none of the calls
it served: each usage event is journaled before its response's last byte, and the next start replays
the journal. The flush interval is set past the test's length, so that the events reach the database
only through the journal; without it, the same kill loses every one of them."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.demo.upstream import DemoUpstream
from tests.drills.harness import kill_tree
from tests.e2e.conftest import GatewayProcess, free_port, gateway_config, new_key, with_settings
from tests.oidc_issuer import TestIssuer

CONCURRENCY = 16
KILL_AFTER = 150  # served calls


@pytest.fixture
def make_gateway(
    upstream: tuple[DemoUpstream, int],
    oidc_issuer: TestIssuer,
    database_url: str,
    tmp_path: Path,
) -> Iterator[object]:
    started: list[GatewayProcess] = []

    def make(journal: bool) -> GatewayProcess:
        config = tmp_path / f"gateway-{journal}.toml"
        base = gateway_config(upstream[1], free_port(), oidc_issuer.issuer).replace(
            "ledger_flush_interval_seconds = 0.05\n", ""
        )
        config.write_text(
            with_settings(
                base,
                # No flush during the drill, by time or by count (the rate limit's 429s are events too).
                "ledger_flush_interval_seconds = 60\nledger_batch_size = 100000\nledger_max_buffer = 200000\n"
                f"ledger_journal = {str(journal).lower()}",
            )
        )
        gw = GatewayProcess(config, database_url, tmp_path / f"state-{journal}").start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.stop()


async def served_until_killed(gw: GatewayProcess, key: str) -> list[str]:
    """Chat calls from 16 clients at once; SIGKILL after 150 are served. The request ids served."""
    served: list[str] = []
    stop = asyncio.Event()

    async def client(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                answer = await http.post(
                    "/v1/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "gpt-test", "messages": [{"role": "user", "content": "kill drill"}]},
                )
            except httpx.HTTPError:
                return  # the gateway is gone
            if answer.status_code == 200:
                served.append(answer.headers["x-request-id"])
                if len(served) >= KILL_AFTER and not stop.is_set():
                    stop.set()
                    assert gw.proc is not None
                    kill_tree(gw.proc.pid)

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=gw.url, timeout=10, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(CONCURRENCY)))
    assert gw.proc is not None and gw.proc.wait(timeout=10) == -signal.SIGKILL
    return served


async def recorded(database_url: str, ids: list[str]) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        found: int = await conn.fetchval(
            "select count(*) from usage_events where request_id = any($1::uuid[])",
            [uuid.UUID(i) for i in ids],
        )
        return found
    finally:
        await conn.close()


async def test_a_killed_gateway_loses_no_call_it_served(make_gateway: object, database_url: str) -> None:
    gw: GatewayProcess = make_gateway(True)  # type: ignore[operator]
    key = await asyncio.to_thread(new_key, database_url, gw, f"kill-co-{uuid.uuid4().hex[:6]}")
    served = await served_until_killed(gw, key.key)
    assert len(served) >= KILL_AFTER
    assert await recorded(database_url, served) == 0  # nothing flushed before the kill: all in the journal
    journals = list((gw.state_dir / "spool").glob("journal-usage-*.jsonl"))
    assert journals, "the killed gateway left its journal"
    # The next start (same state folder) replays it.
    again = GatewayProcess(gw.config, database_url, gw.state_dir)
    await asyncio.to_thread(again.start)
    try:
        deadline = time.monotonic() + 15
        while (found := await recorded(database_url, served)) < len(served):
            assert time.monotonic() < deadline, f"{found} of {len(served)} served calls in the ledger"
            await asyncio.sleep(0.1)
        assert found == len(served)
        assert not any(p.exists() for p in journals)  # replayed, then gone
    finally:
        await asyncio.to_thread(again.stop)


async def test_without_the_journal_the_same_kill_loses_the_calls(
    make_gateway: object, database_url: str
) -> None:
    gw: GatewayProcess = make_gateway(False)  # type: ignore[operator]
    key = await asyncio.to_thread(new_key, database_url, gw, f"nojournal-co-{uuid.uuid4().hex[:6]}")
    served = await served_until_killed(gw, key.key)
    again = GatewayProcess(gw.config, database_url, gw.state_dir)
    await asyncio.to_thread(again.start)
    try:
        assert await recorded(database_url, served) == 0
        assert not list((gw.state_dir / "spool").glob("journal-usage-*.jsonl"))
    finally:
        await asyncio.to_thread(again.stop)
