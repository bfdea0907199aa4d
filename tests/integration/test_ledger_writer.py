"""Usage and compute events: batched into PostgreSQL, spooled to disk when it is down, replayed after."""

import datetime as dt
import os
import stat
import uuid
from pathlib import Path

import asyncpg
import msgspec

from gateway.ledger.events import ComputeEvent, UsageEvent
from gateway.ledger.repository import list_compute, list_usage
from gateway.ledger.writer import LedgerWriter


def event(customer: uuid.UUID, i: int = 0) -> UsageEvent:
    return UsageEvent(
        request_id=uuid.uuid4(), occurred_at=dt.datetime.now(dt.UTC), customer_id=customer,
        project_id=uuid.uuid4(), key_id="0123456789abcdef", upstream="up", route="/v1/chat/completions",
        model="m", stream=False, status=200, error_code=None, prompt_tokens=i, completion_tokens=2 * i,
        usage_complete=True, duration_ms=1.5, bytes_in=10, bytes_out=20, client_ip="127.0.0.1",
    )  # fmt: skip


def job(customer: uuid.UUID, gpus: int = 8) -> ComputeEvent:
    now = dt.datetime.now(dt.UTC)
    return ComputeEvent(
        workload_id=uuid.uuid4(), occurred_at=now, customer_id=customer, project_id=None, key_id=None,
        cluster="lab", kind="slurm", job_id="42", accelerator="h100", gpus=gpus,
        submitted_at=now - dt.timedelta(hours=1), started_at=None, run_seconds=3600.0,
        gpu_seconds=gpus * 3600.0, flop_bound=gpus * 7200 * 989e12, flop_expected=gpus * 3600 * 989e12 * 0.8,
        flop_settled=gpus * 3600 * 989e12 * 0.4, spend=None, bio=False, native_state="COMPLETED",
    )  # fmt: skip


async def count(conn: asyncpg.Connection, customer: uuid.UUID) -> int:
    return await conn.fetchval("select count(*) from usage_events where customer_id = $1", customer)


async def test_events_are_written_in_batches_and_flushed_on_stop(
    database_url: str, conn, tmp_path: Path
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    writer = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60)
    await writer.start()
    customer = uuid.uuid4()
    events = [event(customer, i) for i in range(1050)]
    for e in events:
        writer.record(e)
    await writer.stop()
    await pool.close()
    assert await count(conn, customer) == 1050
    newest = await list_usage(conn, limit=3, customer_id=customer)
    assert len(newest) == 3
    assert newest[0].occurred_at >= newest[1].occurred_at >= newest[2].occurred_at
    assert newest[0].client_ip == "127.0.0.1"
    assert writer.written == 1050 and writer.spooled == 0


async def test_database_down_spools_then_replays_without_duplicates(
    database_url: str, conn, tmp_path: Path
) -> None:
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    writer = LedgerWriter(dead, tmp_path, batch_size=10, flush_interval=0.01)
    customer = uuid.uuid4()
    events = [event(customer, i) for i in range(25)]
    for e in events:
        writer.record(e)
    await writer.stop()  # cannot write: everything goes to the spool file
    assert writer.spooled == 25
    assert len(list(tmp_path.glob("usage-*.jsonl"))) == 1
    await dead.close()

    # One event had reached the database before the outage: replay must not duplicate it.
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    first = LedgerWriter(pool, tmp_path / "other", batch_size=10)
    await first.start()
    first.record(events[0])
    await first.stop()

    replayer = LedgerWriter(pool, tmp_path, batch_size=10)
    await replayer.start()  # replays the spool
    await replayer.stop()
    await pool.close()
    assert await count(conn, customer) == 25
    assert list(tmp_path.glob("usage-*.jsonl")) == []


async def test_the_spool_is_readable_by_the_gateways_user_only(tmp_path: Path) -> None:
    # Spooled events name customers, keys and client addresses: 0600 in a 0700 folder, even
    # under a umask that takes nothing away.
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    spool = tmp_path / "state" / "spool"
    previous = os.umask(0)
    try:
        writer = LedgerWriter(dead, spool, batch_size=10, flush_interval=0.01)
        await writer.start()  # creates the folder
        writer.record(event(uuid.uuid4()))
        await writer.stop()  # cannot write: spooled
    finally:
        os.umask(previous)
        await dead.close()
    (spooled,) = spool.glob("usage-*.jsonl")
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700


async def test_compute_events_are_spooled_and_replayed_beside_usage_events(
    database_url: str, conn, tmp_path: Path
) -> None:
    dead = await asyncpg.create_pool("postgresql://postgres@127.0.0.1:1/none", min_size=0, max_size=1)
    writer = LedgerWriter(dead, tmp_path, batch_size=10, flush_interval=0.01)
    customer = uuid.uuid4()
    jobs = [job(customer, gpus) for gpus in (1, 2, 3)]
    for j in jobs:
        writer.record_compute(j)
    writer.record(event(customer))
    assert writer.depth == 4
    await writer.stop()  # cannot write: each table's events go to a spool file of its own
    assert writer.spooled == 4
    (spooled,) = tmp_path.glob("compute-*.jsonl")
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o600
    assert len(list(tmp_path.glob("usage-*.jsonl"))) == 1
    await dead.close()

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    first = LedgerWriter(pool, tmp_path / "other", batch_size=10)  # one reached the database already
    await first.start()
    first.record_compute(jobs[0])
    await first.stop()
    replayer = LedgerWriter(pool, tmp_path, batch_size=10)
    await replayer.start()
    await replayer.stop()
    await pool.close()
    written = await list_compute(conn, customer_id=customer)
    assert sorted(e.gpus for e in written) == [1, 2, 3]  # each once
    assert {e.workload_id: e for e in written} == {
        j.workload_id: j for j in jobs
    }  # as recorded, field by field
    assert await count(conn, customer) == 1
    assert list(tmp_path.glob("*.jsonl")) == []


async def test_client_addresses_are_stored_as_given_v4_v6_and_through_the_tolerant_insert(
    database_url: str, conn, tmp_path: Path
) -> None:
    # Addresses go to asyncpg packed (its string parsing is the costliest column); what comes back
    # must be what went in, for both families, in a COPY batch and in the insert that skips
    # duplicates (the path a batch takes after one of its rows is refused).
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    customer = uuid.uuid4()
    addresses = ["127.0.0.1", "2001:db8::7", "::ffff:192.0.2.1", None]
    first = [msgspec.structs.replace(event(customer, i), client_ip=a) for i, a in enumerate(addresses)]
    writer = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60)
    for e in first:
        writer.record(e)
    await writer.stop()
    again = LedgerWriter(pool, tmp_path, batch_size=100, flush_interval=60)
    second = [msgspec.structs.replace(event(customer, 9), client_ip="2001:db8::8"), first[1]]  # a duplicate
    for e in second:
        again.record(e)
    await again.stop()
    await pool.close()
    rows = await conn.fetch(
        "select request_id, host(client_ip) as ip from usage_events where customer_id = $1", customer
    )
    stored = {r["request_id"]: r["ip"] for r in rows}
    assert stored == {
        first[0].request_id: "127.0.0.1",
        first[1].request_id: "2001:db8::7",
        first[2].request_id: "::ffff:192.0.2.1",
        first[3].request_id: None,
        second[0].request_id: "2001:db8::8",
    }
