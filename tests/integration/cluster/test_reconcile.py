"""Lost submissions, against the real Slurm and the Kubernetes double: found, released or charged.

A lost submission is what a gateway that died between the cluster's answer and writing the job's
id leaves behind: a ``submitting`` workload row and, maybe, a job on the cluster. Each test writes
that row itself (as ``ClusterProxy.submit_job`` does) and creates the job, or not, on the cluster
directly (as its forward would have); the follower's clock is moved past the submission timeouts.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.clusters import repository
from gateway.clusters.cluster import Cluster
from gateway.clusters.follower import Follower
from gateway.clusters.kubernetes import WORKLOAD_LABEL
from gateway.clusters.registry import open_cluster
from gateway.clusters.repository import Reservation
from gateway.ledger.writer import LedgerWriter
from gateway.quota import store
from gateway.quota.store import CounterKey
from gateway.settings import ClusterSettings
from tests.conftest import eventually, verified_customer
from tests.e2e.conftest import ThreadedServer
from tests.k8s_double import KubeDouble
from tests.slurm_cluster import SlurmCluster

TIMEOUTS = {"connect_timeout": 1.0, "read_timeout": 2.0, "poll_seconds": 0.2}
"""A submission can take 3 s: after 3.2 s a row still submitting was lost."""
LATER = 10.0
"""Past the submission timeouts, well within the cluster's 300 s of listing an ended job."""
MUCH_LATER = 400.0
"""Past them too: an ended job may be gone from the cluster's lists."""


@pytest.fixture
def lab(slurm: SlurmCluster) -> Iterator[Cluster]:
    cluster = open_cluster(
        ClusterSettings(
            name=f"lab-{uuid.uuid4().hex[:6]}",
            kind="slurm",
            base_url=slurm.base_url,
            region="US",
            token_env="LAB_TOKEN",
            user="root",
            **TIMEOUTS,
        ),
        {"LAB_TOKEN": slurm.token("root")},
    )
    yield cluster


def follower(cluster: Cluster, pool: asyncpg.Pool, ahead: float, ledger: LedgerWriter) -> Follower:
    return Follower([cluster], pool, ledger, wall=lambda: time.time() + ahead)


async def compute_event(conn: asyncpg.Connection, workload: uuid.UUID) -> dict[str, Any]:
    """The job's one row in the ledger, once the batched writer has written it."""

    async def written() -> bool:
        return await conn.fetchval("select count(*) from compute_events where workload_id = $1", workload) > 0

    await eventually(written, timeout=10.0, interval=0.02)
    rows = await conn.fetch("select * from compute_events where workload_id = $1", workload)
    assert len(rows) == 1
    return dict(rows[0])


async def lost_row(
    conn: asyncpg.Connection,
    cluster: Cluster,
    signals: dict[str, Any],
    *,
    kind: str = "slurm",
    api_version: str = "v0.0.38",
    reserve: float = 0.0,
) -> tuple[uuid.UUID, uuid.UUID, CounterKey]:
    """A submitting row of a new customer, with ``reserve`` GPU-seconds reserved on a day budget."""
    customer = await verified_customer(conn, f"lost-{uuid.uuid4().hex[:8]}")
    start = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    key = CounterKey("customer", str(customer.id), "gpu_seconds", "day", start, start + dt.timedelta(days=1))
    reservations = []
    if reserve:
        assert await store.reserve(conn, key, 1e9, reserve) is not None
        reservations = [Reservation(key, reserve)]
    workload = await repository.insert_submitting(
        conn,
        cluster=cluster.name,
        customer_id=customer.id,
        project_id=None,  # type: ignore[arg-type]
        key_id="k",
        kind=kind,
        api_version=api_version,
        accelerator="h100",
        gpus=2,
        time_limit_seconds=60,
        peak_flops_per_gpu=989e12,
        utilisation=0.4,
        gpu_seconds_bound=120.0,
        flop_bound=120 * 989e12,
        flop_expected=120 * 989e12 * 0.4,
        price_per_gpu_hour=None,
        bio=False,
        signals=signals,
        reservations=reservations,
    )
    return workload, customer.id, key


def submit(slurm: SlurmCluster, name: str, script: str = "sleep 1") -> tuple[int, str]:
    """A job straight to slurmrestd as the gateway's user, as the lost forward sent it."""
    cwd = slurm.jobs_dir / f"{name}-{uuid.uuid4().hex[:6]}"
    cwd.mkdir(mode=0o777)
    body = {
        "script": f"#!/bin/bash\n{script}\n",
        "job": {
            "name": name,
            "partition": "gpu",
            "gres": "gpu:h100:2",
            "time_limit": 1,
            "current_working_directory": str(cwd),
            "environment": {"PATH": "/usr/bin:/bin"},
        },
    }
    reply = httpx.post(slurm.url("job/submit"), json=body, headers=slurm.headers("root", slurm.token("root")))
    assert reply.status_code == 200, reply.text
    return int(reply.json()["job_id"]), str(cwd)


async def row(conn: asyncpg.Connection, workload: uuid.UUID) -> dict[str, Any]:
    found = await conn.fetchrow("select * from workloads where id = $1", workload)
    assert found is not None
    return dict(found)


async def reserved_and_used(conn: asyncpg.Connection, key: CounterKey) -> tuple[float, float]:
    counter = await store.counter(conn, key)
    assert counter is not None
    return counter.reserved, counter.used


async def test_a_lost_slurm_job_is_found_and_followed_to_its_end(conn, pool, ledger, lab, slurm) -> None:
    name = f"lost-{uuid.uuid4().hex[:6]}"
    job_id, cwd = submit(slurm, name)
    workload, _, key = await lost_row(conn, lab, {"name": name, "working_directory": cwd}, reserve=120)
    # A decoy: the same name from another directory. Not the lost job.
    decoy, _ = submit(slurm, name, "sleep 0")
    assert await follower(lab, pool, 0.0, ledger).reconcile(lab) == 0
    assert (await row(conn, workload))["state"] == "submitting"  # it may still be in flight

    later = follower(lab, pool, LATER, ledger)
    assert await later.reconcile(lab) == 0
    found = await row(conn, workload)
    assert (found["state"], found["job_id"]) == ("queued", str(job_id))
    assert decoy != job_id

    async def settled() -> bool:
        await later.poll_once()
        return (await row(conn, workload))["state"] == "ended"

    await eventually(settled, timeout=30.0, interval=0.2)
    ended = await row(conn, workload)
    assert ended["native_state"] == "COMPLETED" and 1 <= ended["run_seconds"] <= 60
    assert await reserved_and_used(conn, key) == (0.0, ended["gpu_seconds_settled"])
    event = await compute_event(conn, workload)  # and the ledger has what it computed
    assert (event["cluster"], event["job_id"], event["kind"], event["native_state"]) == (
        lab.name,
        str(job_id),
        "slurm",
        "COMPLETED",
    )
    assert (event["gpus"], event["accelerator"], event["occurred_at"]) == (2, "h100", ended["ended_at"])
    assert (event["run_seconds"], event["gpu_seconds"]) == (
        ended["run_seconds"],
        ended["gpu_seconds_settled"],
    )
    assert (event["flop_bound"], event["flop_expected"], event["flop_settled"]) == (
        ended["flop_bound"],
        ended["flop_expected"],
        ended["flop_settled"],
    )
    assert event["flop_settled"] == pytest.approx(ended["run_seconds"] * 2 * 989e12 * 0.4)


async def test_a_lost_submission_the_cluster_never_saw_is_released(conn, pool, ledger, lab, slurm) -> None:
    workload, _, key = await lost_row(
        conn, lab, {"name": "never", "working_directory": "/nowhere"}, reserve=120
    )
    assert await reserved_and_used(conn, key) == (120.0, 0.0)
    assert await follower(lab, pool, LATER, ledger).reconcile(lab) == 0
    rejected = await row(conn, workload)
    assert rejected["state"] == "rejected" and rejected["job_id"] is None
    assert await reserved_and_used(conn, key) == (0.0, 0.0)


async def test_a_lost_submission_too_old_to_tell_is_charged_the_most_it_can_have_run(
    conn, pool, ledger, lab, slurm
) -> None:
    workload, _, key = await lost_row(
        conn, lab, {"name": "gone", "working_directory": "/nowhere"}, reserve=120
    )
    assert await follower(lab, pool, MUCH_LATER, ledger).reconcile(lab) == 1
    charged = await row(conn, workload)
    assert (charged["state"], charged["native_state"]) == ("ended", "LOST")
    assert charged["run_seconds"] == 60 and charged["gpu_seconds_settled"] == 120  # its whole limit
    assert charged["flop_settled"] == pytest.approx(120 * 989e12 * 0.4)
    assert await reserved_and_used(conn, key) == (0.0, 120.0)
    event = await compute_event(conn, workload)
    assert (event["native_state"], event["job_id"], event["gpu_seconds"]) == ("LOST", None, 120.0)


async def test_a_job_two_lost_submissions_could_be_is_never_guessed(conn, pool, ledger, lab, slurm) -> None:
    name = f"twin-{uuid.uuid4().hex[:6]}"
    job_id, cwd = submit(slurm, name, "sleep 0")
    first, _, _ = await lost_row(conn, lab, {"name": name, "working_directory": cwd})
    second, _, _ = await lost_row(conn, lab, {"name": name, "working_directory": cwd})
    assert await follower(lab, pool, LATER, ledger).reconcile(lab) == 0
    for workload in (first, second):
        assert (await row(conn, workload))["state"] == "submitting"  # waits; maybe an operator knows
    assert await follower(lab, pool, MUCH_LATER, ledger).reconcile(lab) == 2  # then both are charged
    assert await repository.claimed(conn, lab.name, [str(job_id)]) == set()  # and the job stays nobody's


async def test_a_job_another_workload_has_is_not_taken_again(conn, pool, ledger, lab, slurm) -> None:
    name = f"taken-{uuid.uuid4().hex[:6]}"
    job_id, cwd = submit(slurm, name, "sleep 0")
    owner, _, _ = await lost_row(conn, lab, {"name": name, "working_directory": cwd})
    assert await repository.mark_submitted(conn, owner, str(job_id))
    lost, _, _ = await lost_row(conn, lab, {"name": name, "working_directory": cwd})
    assert await follower(lab, pool, LATER, ledger).reconcile(lab) == 0
    assert (await row(conn, lost))["state"] == "rejected"
    assert not await repository.mark_submitted(conn, lost, str(job_id))  # and a late answer changes nothing


@pytest.fixture
def kube() -> Iterator[tuple[KubeDouble, Cluster]]:
    double = KubeDouble("kube-token")
    with ThreadedServer(double) as server:
        yield (
            double,
            open_cluster(
                ClusterSettings(
                    name=f"kube-{uuid.uuid4().hex[:6]}",
                    kind="kubernetes",
                    base_url=f"http://127.0.0.1:{server.port}",
                    region="US",
                    token_env="KUBE_TOKEN",
                    **TIMEOUTS,
                ),
                {"KUBE_TOKEN": "kube-token"},
            ),
        )


async def test_a_lost_kubernetes_job_is_found_by_its_label(conn, pool, ledger, kube) -> None:
    _, cluster = kube
    namespace = "c-0123456789ab"
    found, _, _ = await lost_row(
        conn, cluster, {"namespace": namespace}, kind="kubernetes", api_version="batch/v1"
    )
    never, _, key = await lost_row(
        conn, cluster, {"namespace": namespace}, kind="kubernetes", api_version="batch/v1", reserve=60
    )
    for name, workload in (("labelled", found), ("other", uuid.uuid4())):  # another workload's job too
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": {WORKLOAD_LABEL: str(workload), "team": "a"}},
            "spec": {
                "activeDeadlineSeconds": 60,
                "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
            },
        }
        created = httpx.post(
            f"{cluster.settings.base_url}/apis/batch/v1/namespaces/{namespace}/jobs",
            json=job,
            headers={"authorization": "Bearer kube-token"},
        )
        assert created.status_code == 201, created.text
    assert await follower(cluster, pool, LATER, ledger).reconcile(cluster) == 0
    adopted = await row(conn, found)
    assert (adopted["state"], adopted["job_id"]) == ("queued", f"{namespace}/labelled")
    assert (await row(conn, never))["state"] == "rejected"
    assert await reserved_and_used(conn, key) == (0.0, 0.0)


def test_the_double_filters_by_label_like_an_api_server(kube) -> None:
    _, cluster = kube
    url = f"{cluster.settings.base_url}/apis/batch/v1/namespaces/ns/jobs"
    auth = {"authorization": "Bearer kube-token"}
    assert httpx.get(url, params={"labelSelector": "a=b"}, headers=auth).json()["items"] == []
    assert httpx.get(url, params={"labelSelector": "a!=b"}, headers=auth).status_code == 400


async def test_a_cluster_that_cannot_be_reached_does_not_stop_the_others(conn, pool, ledger, kube) -> None:
    _, reachable = kube
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = open_cluster(
        ClusterSettings(
            name=f"down-{uuid.uuid4().hex[:6]}", kind="slurm", base_url=f"http://127.0.0.1:{port}", region="US",
            **TIMEOUTS,
        ),
        {},
    )  # fmt: skip
    await lost_row(conn, down, {"name": "x"})  # so that the follower has to ask it
    namespace = "c-0123456789ab"
    never, _, _ = await lost_row(
        conn, reachable, {"namespace": namespace}, kind="kubernetes", api_version="batch/v1"
    )
    both = Follower([down, reachable], pool, ledger, wall=lambda: time.time() + LATER)
    assert await both.poll_once() == 0
    assert (await row(conn, never))["state"] == "rejected"  # the second cluster was looked at
