"""Reading the ledger from tests: events are written in the background, so poll for them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from tests.conftest import _run


def usage_event(database_url: str, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    return _only_row(database_url, "usage_events", request_id, "usage event", timeout)


def call_features(database_url: str, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The call's features row, once the background extraction and the ledger writer have put it."""
    return _only_row(database_url, "call_features", request_id, "features row", timeout)


def _only_row(database_url: str, table: str, request_id: str, what: str, timeout: float) -> dict[str, Any]:
    """The one row of ``table`` for the call, polled for until ``timeout``."""

    async def fetch() -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                rows = await conn.fetch(f"select * from {table} where request_id = $1::uuid", request_id)
                if rows:
                    assert len(rows) == 1, f"exactly one {what} per call"
                    return dict(rows[0])
                assert time.monotonic() < deadline, f"no {what} for {request_id}"
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    return _run(fetch())
