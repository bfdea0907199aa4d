from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway.audit import log
from gateway.audit.entry import AuditEntry, entry
from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.db.migrate import migrate

ORIGIN = "test.example/audit"


@pytest.fixture
async def fresh(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own: these tests tamper with the log, which the shared one must never see."""
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    yield conn
    await conn.close()


@pytest.fixture(scope="session")
def keys() -> SigningKeys:
    return SigningKeys.parse(ORIGIN, new_key_spec(1))


def item(i: int, kind: str = "test.event") -> AuditEntry:
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
    return entry(kind, actor="test", at=at, subject=f"thing:{i}", data={"n": i})


async def fill(conn: asyncpg.Connection, count: int, start: int = 0, per_transaction: int = 7) -> None:
    for first in range(start, start + count, per_transaction):
        await log.append(conn, [item(i) for i in range(first, min(first + per_transaction, start + count))])
