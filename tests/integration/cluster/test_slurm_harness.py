"""The Slurm harness against the real slurmrestd: ping, a GPU job run to the end, a cancel, the
job list, a refused token, and a second cluster whose stop() leaves nothing running.

The request and reply shapes are REST v0.0.38's (Slurm 22.05, Debian 12).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.slurm_cluster import SlurmCluster

API = "v0.0.38"
DEADLINE = 30.0  # seconds for a job to reach a state; the first job of a fresh slurmctld takes ~3 s
POLL = 0.1
TERMINAL = {
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "BOOT_FAIL",
}


def client_for(cluster: SlurmCluster) -> httpx.Client:
    return httpx.Client(
        base_url=f"{cluster.base_url}/slurm/{API}/",
        headers=cluster.headers("root"),
        timeout=10.0,
        trust_env=False,  # no proxy from the environment for loopback
    )


@pytest.fixture(scope="module")
def rest(slurm: SlurmCluster) -> Iterator[httpx.Client]:
    if API not in slurm.rest_versions:
        pytest.skip(f"these tests use REST {API}; Slurm {slurm.slurm_version} serves {slurm.rest_versions}")
    with client_for(slurm) as client:
        yield client


def job_dir(cluster: SlurmCluster, name: str) -> Path:
    path = cluster.jobs_dir / f"{name}-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir(mode=0o777)
    return path


def submit(client: httpx.Client, script: str, cwd: Path, **job: Any) -> int:
    body = {
        "script": "#!/bin/bash\n" + script,
        "job": {
            "name": "t",
            "partition": "gpu",
            "time_limit": 1,
            "current_working_directory": str(cwd),
            "environment": {"PATH": "/usr/bin:/bin"},
            **job,
        },
    }
    reply = client.post("job/submit", json=body)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["errors"] == [], data
    job_id = data["job_id"]
    assert isinstance(job_id, int)
    return job_id


def get_job(client: httpx.Client, job_id: int) -> dict[str, Any]:
    reply = client.get(f"job/{job_id}")
    assert reply.status_code == 200, reply.text
    jobs = reply.json()["jobs"]
    assert [j["job_id"] for j in jobs] == [job_id]
    job: dict[str, Any] = jobs[0]
    return job


def wait_for(
    client: httpx.Client, job_id: int, states: set[str], deadline: float = DEADLINE
) -> dict[str, Any]:
    """Poll until the job is in one of ``states``; fail early if it ends in another."""
    end = time.monotonic() + deadline
    while True:
        job = get_job(client, job_id)
        state = job["job_state"]
        if state in states:
            return job
        if state in TERMINAL:
            pytest.fail(f"job {job_id} ended {state} ({job.get('state_reason')}) while waiting for {states}")
        if time.monotonic() > end:
            pytest.fail(f"job {job_id} still {state} ({job.get('state_reason')}) after {deadline} s")
        time.sleep(POLL)


@pytest.fixture(scope="module")
def finished_job(slurm: SlurmCluster, rest: httpx.Client) -> tuple[dict[str, Any], Path]:
    cwd = job_dir(slurm, "gpu")
    job_id = submit(rest, "echo $CUDA_VISIBLE_DEVICES > out.txt\nsleep 1\n", cwd, gres="gpu:h100:2")
    return wait_for(rest, job_id, {"COMPLETED"}), cwd


@pytest.fixture(scope="module")
def cancelled_job(slurm: SlurmCluster, rest: httpx.Client) -> dict[str, Any]:
    job_id = submit(rest, "sleep 60\n", job_dir(slurm, "sleep"))
    wait_for(rest, job_id, {"RUNNING"})
    reply = rest.delete(f"job/{job_id}")
    assert reply.status_code == 200, reply.text
    assert reply.json()["errors"] == []
    return wait_for(rest, job_id, {"CANCELLED"})


def test_ping_answers_up(slurm: SlurmCluster, rest: httpx.Client) -> None:
    reply = rest.get("ping")
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["errors"] == []
    assert [p["ping"] for p in data["pings"]] == ["UP"]
    assert data["meta"]["Slurm"]["release"] == slurm.slurm_version


def test_versions_are_detected(slurm: SlurmCluster) -> None:
    assert slurm.base_url == f"http://127.0.0.1:{slurm.rest_port}"
    assert slurm.api_version == slurm.rest_versions[-1]
    if slurm.slurm_version.startswith("22.05."):
        assert slurm.api_version == "v0.0.38"
        assert slurm.rest_versions == ["v0.0.36", "v0.0.37", "v0.0.38"]


def test_gpu_job_runs_on_two_typed_gpus(finished_job: tuple[dict[str, Any], Path]) -> None:
    job, cwd = finished_job
    assert job["job_state"] == "COMPLETED"
    assert job["exit_code"] == 0
    assert job["partition"] == "gpu"
    assert job["user_name"] == "root"
    assert job["tres_per_node"] == "gres:gpu:h100:2"
    # Two of the node's 8 GPUs, whichever other tests' jobs left free.
    devices = (cwd / "out.txt").read_text().strip().split(",")
    assert len(set(devices)) == 2 and {int(d) for d in devices} <= set(range(8)), devices
    assert job["start_time"] > 0
    assert job["end_time"] >= job["start_time"] >= job["submit_time"] > 0


def test_untyped_gpu_request_also_runs(slurm: SlurmCluster, rest: httpx.Client) -> None:
    cwd = job_dir(slurm, "untyped")
    job_id = submit(rest, "echo $CUDA_VISIBLE_DEVICES > out.txt\n", cwd, gres="gpu:2")
    job = wait_for(rest, job_id, {"COMPLETED"})
    assert job["tres_per_node"] == "gres:gpu:2"
    devices = (cwd / "out.txt").read_text().strip().split(",")
    assert len(devices) == 2
    assert all(0 <= int(d) < slurm.gpus for d in devices)


def test_deleting_a_running_job_cancels_it(cancelled_job: dict[str, Any]) -> None:
    assert cancelled_job["job_state"] == "CANCELLED"
    assert cancelled_job["end_time"] >= cancelled_job["start_time"] > 0


def test_job_list_has_both_jobs(
    rest: httpx.Client, finished_job: tuple[dict[str, Any], Path], cancelled_job: dict[str, Any]
) -> None:
    reply = rest.get("jobs")
    assert reply.status_code == 200, reply.text
    states = {j["job_id"]: j["job_state"] for j in reply.json()["jobs"]}
    assert states[finished_job[0]["job_id"]] == "COMPLETED"
    assert states[cancelled_job["job_id"]] == "CANCELLED"


def test_a_forged_token_is_refused(slurm: SlurmCluster) -> None:
    headers = {"X-SLURM-USER-NAME": "root", "X-SLURM-USER-TOKEN": "not.a.token"}
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        reply = client.get(f"{slurm.base_url}/slurm/{API}/jobs", headers=headers)
    assert reply.status_code != 200  # 22.05 answers 500 with an errors list, not 401


def test_a_token_for_another_user_is_accepted(slurm: SlurmCluster) -> None:
    SlurmCluster.ensure_user("slurmtest")
    token = slurm.token("slurmtest", lifespan=60)
    assert token.count(".") == 2
    headers = slurm.headers("slurmtest", token)
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        reply = client.get(f"{slurm.base_url}/slurm/{API}/jobs", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["errors"] == []


@pytest.fixture
def short_root() -> Iterator[Path]:
    """A folder whose Unix socket paths fit in 108 bytes: pytest-xdist puts each worker's temporary
    folders one level deeper (``popen-gw0/``), past what slurmd's socket path allows."""
    root = Path(tempfile.mkdtemp(prefix="gw-slurm-", dir="/var/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_second_cluster_runs_beside_and_stops_with_its_jobs(slurm: SlurmCluster, short_root: Path) -> None:
    other = SlurmCluster(short_root / "c2", gpus=2, gpu_type="a100").start()
    try:
        assert other.rest_port != slurm.rest_port
        cwd = job_dir(other, "orphan")
        with client_for(other) as client:
            job_id = submit(client, "touch started\nsleep 60\n", cwd, gres="gpu:a100:1")
            wait_for(client, job_id, {"RUNNING"})
        # slurmctld reports RUNNING once it has allocated the node, before slurmd has launched
        # the step; the script's own mark says its processes exist.
        end = time.monotonic() + DEADLINE
        while not (cwd / "started").exists():
            assert time.monotonic() < end, "the job's script never started"
            time.sleep(POLL)
        jobs = other.job_pids()  # slurmstepd, the script, sleep
        daemons = list(other.daemon_pids.values())
        assert len(daemons) == 4
        assert len(jobs) >= 2
    finally:
        other.stop()
    other.stop()  # idempotent
    left = [pid for pid in [*jobs, *daemons] if os.path.exists(f"/proc/{pid}") and not zombie(pid)]
    assert left == []
    assert other.job_pids() == set()
    assert other.daemon_pids == {}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{other.base_url}/slurm/{API}/ping", timeout=2.0)


def zombie(pid: int) -> bool:
    """Dead, not yet reaped (this machine's PID 1 reaps orphans late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"
