"""Settling a cluster job: once, through the quota settle path, into the ledger's compute events.

The compute event follows the settlement through the batched writer; one lost with a process
(settled, not yet written) is written again by the follower's backfill, and the ledger keeps one
row per job however often it is written.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import uuid
from pathlib import Path

import asyncpg

from gateway.clusters import repository
from gateway.clusters.cluster import Cluster
from gateway.clusters.follower import Follower
from gateway.clusters.registry import open_cluster
from gateway.clusters.settlement import release, settle_job
from gateway.db.migrate import migrate, sql_dir
from gateway.identity.repository import create_customer
from gateway.ledger.repository import list_compute, usage_summary
from gateway.ledger.writer import LedgerWriter
from gateway.settings import ClusterSettings
from tests.integration.cluster.test_reconcile import compute_event, lost_row, reserved_and_used

HOUR = 3600.0


def _cluster() -> Cluster:
    return open_cluster(
        ClusterSettings(
            name=f"s-{uuid.uuid4().hex[:6]}", kind="kubernetes", base_url="http://127.0.0.1:1", region="US"
        ),
        {},
    )


async def test_a_job_is_settled_once_and_recorded_once(conn, pool, ledger) -> None:
    cluster = _cluster()
    workload, customer, key = await lost_row(
        conn, cluster, {}, kind="kubernetes", api_version="batch/v1", reserve=120
    )
    assert await repository.mark_submitted(conn, workload, "c-0123456789ab/train")
    (open_row,) = [r for r in await repository.open_workloads(conn, cluster.name) if r.id == workload]
    now = time.time()
    async with pool.acquire() as c:
        first = await settle_job(
            c, ledger, open_row, native="Complete", run_seconds=30.0, started_at=None, ended_at=now
        )
        again = await settle_job(
            c, ledger, open_row, native="Complete", run_seconds=60.0, started_at=None, ended_at=now
        )
    assert first is not None and again is None  # the second settlement finds nothing left to do
    assert await reserved_and_used(conn, key) == (0.0, 60.0)  # 2 GPUs x 30 s, from the 120 reserved
    event = await compute_event(conn, workload)
    assert (event["customer_id"], event["job_id"], event["gpu_seconds"]) == (
        customer,
        "c-0123456789ab/train",
        60.0,
    )
    assert event["spend"] is None  # admitted without a price
    assert [e.workload_id for e in await list_compute(conn, customer_id=customer)] == [workload]


async def test_a_job_the_cluster_never_took_gives_its_reservation_back(conn, pool, ledger) -> None:
    cluster = _cluster()
    workload, _, key = await lost_row(
        conn, cluster, {}, kind="kubernetes", api_version="batch/v1", reserve=90
    )
    async with pool.acquire() as c:
        await release(c, workload, "the cluster refused it")
        await release(c, workload, "the cluster refused it")  # a second release changes nothing
    assert await reserved_and_used(conn, key) == (0.0, 0.0)
    assert await conn.fetchval("select state from workloads where id = $1", workload) == "rejected"
    assert await conn.fetchval("select count(*) from compute_events where workload_id = $1", workload) == 0


async def test_a_compute_event_lost_with_its_process_is_written_again(
    conn, pool, ledger, tmp_path: Path
) -> None:
    cluster = _cluster()
    workload, customer, _ = await lost_row(conn, cluster, {}, kind="kubernetes", api_version="batch/v1")
    assert await repository.mark_submitted(conn, workload, "c-0123456789ab/lost")
    (open_row,) = [r for r in await repository.open_workloads(conn, cluster.name) if r.id == workload]
    # Settled by a process whose writer never wrote (it died with the event in its buffer).
    dying = LedgerWriter(pool, tmp_path / "dying", flush_interval=3600)
    async with pool.acquire() as c:
        assert await settle_job(
            c, dying, open_row, native="Complete", run_seconds=10.0, started_at=None, ended_at=time.time()
        )
    assert dying.depth == 1
    assert await conn.fetchval("select count(*) from compute_events where workload_id = $1", workload) == 0

    now_follower = Follower([cluster], pool, ledger)
    assert await now_follower.backfill() == 0  # the writer may still write it: not missing yet
    later = Follower([cluster], pool, ledger, wall=lambda: time.time() + 2 * 60)
    assert await later.backfill() >= 1
    event = await compute_event(conn, workload)
    assert (event["customer_id"], event["gpu_seconds"], event["native_state"]) == (customer, 20.0, "Complete")
    await ledger.stop()  # written: the next backfill finds it there
    assert workload not in {
        e.workload_id
        for e in await repository.ended_without_event(
            conn,
            dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
    }
    # And the dying writer's own event, written at last (a spool replay), is no second row.
    await dying.stop()
    assert await conn.fetchval("select count(*) from compute_events where workload_id = $1", workload) == 1


async def test_the_ledger_sums_calls_and_compute_per_customer(conn, pool, ledger) -> None:
    cluster = _cluster()
    workload, customer, _ = await lost_row(conn, cluster, {}, kind="kubernetes", api_version="batch/v1")
    assert await repository.mark_submitted(conn, workload, "c-0123456789ab/sum")
    (open_row,) = [r for r in await repository.open_workloads(conn, cluster.name) if r.id == workload]
    ended = time.time()
    async with pool.acquire() as c:
        assert await settle_job(
            c, ledger, open_row, native="Complete", run_seconds=45.0, started_at=None, ended_at=ended
        )
    await compute_event(conn, workload)
    since = dt.datetime.fromtimestamp(ended - HOUR, dt.UTC)
    (mine,) = await usage_summary(
        conn, since=since, until=since + dt.timedelta(hours=2), customer_id=customer
    )
    assert (mine.jobs, mine.gpu_seconds, mine.requests) == (1, 90.0, 0)
    assert mine.flop == await conn.fetchval("select flop_settled from workloads where id = $1", workload)
    after = await usage_summary(
        conn, since=since + dt.timedelta(hours=2), until=since + dt.timedelta(hours=3)
    )
    assert customer not in {u.customer_id for u in after}


async def test_the_migration_records_jobs_settled_before_the_compute_ledger(
    empty_database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(sql_dir().glob("*.sql")):
        if path.name < "010":
            shutil.copy(path, before)
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, before)
        # The schema of 009 (no audit log yet): the customer and its ended job, as rows.
        customer = (await create_customer(conn, "before-010", "individual", "US")).id
        workload = await repository.insert_submitting(
            conn, cluster="old", customer_id=customer, project_id=None, key_id="k", kind="kubernetes",  # type: ignore[arg-type]
            api_version="batch/v1", accelerator="h100", gpus=2, time_limit_seconds=60, peak_flops_per_gpu=989e12,
            utilisation=0.4, gpu_seconds_bound=120.0, flop_bound=1.2e17, flop_expected=4.7e16,
            price_per_gpu_hour=None, bio=False, signals={}, reservations=[],
        )  # fmt: skip
        await conn.execute(
            "update workloads set state = 'ended', job_id = 'ns/old', ended_at = now(), run_seconds = 5,"
            " gpu_seconds_settled = 10, flop_settled = 4e15, price_per_gpu_hour = 3.6, native_state = 'Complete'"
            " where id = $1",
            workload,
        )
        await migrate(conn)  # 010 and after
        event = await conn.fetchrow("select * from compute_events where workload_id = $1", workload)
        assert event is not None
        assert (event["customer_id"], event["job_id"], event["gpu_seconds"], event["flop_settled"]) == (
            customer,
            "ns/old",
            10.0,
            4e15,
        )
        assert event["spend"] == 0.01  # 10 GPU-seconds at 3.6 an hour
    finally:
        await conn.close()
