"""The ledger's monthly partitions (sql/017): rows land in their month, early rows wait in the default
partition and move into their month when it is made, whole months are dropped past a retention
(audited), and the migration keeps the rows a ledger already holds without copying them."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest

from gateway.db.migrate import migrate, sql_dir
from gateway.ledger.events import ComputeEvent, UsageEvent
from gateway.ledger.partitions import MONTHS_AHEAD, PartitionKeeper, ensure, partitions, prune
from gateway.ledger.writer import LedgerWriter
from tests.integration.test_ledger_writer import event, job

TABLES = ("call_features", "compute_events", "usage_events")


def month(at: dt.datetime, shift: int = 0) -> dt.datetime:
    index = at.year * 12 + at.month - 1 + shift
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def db(empty_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own: these tests drop partitions."""
    conn = await asyncpg.connect(empty_database_url)
    await migrate(conn)
    yield conn
    await conn.close()


def usage(customer: uuid.UUID, when: dt.datetime) -> UsageEvent:
    return msgspec.structs.replace(event(customer), occurred_at=when)


async def write(db: asyncpg.Connection, url: str, tmp_path: Path, events: list[Any]) -> None:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    writer = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60)
    await writer.start()
    for e in events:
        if isinstance(e, ComputeEvent):
            writer.record_compute(e)
        else:
            writer.record(e)
    await writer.stop()
    await pool.close()
    assert writer.spooled == 0


async def where(db: asyncpg.Connection, request_id: uuid.UUID) -> str:
    found: str = await db.fetchval(
        "select tableoid::regclass::text from usage_events where request_id = $1", request_id
    )
    return found


async def test_the_tables_are_partitioned_by_month_ahead_of_time(db: asyncpg.Connection) -> None:
    now = dt.datetime.now(dt.UTC)
    names = {p.name for p in await partitions(db)}
    floor = month(now, 1)  # a fresh database: the rows before next month are in <table>_before
    for table in TABLES:
        assert await db.fetchval(
            "select count(*) from pg_partitioned_table where partrelid = $1::regclass", table
        )
        assert {f"{table}_before", f"{table}_default"} <= names
        for shift in range(1, MONTHS_AHEAD + 1):
            assert f"{table}_p{month(now, shift):%Y%m}" in names
    assert floor == await db.fetchval(
        "select floor from ledger_partitioning where table_name = 'usage_events'"
    )
    assert await ensure(db) == 0  # all there already


async def test_rows_land_in_their_month_and_early_ones_move_when_it_is_made(
    db: asyncpg.Connection, empty_database_url: str, tmp_path: Path
) -> None:
    customer = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    this_month, next_month = usage(customer, now), usage(customer, month(now, 1) + dt.timedelta(days=3))
    far = usage(customer, month(now, 14) + dt.timedelta(days=1))
    await write(db, empty_database_url, tmp_path, [this_month, next_month, far])
    assert await where(db, this_month.request_id) == "usage_events_before"
    assert await where(db, next_month.request_id) == f"usage_events_p{month(now, 1):%Y%m}"
    assert await where(db, far.request_id) == "usage_events_default"
    # The keeper makes the months up to the far one: the early row moves into its month, kept whole.
    made = await ensure(db, months_ahead=14)
    assert made == 4 * (14 - MONTHS_AHEAD)  # the three ledger tables and the audit log's entries
    assert await where(db, far.request_id) == f"usage_events_p{month(now, 14):%Y%m}"
    assert await db.fetchval("select count(*) from usage_events where customer_id = $1", customer) == 3
    assert await db.fetchval("select count(*) from only usage_events_default") == 0
    # A duplicate is still a duplicate across the partitioned table (the writer's replays).
    await write(db, empty_database_url, tmp_path, [far])
    assert await db.fetchval("select count(*) from usage_events where customer_id = $1", customer) == 3


async def test_a_retention_drops_whole_months_and_says_so_in_the_audit_log(
    db: asyncpg.Connection, empty_database_url: str, tmp_path: Path
) -> None:
    customer = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    events = [usage(customer, month(now, shift) + dt.timedelta(hours=1)) for shift in (0, 1, 2)]
    await write(db, empty_database_url, tmp_path, [*events, job(customer)])
    # Before the start of the month after next: the old rows (<table>_before) and next month go.
    cutoff = month(now, 2)
    dropped = await prune(db, cutoff, actor="operator:test")
    assert set(dropped) == {f"{t}_before" for t in TABLES} | {f"{t}_p{month(now, 1):%Y%m}" for t in TABLES}
    left = await db.fetch("select occurred_at from usage_events where customer_id = $1", customer)
    assert [r["occurred_at"] for r in left] == [events[2].occurred_at]
    assert await db.fetchval("select count(*) from compute_events") == 0  # its month was dropped whole
    entry = json.loads(bytes(await db.fetchval(
        "select entry from audit_entries where kind = 'ledger.partitions_dropped'"
    )))  # fmt: skip
    assert entry["actor"] == "operator:test" and sorted(entry["data"]["partitions"]) == sorted(dropped)
    assert await prune(db, cutoff, actor="operator:test") == []  # nothing left to drop: no entry either
    # The keeper does not make a dropped month again (the floor moved past it).
    await ensure(db)
    assert await db.fetchval("select to_regclass($1)", f"usage_events_p{month(now, 1):%Y%m}") is None
    assert (
        await db.fetchval("select count(*) from audit_entries where kind = 'ledger.partitions_dropped'") == 1
    )
    # Writing goes on into the months that remain (and the old ones' rows go to the default).
    late = usage(customer, month(now, 2) + dt.timedelta(days=2))
    await write(db, empty_database_url, tmp_path, [late])
    assert await where(db, late.request_id) == f"usage_events_p{month(now, 2):%Y%m}"


async def test_the_keeper_uses_the_retention_setting(db: asyncpg.Connection, empty_database_url: str) -> None:
    pool = await asyncpg.create_pool(empty_database_url, min_size=1, max_size=2)
    now = dt.datetime.now(dt.UTC)
    try:
        await PartitionKeeper(pool, retention_days=None, wall=lambda: now + dt.timedelta(days=400)).once()
        assert "usage_events_before" in {p.name for p in await partitions(db)}  # no retention: kept
        # 90 days on, a retention of 31 days: the months before the cutoff go, the later ones stay.
        later = now + dt.timedelta(days=90)
        await PartitionKeeper(pool, retention_days=31, wall=lambda: later).once()
        names = {p.name for p in await partitions(db)}
        assert "usage_events_before" not in names
        assert f"usage_events_p{month(later - dt.timedelta(days=31)):%Y%m}" in names  # the cutoff's month
        assert f"usage_events_p{month(later, MONTHS_AHEAD):%Y%m}" in names  # made ahead of *its* now
    finally:
        await pool.close()


async def test_migrating_a_ledger_keeps_its_rows_without_copying(
    empty_database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "sql"
    before.mkdir()
    for f in sorted(sql_dir().glob("*.sql")):
        if int(f.name[:3]) < 17:
            shutil.copy(f, before / f.name)
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, before)
        customer = uuid.uuid4()
        now = dt.datetime.now(dt.UTC)
        old = [usage(customer, now - dt.timedelta(days=400)), usage(customer, now + dt.timedelta(days=70))]
        for e in old:
            await conn.execute(
                "insert into usage_events (request_id, occurred_at, customer_id, project_id, key_id, route, status,"
                " usage_complete, duration_ms, bytes_in, bytes_out) values ($1, $2, $3, $4, 'k', '/v1/x', 200, true,"
                " 1, 1, 1)",
                e.request_id, e.occurred_at, customer, uuid.uuid4(),
            )  # fmt: skip
        oid = await conn.fetchval("select 'usage_events'::regclass::oid")
        await migrate(conn)
        # The same table, attached whole: its rows are where they were, and the floor is past them.
        assert await conn.fetchval("select 'usage_events_before'::regclass::oid") == oid
        assert await conn.fetchval("select count(*) from usage_events where customer_id = $1", customer) == 2
        floor = await conn.fetchval("select floor from ledger_partitioning where table_name = 'usage_events'")
        assert floor == month(old[1].occurred_at, 1)
        assert await where(conn, old[1].request_id) == "usage_events_before"
    finally:
        await conn.close()
