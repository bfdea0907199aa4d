"""Customers confined on a real Slurm cluster, tried as an attacker would.

Each customer's jobs run as its own Unix user with a home of mode 700; the gateway sets the
account, QOS and partition, keeps paths inside the home, lets a dependency name only the
customer's own jobs, charges whole-node asks for the whole node, and refuses what it cannot
bound or confine before anything reaches slurmctld.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import cluster_user
from tests.e2e.test_clusters import (
    V,
    call,
    customer,
    job_body,
    slurm_job_count,
    until_ended,
    workload,
)


def slurm_job(slurm: Any, job_id: int) -> dict[str, Any]:
    reply = httpx.get(
        f"{slurm.base_url}/slurm/{V}/job/{job_id}",
        headers={"X-SLURM-USER-NAME": "root", "X-SLURM-USER-TOKEN": slurm.token("root")},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    job: dict[str, Any] = reply.json()["jobs"][0]
    return job


def home_of(lab: Any, database_url: str) -> tuple[uuid.UUID, str, Path]:
    cid, key = customer(database_url)
    return cid, key, cluster_user(lab, database_url, cid, account="acct-" + cid.hex[:6])


def refused(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and error["request_id"], error
    return str(error["message"])


def test_each_customers_job_runs_as_its_own_user_and_cannot_read_anothers_output(
    lab: Any, slurm: Any, database_url: str
) -> None:
    _, alice, alice_home = home_of(lab, database_url)
    _, bob, bob_home = home_of(lab, database_url)
    secret = uuid.uuid4().hex
    wrote = call(lab, alice, "POST", "/job/submit", job_body(slurm, f"id -un; echo {secret} > secret.txt"))
    assert wrote.status_code == 200, wrote.text
    until_ended(database_url, wrote.json()["job_id"])
    assert (alice_home / "secret.txt").read_text().strip() == secret
    steal = f"id -un; cat {alice_home}/secret.txt {alice_home}/slurm-*.out; echo rc=$?"
    stole = call(lab, bob, "POST", "/job/submit", job_body(slurm, steal))
    assert stole.status_code == 200, stole.text
    job_id = stole.json()["job_id"]
    until_ended(database_url, job_id)
    output = (bob_home / f"slurm-{job_id}.out").read_text()
    assert output.splitlines()[0] == bob_home.name  # the job ran as bob's own user
    assert "Permission denied" in output and "rc=1" in output
    assert secret not in output
    record = slurm_job(slurm, job_id)
    assert record["user_name"] == bob_home.name and record["current_working_directory"] == str(bob_home)
    assert record["account"] == "acct-" + bob_home.name[3:9]  # the identity's account, not the body's


@pytest.mark.parametrize(
    ("field", "path"),
    [("standard_output", "/tmp/gw-pwned-{n}.txt"), ("current_working_directory", "/tmp"),
     ("standard_error", "../../gw-pwned-{n}.txt")],
)  # fmt: skip
def test_a_path_outside_the_customers_area_is_refused_before_slurm(
    lab: Any, slurm: Any, database_url: str, field: str, path: str
) -> None:
    _, key, home = home_of(lab, database_url)
    target = path.format(n=uuid.uuid4().hex[:8])
    body = job_body(slurm, "echo pwned")
    body["job"][field] = target
    before = slurm_job_count(slurm)
    message = refused(call(lab, key, "POST", "/job/submit", body), 403, "path_not_allowed")
    assert message.startswith(f"job.{field}: {target!r} is outside your area on this cluster ({home})")
    assert slurm_job_count(slurm) == before
    assert field == "current_working_directory" or not Path(target).exists()


def test_a_dependency_may_name_only_the_customers_own_jobs(lab: Any, slurm: Any, database_url: str) -> None:
    _, alice, _ = home_of(lab, database_url)
    _, bob, _ = home_of(lab, database_url)
    theirs = call(lab, alice, "POST", "/job/submit", job_body(slurm, "sleep 30"))
    assert theirs.status_code == 200, theirs.text
    alice_job = theirs.json()["job_id"]
    try:
        spy = job_body(slurm, "true")
        spy["job"]["dependency"] = f"afterany:{alice_job}"
        before = slurm_job_count(slurm)
        message = refused(call(lab, bob, "POST", "/job/submit", spy), 403, "dependency_not_allowed")
        assert message == f"job.dependency: job {alice_job} is not one of yours on 'lab'"
        assert slurm_job_count(slurm) == before
        mine = call(lab, bob, "POST", "/job/submit", job_body(slurm, "sleep 0"))
        own = job_body(slurm, "true")
        own["job"]["dependency"] = f"afterok:{mine.json()['job_id']}"
        followed = call(lab, bob, "POST", "/job/submit", own)
        assert followed.status_code == 200, followed.text  # its own job: accepted
    finally:
        call(lab, alice, "DELETE", f"/job/{alice_job}")


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [("account", "root", "field_not_allowed"), ("qos", "high", "field_not_allowed"),
     ("reservation", "maint", "field_not_allowed"), ("partition", "debug", "partition_not_allowed")],
)  # fmt: skip
def test_account_qos_reservation_and_partition_come_from_policy(
    lab: Any, slurm: Any, database_url: str, field: str, value: str, code: str
) -> None:
    _, key, _ = home_of(lab, database_url)
    body = job_body(slurm, "true")
    body["job"][field] = value
    before = slurm_job_count(slurm)
    message = refused(call(lab, key, "POST", "/job/submit", body), 403, code)
    assert message.startswith(f"job.{field}: ")
    assert slurm_job_count(slurm) == before


def test_an_exclusive_job_is_charged_for_the_whole_node(lab: Any, slurm: Any, database_url: str) -> None:
    _, key, home = home_of(lab, database_url)
    body = job_body(slurm, "echo $CUDA_VISIBLE_DEVICES", gres="gpu:h100:1")
    body["job"]["exclusive"] = "exclusive"
    submitted = call(lab, key, "POST", "/job/submit", body)
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["job_id"]
    row = workload(database_url, job_id)
    assert row["gpus"] == slurm.gpus == 8  # asked 1, holds the node's 8
    assert row["gpu_seconds_bound"] == 8 * 60
    ended = until_ended(database_url, job_id)
    assert ended["gpu_seconds_settled"] == 8 * ended["run_seconds"]
    assert (home / f"slurm-{job_id}.out").exists()


@pytest.mark.parametrize(
    ("change", "code", "start"),
    [
        (lambda b: b.update(script="#!/bin/bash\n#SBATCH --gres=gpu:h100:8\nnvidia-smi\n"), "invalid_job",
         "script: line 2: '#SBATCH --gres=gpu:h100:8': #SBATCH directives are refused"),
        (lambda b: b["job"].update(gpus_per_socket=1), "unbounded_job", "job.gpus_per_socket: GPUs per socket"),
        (lambda b: b["job"].update(core_specification=2), "invalid_job", "job.core_specification: is not a field"),
        (lambda b: b.update(jobs=[{"gres": "gpu:8"}]), "unsupported_job", "jobs: heterogeneous jobs"),
        (lambda b: b["job"].update(name="../../etc/x"), "invalid_job", "job.name: '../../etc/x' must not"),
    ],
)  # fmt: skip
def test_what_could_widen_a_job_is_refused_before_slurm(
    lab: Any, slurm: Any, database_url: str, change: Any, code: str, start: str
) -> None:
    _, key, _ = home_of(lab, database_url)
    body = job_body(slurm, "true")
    change(body)
    before = slurm_job_count(slurm)
    message = refused(call(lab, key, "POST", "/job/submit", body), 400, code)
    assert message.startswith(start), message
    assert slurm_job_count(slurm) == before


def test_a_customer_without_an_identity_cannot_submit(lab: Any, slurm: Any, database_url: str) -> None:
    _, key = customer(database_url)  # verified, with a key, but never mapped to a cluster user
    before = slurm_job_count(slurm)
    message = refused(call(lab, key, "POST", "/job/submit", job_body(slurm)), 403, "cluster_identity_missing")
    assert "you have no identity on the cluster 'lab' yet" in message
    assert slurm_job_count(slurm) == before


def test_a_job_is_cancelled_as_its_own_user(lab: Any, slurm: Any, database_url: str) -> None:
    _, key, home = home_of(lab, database_url)
    submitted = call(lab, key, "POST", "/job/submit", job_body(slurm, "sleep 60"))
    job_id = submitted.json()["job_id"]
    deadline = time.monotonic() + 30
    while slurm_job(slurm, job_id)["job_state"] == "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancelled = call(lab, key, "DELETE", f"/job/{job_id}")
    assert cancelled.status_code == 200, cancelled.text
    ended = until_ended(database_url, job_id)
    assert ended["native_state"] == "CANCELLED" and ended["cluster_user"] == home.name


def test_an_operator_maps_lists_and_unmaps_identities_with_the_cli(
    lab: Any, slurm: Any, database_url: str
) -> None:
    import json

    from tests.e2e.test_cli import gateway_cli

    gw = lab["gw"]
    config = str(gw.config)
    cid, key = customer(database_url)
    taken, _, home = home_of(lab, database_url)  # another customer's user, and its home's folder
    user = f"gwt{cid.hex[:10]}"
    from tests.slurm_cluster import SlurmCluster

    entry = SlurmCluster.ensure_user(user)
    lab["users"].append(user)
    mine = home.parent / user
    mine.mkdir(mode=0o700)
    os.chown(mine, entry.pw_uid, entry.pw_gid)

    clash = gateway_cli(gw, "cluster", "identity", "set", "--config", config, "--cluster", "lab",
                        "--customer", str(cid), "--user", home.name)  # fmt: skip
    assert (
        clash.returncode == 1
        and f"the user {home.name!r} on 'lab' belongs to another customer" in clash.stderr
    )
    unknown = gateway_cli(gw, "cluster", "identity", "set", "--config", config, "--cluster", "nope",
                          "--customer", str(cid), "--user", user)  # fmt: skip
    assert (
        unknown.returncode == 1 and "no cluster 'nope' in the configuration (clusters: lab)" in unknown.stderr
    )
    made = gateway_cli(gw, "cluster", "identity", "set", "--config", config, "--cluster", "lab",
                       "--customer", str(cid), "--user", user, "--account", "team-7", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "cluster": "lab", "customer_id": str(cid), "user": user, "account": "team-7", "qos": None,
        "home": str(mine),
    }  # fmt: skip
    listed = gateway_cli(gw, "cluster", "identity", "list", "--config", config, "--cluster", "lab", "--json")
    users = {row["user"]: row["customer_id"] for row in json.loads(listed.stdout)}
    assert users[user] == str(cid) and users[home.name] == str(taken)
    submitted = call(lab, key, "POST", "/job/submit", job_body(slurm, "true"))
    assert submitted.status_code == 200, submitted.text
    assert slurm_job(slurm, submitted.json()["job_id"])["account"] == "team-7"
    removed = gateway_cli(gw, "cluster", "identity", "remove", "--config", config, "--cluster", "lab",
                          "--customer", str(cid))  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    refused(call(lab, key, "POST", "/job/submit", job_body(slurm, "true")), 403, "cluster_identity_missing")


def test_a_cluster_call_without_a_key_is_counted_though_no_one_can_be_charged(lab: Any) -> None:
    gw = lab["gw"]
    for headers, code in (({}, "missing_api_key"), ({"authorization": "Bearer gk_nope"}, "invalid_api_key")):
        reply = httpx.get(gw.url + f"/clusters/lab/slurm/{V}/jobs", headers=headers, timeout=10)
        assert refused(reply, 401, code)
    nowhere = httpx.get(gw.url + "/clusters/nope/x", headers={"authorization": "Bearer gk_nope"}, timeout=10)
    refused(nowhere, 404, "cluster_not_found")
    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    for code in ("missing_api_key", "invalid_api_key", "cluster_not_found"):
        assert f'gateway_unattributed_refusals_total{{code="{code}"}}' in metrics, code
