"""Batched audit appends: written in order, spooled while the database is down, appended after."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import asyncpg
import pytest

from gateway.audit import log
from gateway.audit.entry import EntryError, decimal, entry, parse
from gateway.audit.writer import AuditWriter
from tests.integration.audit.conftest import item


async def test_entries_recorded_while_the_database_is_down_are_spooled_then_appended_in_order(
    fresh, empty_database_url: str, tmp_path: Path
) -> None:
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    writer = AuditWriter(dead, tmp_path, batch_size=2, flush_interval=0.01)
    for i in range(5):
        writer.record(item(i))
    await writer.stop()  # cannot append: spooled
    await dead.close()
    (spooled,) = tmp_path.glob("audit-*.jsonl")
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o600 and writer.spooled == 5

    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        replayer = AuditWriter(pool, tmp_path, batch_size=2, flush_interval=0.01)
        await replayer.start()
        replayer.record(item(5))
        await replayer.stop()
    finally:
        await pool.close()
    rows = await log.entries(fresh, 0, 100)
    assert [parse(r.entry).data["n"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert list(tmp_path.glob("audit-*.jsonl")) == []


def test_an_entry_that_cannot_be_logged_is_refused_when_recorded(tmp_path: Path) -> None:
    writer = AuditWriter(None, tmp_path)  # type: ignore[arg-type]  # never reaches the database
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(EntryError, match="decimal string"):
        writer.record(entry("x", actor="t", at=now, data={"flop": 1e25}))
    with pytest.raises(EntryError, match="beyond 2"):
        writer.record(entry("x", actor="t", at=now, data={"flop": 10**25}))
    writer.record(entry("x", actor="t", at=now, data={"flop": decimal(1e25)}))
    assert writer.depth == 1


async def test_the_spool_folder_it_creates_is_the_gateways_users_only(tmp_path: Path) -> None:
    # It starts before the usage ledger, in the same state/spool: it must not leave it open to others.
    spool = tmp_path / "state" / "spool"
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    try:
        writer = AuditWriter(dead, spool, flush_interval=0.01)
        writer.record(item(0))
        await writer.stop()  # cannot append: spooled
    finally:
        await dead.close()
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    (spooled,) = spool.glob("audit-*.jsonl")
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o600
