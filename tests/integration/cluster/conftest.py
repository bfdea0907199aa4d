from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool for a follower under test (as a gateway process has one)."""
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield p
    await p.close()
