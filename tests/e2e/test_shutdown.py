"""SIGTERM under load: every call that got a response has exactly one usage event."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import GatewayProcess, new_key

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "load"}]}


async def hammer(url: str, key: str, stop: asyncio.Event, answered: list[str]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(100_000):  # bounded; the gateway going away ends it much sooner
            if stop.is_set():
                return
            try:
                r = await client.post(url, json=CHAT, headers={"authorization": f"Bearer {key}"})
            except httpx.HTTPError:
                return  # the gateway has stopped listening
            if r.status_code == 200:
                answered.append(r.headers["x-request-id"])


@pytest.mark.parametrize("server", ["granian", "uvicorn", "gateway"])
async def test_sigterm_under_load_loses_no_event(
    server: str, gateway_config_file, database_url, tmp_path
) -> None:
    gw = GatewayProcess(gateway_config_file, database_url, tmp_path / "state", server=server).start()
    try:
        created = await asyncio.to_thread(new_key, database_url, gw, f"shutdown-{server}")
        answered: list[str] = []
        stop = asyncio.Event()
        url = gw.url + "/v1/chat/completions"
        workers = [asyncio.create_task(hammer(url, created.key, stop, answered)) for _ in range(16)]
        while len(answered) < 300:
            await asyncio.sleep(0.01)
        gw.proc.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(gw.proc.wait, 60)
        stop.set()
        await asyncio.gather(*workers)
    finally:
        gw.stop(signal.SIGKILL)
    # granian and the own server exit 0; uvicorn re-raises the signal once it has shut down cleanly.
    assert exit_code in (0, -signal.SIGTERM), gw.log()[-2000:]
    assert '"event": "ledger_flushed"' in gw.log()
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select request_id::text as id from usage_events where key_id = $1", created.id
        )
    finally:
        await conn.close()
    recorded = {r["id"] for r in rows}
    assert len(recorded) == len(rows)
    missing = set(answered) - recorded
    assert not missing, f"{len(missing)} of {len(answered)} answered calls have no usage event"
    # Calls cut off by the shutdown may be recorded too (status 499), but never more than were made.
    assert len(recorded) >= len(answered) >= 300
