"""A job slurmctld has forgotten is settled from slurmdbd's accounting, where the cluster has it.

The cluster here runs slurmdbd on the machine's MariaDB and forgets ended jobs after 2 s
(``MinJobAge=2``): by the time the follower looks, only the accounting still knows the job.
Without accounting, such a job is charged the most it can have run; with it, what it ran.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from gateway.clusters import repository
from gateway.clusters.follower import Follower
from gateway.clusters.registry import open_cluster
from gateway.settings import ClusterSettings
from tests.integration.cluster.test_reconcile import compute_event, lost_row
from tests.slurm_cluster import SlurmCluster


@pytest.fixture(scope="module")
def accounted(slurm: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """Beside the session's cluster (``slurm`` makes sure the packages are installed)."""
    cluster = SlurmCluster(tmp_path_factory.mktemp("acct"), accounting=True, min_job_age=2).start()
    yield cluster
    cluster.stop()


async def test_a_forgotten_job_is_settled_from_the_accounting(conn, pool, ledger, accounted) -> None:
    cluster = open_cluster(
        ClusterSettings(
            name=f"acct-{uuid.uuid4().hex[:6]}",
            kind="slurm",
            base_url=accounted.base_url,
            region="US",
            token_env="T",
            user="root",
        ),
        {"T": accounted.token("root")},
    )
    headers = accounted.headers("root")
    cwd = accounted.jobs_dir / uuid.uuid4().hex[:8]
    cwd.mkdir(mode=0o777)
    body = {
        "script": "#!/bin/bash\nsleep 2\n",
        "job": {
            "name": "acct",
            "partition": "gpu",
            "gres": "gpu:h100:2",
            "time_limit": 10,
            "current_working_directory": str(cwd),
            "environment": {"PATH": "/usr/bin:/bin"},
        },
    }
    submitted = httpx.post(accounted.url("job/submit"), json=body, headers=headers)
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["job_id"]
    workload, _, _ = await lost_row(conn, cluster, {}, api_version=accounted.api_version)
    assert await repository.mark_submitted(conn, workload, str(job_id))

    # Until slurmctld has forgotten the job (it answers for it no more), and slurmdbd has its end.
    deadline = time.monotonic() + 60
    while True:
        listed = httpx.get(accounted.url(f"job/{job_id}"), headers=headers)
        accounting = httpx.get(
            f"{accounted.base_url}/slurmdb/{accounted.api_version}/job/{job_id}", headers=headers
        )
        jobs = (accounting.json().get("jobs") if accounting.status_code == 200 else None) or [{}]
        if listed.status_code != 200 and jobs[0].get("state", {}).get("current") == "COMPLETED":
            break
        assert time.monotonic() < deadline, (listed.status_code, accounting.text[:500])
        time.sleep(0.2)
    ran = jobs[0]["time"]["end"] - jobs[0]["time"]["start"]

    # A follower looking much later: without the accounting it would charge the job's whole limit.
    follower = Follower([cluster], pool, ledger, wall=lambda: time.time() + 3600)
    assert await follower.poll_once() == 1
    row = await conn.fetchrow("select * from workloads where id = $1", workload)
    assert (row["state"], row["native_state"]) == ("ended", "COMPLETED")
    assert row["run_seconds"] == ran and 2 <= ran <= 10
    assert row["gpu_seconds_settled"] == 2 * ran
    assert row["started_at"].timestamp() == jobs[0]["time"]["start"]
    event = await compute_event(conn, workload)
    assert (event["run_seconds"], event["gpu_seconds"], event["job_id"]) == (ran, 2 * ran, str(job_id))
