"""Reading the ledger from tests: events are written in the background, so poll for them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from tests.conftest import _run


def usage_event(database_url: str, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                rows = await conn.fetch("select * from usage_events where request_id = $1::uuid", request_id)
                if rows:
                    assert len(rows) == 1, "exactly one usage event per call"
                    return dict(rows[0])
                assert time.monotonic() < deadline, f"no usage event for {request_id}"
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    return _run(fetch())


def call_features(database_url: str, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The call's features row, once the background extraction and the ledger writer have put it."""

    async def fetch() -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                rows = await conn.fetch("select * from call_features where request_id = $1::uuid", request_id)
                if rows:
                    assert len(rows) == 1, "exactly one features row per call"
                    return dict(rows[0])
                assert time.monotonic() < deadline, f"no call features for {request_id}"
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    return _run(fetch())
