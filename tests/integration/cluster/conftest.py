from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.ledger.writer import LedgerWriter


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool for a follower under test (as a gateway process has one)."""
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield p
    await p.close()


@pytest.fixture
async def ledger(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[LedgerWriter]:
    """The ledger a follower writes settled jobs' compute events to, flushing often."""
    writer = LedgerWriter(pool, tmp_path / "spool", batch_size=100, flush_interval=0.02)
    await writer.start()
    yield writer
    await writer.stop()
