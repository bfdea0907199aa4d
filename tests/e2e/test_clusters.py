"""Slurm behind the gateway, for real: slurmctld, slurmd and slurmrestd on loopback, fake GPUs.

Customers call the cluster's own REST API at /clusters/lab/... with their gateway key; the
gateway submits as itself, follows each job to its end and settles what it computed.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import string
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from gateway.identity.repository import create_key
from gateway.quota.overrides import set_override
from tests.conftest import _run, verified_customer
from tests.e2e.conftest import GatewayProcess, cluster_user
from tests.e2e.test_cli import gateway_cli
from tests.e2e.test_quota import counter

V = "v0.0.38"


def customer(database_url: str, lab: Any = None) -> tuple[uuid.UUID, str]:
    """A verified customer with a key; with ``lab``, also its own user on the cluster."""

    async def make() -> tuple[uuid.UUID, str]:
        conn = await asyncpg.connect(database_url)
        try:
            c = await verified_customer(conn, f"lab-{uuid.uuid4().hex[:8]}")
            return c.id, (await create_key(conn, str(c.id), "default")).key
        finally:
            await conn.close()

    made = _run(make())
    if lab is not None:
        cluster_user(lab, database_url, made[0])
        # The key and the customer's standing reach the gateway by two notifications: wait for both.
        deadline = time.monotonic() + 10
        while (listed := call(lab, made[1], "GET", "/jobs")).status_code in (401, 403):
            assert time.monotonic() < deadline, listed.text
            time.sleep(0.02)
    return made


def job_body(
    slurm: Any, script: str = "sleep 1", gres: str = "gpu:h100:2", minutes: int | None = 1
) -> dict[str, Any]:
    """A job for `lab`; it runs in the customer's home (the gateway sets the working directory)."""
    job: dict[str, Any] = {
        "name": "train-part",
        "partition": "gpu",
        "gres": gres,
        "environment": {"PATH": "/usr/bin:/bin"},
    }
    if minutes is not None:
        job["time_limit"] = minutes
    return {"script": f"#!/bin/bash\n{script}\n", "job": job}


def call(lab: Any, key: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method,
        lab["gw"].url + f"/clusters/lab/slurm/{V}{path}",
        headers={"authorization": f"Bearer {key}"},
        json=body,
        timeout=30,
    )


def workload(database_url: str, job_id: int) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            row = await conn.fetchrow(
                "select * from workloads where cluster = 'lab' and job_id = $1", str(job_id)
            )
            return dict(row) if row else {}
        finally:
            await conn.close()

    return _run(read())


def until_ended(database_url: str, job_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = workload(database_url, job_id)
        if row.get("state") == "ended":
            return row
        assert time.monotonic() < deadline, f"job {job_id} not settled: {row.get('state')}"
        time.sleep(0.1)


def slurm_job_count(slurm: Any) -> int:
    token = slurm.token("root")
    reply = httpx.get(
        f"{slurm.base_url}/slurm/{V}/jobs",
        headers={"X-SLURM-USER-NAME": "root", "X-SLURM-USER-TOKEN": token},
        timeout=10,
    )
    return len(reply.json()["jobs"])


def test_a_job_runs_on_the_cluster_and_its_gpu_seconds_are_settled(lab, slurm, database_url) -> None:
    cid, key = customer(database_url, lab)
    submitted = call(lab, key, "POST", "/job/submit", job_body(slurm, "sleep 2"))
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["job_id"]
    row = workload(database_url, job_id)
    assert (row["customer_id"], row["gpus"], row["accelerator"]) == (cid, 2, "h100")
    assert row["gpu_seconds_bound"] == 2 * 60 and row["flop_bound"] == pytest.approx(2 * 60 * 989e12)
    seen = call(lab, key, "GET", f"/job/{job_id}")
    assert seen.status_code == 200 and seen.json()["jobs"][0]["job_id"] == job_id
    ended = until_ended(database_url, job_id)
    assert ended["native_state"] == "COMPLETED"
    assert 1 <= ended["run_seconds"] <= 60
    assert ended["gpu_seconds_settled"] == 2 * ended["run_seconds"]
    assert ended["flop_settled"] == pytest.approx(ended["gpu_seconds_settled"] * 989e12 * 0.4)

    async def counters() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "select dimension, used, reserved from quota_counters where scope_id = $1"
                " and dimension in ('gpu_seconds', 'flop')",
                str(cid),
            )
            return [dict(r) for r in rows]
        finally:
            await conn.close()

    by = {r["dimension"]: r for r in _run(counters())}
    # The bound was reserved at submission and replaced by what the job computed.
    assert by["gpu_seconds"]["used"] == ended["gpu_seconds_settled"] and by["gpu_seconds"]["reserved"] == 0

    # The ledger has the job beside the calls that submitted and read it (gateway usage compute/summary).
    def compute_events() -> list[dict[str, Any]]:
        done = gateway_cli(lab["gw"], "usage", "compute", "--json", "--customer", str(cid))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    deadline = time.monotonic() + 10
    while not (events := compute_events()):
        assert time.monotonic() < deadline, "the settled job never reached the ledger"
        time.sleep(0.1)
    (event,) = events
    assert (event["job_id"], event["cluster"], event["kind"], event["accelerator"]) == (
        str(job_id),
        "lab",
        "slurm",
        "h100",
    )
    assert (event["gpus"], event["run_seconds"], event["gpu_seconds"]) == (
        2,
        ended["run_seconds"],
        ended["gpu_seconds_settled"],
    )
    assert event["flop_settled"] == pytest.approx(ended["flop_settled"])
    assert event["flop_bound"] == pytest.approx(2 * 60 * 989e12)
    summary = gateway_cli(
        lab["gw"],
        "usage",
        "summary",
        "--json",
        "--customer",
        str(cid),
        "--since",
        "2000-01-01",
        "--until",
        "2100-01-01",
    )
    (mine,) = json.loads(summary.stdout)
    calls = json.loads(gateway_cli(lab["gw"], "usage", "list", "--json", "--customer", str(cid)).stdout)
    assert {"/clusters/lab/slurm/{v}/job/submit", "/clusters/lab/slurm/{v}/job/{id}"} <= {
        c["route"] for c in calls
    }
    assert (mine["jobs"], mine["gpu_seconds"], mine["requests"]) == (
        1,
        ended["gpu_seconds_settled"],
        len(calls),
    )


def test_customers_see_and_cancel_only_their_own_jobs(lab, slurm, database_url) -> None:
    _, alice = customer(database_url, lab)
    _, bob = customer(database_url, lab)
    submitted = call(lab, alice, "POST", "/job/submit", job_body(slurm, "sleep 60"))
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["job_id"]
    for method in ("GET", "DELETE"):
        refused = call(lab, bob, method, f"/job/{job_id}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "job_not_found"
    assert job_id not in [j["job_id"] for j in call(lab, bob, "GET", "/jobs").json()["jobs"]]
    assert job_id in [j["job_id"] for j in call(lab, alice, "GET", "/jobs").json()["jobs"]]
    cancelled = call(lab, alice, "DELETE", f"/job/{job_id}")
    assert cancelled.status_code == 200, cancelled.text
    ended = until_ended(database_url, job_id)
    assert ended["native_state"] == "CANCELLED"
    assert ended["run_seconds"] < 60


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b["job"].pop("time_limit"), "unbounded_job"),
        (lambda b: b.pop("script"), "invalid_job"),
        (lambda b: b["job"].update(gres="gpu:tpu-v9:4"), "unknown_accelerator"),
    ],
)
def test_a_malformed_job_is_refused_and_nothing_is_submitted(lab, slurm, database_url, change, code) -> None:
    _, key = customer(database_url, lab)
    body = job_body(slurm)
    change(body)
    before = slurm_job_count(slurm)
    refused = call(lab, key, "POST", "/job/submit", body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]
    assert slurm_job_count(slurm) == before


NEWER = {
    # The shapes of Slurm 23.02+ (this machine's Slurm serves v0.0.38 only): the gateway reads and
    # refuses them itself, so nothing reaches the cluster whichever version the path names.
    "no time limit": ({"script": "#!/bin/bash\ntrue\n", "job": {"tres_per_node": "gres/gpu:h100:8"}}, "unbounded_job"),
    "unlimited": (
        {"job": {"script": "#!/bin/bash\ntrue\n", "tres_per_job": "gres/gpu:4",
                 "time_limit": {"set": True, "infinite": True, "number": 0}}},
        "unbounded_job",
    ),
    "no script": ({"job": {"tres_per_node": "gres/gpu:2", "time_limit": 60}}, "invalid_job"),
    "bad nodes": (
        {"script": "x", "job": {"nodes": "many", "time_limit": {"set": True, "infinite": False, "number": 5}}},
        "invalid_job",
    ),
}  # fmt: skip


@pytest.mark.parametrize("version", ["v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44"])
@pytest.mark.parametrize("case", sorted(NEWER))
def test_malformed_jobs_of_every_newer_api_version_are_refused_before_the_cluster(
    lab, slurm, database_url, version: str, case: str
) -> None:
    cid, key = customer(database_url, lab)
    body, code = NEWER[case]
    before = slurm_job_count(slurm)
    refused = httpx.post(
        lab["gw"].url + f"/clusters/lab/slurm/{version}/job/submit",
        headers={"authorization": f"Bearer {key}"},
        json=body,
        timeout=30,
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == code
    assert slurm_job_count(slurm) == before
    assert workload_count(database_url, cid) == 0  # not even a rejected record


def workload_count(database_url: str, customer_id: uuid.UUID) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(
                await conn.fetchval("select count(*) from workloads where customer_id = $1", customer_id)
            )
        finally:
            await conn.close()

    return _run(count())


def test_invalid_json_is_a_400(lab, database_url) -> None:
    _, key = customer(database_url, lab)
    refused = httpx.post(
        lab["gw"].url + f"/clusters/lab/slurm/{V}/job/submit",
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        content=b"{not json",
        timeout=10,
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_json"


def test_jobs_running_across_a_gateway_restart_are_settled_once(lab, slurm, database_url) -> None:
    _, key = customer(database_url, lab)
    submitted = call(lab, key, "POST", "/job/submit", job_body(slurm, "sleep 3"))
    assert submitted.status_code == 200, submitted.text
    job_id = submitted.json()["job_id"]
    old: GatewayProcess = lab["gw"]
    assert old.stop(signal.SIGTERM) == 0
    assert workload(database_url, job_id)["state"] in ("queued", "running")
    lab["gw"] = GatewayProcess(old.config, database_url, old.state_dir).start()
    ended = until_ended(database_url, job_id)
    assert ended["native_state"] == "COMPLETED" and ended["run_seconds"] >= 3


def test_a_job_reaching_a_hold_level_waits_for_enhanced_due_diligence(
    lab, slurm, database_url, tmp_path: Path
) -> None:
    """A deployment whose EU level holds new jobs: the job that would reach it is refused until reviewed."""
    policy = tmp_path / "policy"
    policy.mkdir()
    # A level of one 2-GPU, 1-minute H100 job's expected compute (2 x 60 x 989e12 x 0.4 = 4.7e16) x 1.5.
    (policy / "thresholds.toml").write_text(
        '[[thresholds.training]]\nname = "eu"\nflop = 7.1e16\nalert_fractions = [0.5, 1.0]\nscope = "eu"\n'
        'source = "test: a low level"\nas_of = 2026-01-01\naction = "hold"\n'
    )
    old: GatewayProcess = lab["gw"]
    config = tmp_path / "gateway.toml"
    config.write_text(f'policy_dir = "{policy}"\n' + old.config.read_text())
    held = GatewayProcess(config, database_url, tmp_path / "state").start()
    try:
        cid, key = customer(database_url, lab)
        url = held.url + f"/clusters/lab/slurm/{V}/job/submit"
        auth = {"authorization": f"Bearer {key}"}
        first = httpx.post(url, json=job_body(slurm, "sleep 30"), headers=auth, timeout=30)
        assert first.status_code == 200, first.text  # 4.7e16: below the level
        second = httpx.post(url, json=job_body(slurm, "sleep 30"), headers=auth, timeout=30)
        assert second.status_code == 403, second.text  # 9.5e16 projected: it would reach it
        error = second.json()["error"]
        assert error["code"] == "training_review_required" and "eu level" in error["message"]

        async def review() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("update customers set kyc_level = 'enhanced' where id = $1", cid)
            finally:
                await conn.close()

        _run(review())
        deadline = time.monotonic() + 5
        while True:  # the standing cache hears of the new level within a second
            third = httpx.post(url, json=job_body(slurm, "sleep 0"), headers=auth, timeout=30)
            if third.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert third.status_code == 200, third.text
        httpx.delete(
            held.url + f"/clusters/lab/slurm/{V}/job/{first.json()['job_id']}", headers=auth, timeout=30
        )

        # Two jobs at once, each below the level, together at it: exactly one gets through.
        _, racer = customer(database_url, lab)
        racing = {"authorization": f"Bearer {racer}"}

        async def both() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as client:
                return await asyncio.gather(
                    *(client.post(url, json=job_body(slurm, "sleep 0"), headers=racing) for _ in range(2))
                )

        statuses = sorted(r.status_code for r in _run(both()))
        assert statuses == [200, 403], statuses
    finally:
        held.stop()


def test_a_job_reserves_its_spend_bound_and_settles_what_it_ran_at_the_admitted_price(
    lab, slurm, database_url, tmp_path: Path
) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "prices.toml").write_text("[gpu_prices.h100]\nper_gpu_hour = 3600  # $1 a GPU-second\n")
    cid, key = customer(database_url, lab)

    async def spend_limit() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await set_override(conn, cid, dimension="spend", limit=150, period="day", actor="test")
        finally:
            await conn.close()

    _run(spend_limit())
    old: GatewayProcess = lab["gw"]
    config = tmp_path / "gateway.toml"
    config.write_text(f'policy_dir = "{policy}"\n' + old.config.read_text())
    priced = GatewayProcess(config, database_url, tmp_path / "state").start()
    try:
        url = priced.url + f"/clusters/lab/slurm/{V}/job/submit"
        auth = {"authorization": f"Bearer {key}"}
        before = slurm_job_count(slurm)
        a100 = httpx.post(url, json=job_body(slurm, "sleep 0", gres="gpu:a100:1"), headers=auth, timeout=30)
        assert a100.status_code == 403, a100.text  # the catalog knows the A100, the price table does not
        assert a100.json()["error"]["code"] == "unpriced"
        assert slurm_job_count(slurm) == before and workload_count(database_url, cid) == 0

        first = httpx.post(url, json=job_body(slurm, "sleep 2"), headers=auth, timeout=30)
        assert first.status_code == 200, first.text  # 2 GPUs x 60 s x $1 = $120 reserved of $150
        job_id = first.json()["job_id"]
        assert workload(database_url, job_id)["price_per_gpu_hour"] == 3600
        second = httpx.post(url, json=job_body(slurm, "sleep 0", minutes=1), headers=auth, timeout=30)
        assert second.status_code == 429, second.text  # another $120 would not fit
        assert second.json()["error"]["code"] == "budget_exhausted"
        assert "spend <= 150 per day" in second.json()["error"]["message"]

        ended = until_ended(database_url, job_id)
        spent = counter(database_url, str(cid), "spend", "day")
        assert spent["used"] == pytest.approx(ended["gpu_seconds_settled"] * 1.0, rel=1e-9)
        assert spent["reserved"] == 0 and 2 <= spent["used"] < 120
    finally:
        priced.stop()


def test_a_run_split_over_50_jobs_and_3_linked_customers_is_flagged_as_one(
    lab, slurm, database_url, tmp_path: Path
) -> None:
    """50 real jobs through the gateway, spread over 3 customers who share a beneficial owner.

    A deployment level of 2e18 FLOP stands in for 1e25 (the real one would need 10^7 GPU-hours):
    each job's expected compute is 2 GPUs x 60 s x 989e12 x 0.4 = 4.75e16, 50 of them 2.4e18, and no
    customer's third of it (8e17) reaches the level. `gateway compute flags` names all three.
    """
    from gateway.kyc.models import OwnerIn
    from tests.conftest import kyc_service
    from tests.e2e.test_cli import gateway_cli

    # A name of this test's own: customers of other tests in this database must not join the group.
    owner = "Ivan " + "".join(random.choice(string.ascii_lowercase) for _ in range(10)) + " Sidorov"

    async def linked() -> list[tuple[uuid.UUID, str]]:
        conn = await asyncpg.connect(database_url)
        kyc = kyc_service()
        made = []
        try:
            for i in range(3):
                c = await kyc.create_customer(conn, f"split-{uuid.uuid4().hex[:6]}-{i}", "organisation", "US")
                await kyc.add_owner(conn, c.id, OwnerIn(name=owner, kind="person",
                                                        percent=100, country="CY"))  # fmt: skip
                await kyc.submit(conn, c.id, "test")
                await kyc.decide(conn, c.id, "approve", "test", "verified for the test")
                made.append((c.id, (await create_key(conn, str(c.id), "default")).key))
        finally:
            await conn.close()
        return made

    customers = _run(linked())
    for cid, _ in customers:
        cluster_user(lab, database_url, cid)
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "thresholds.toml").write_text(
        '[[thresholds.training]]\nname = "eu"\nflop = 2e18\nalert_fractions = [0.5, 1.0]\nscope = "eu"\n'
        'source = "test: 1e25 scaled down"\nas_of = 2026-01-01\n'
    )
    old: GatewayProcess = lab["gw"]
    config = tmp_path / "gateway.toml"
    config.write_text(f'policy_dir = "{policy}"\n' + old.config.read_text())
    gw = GatewayProcess(config, database_url, tmp_path / "state").start()
    submitted: list[tuple[str, int]] = []
    try:
        for n in range(50):
            _, key = customers[n % 3]
            reply = httpx.post(
                gw.url + f"/clusters/lab/slurm/{V}/job/submit",
                json=job_body(slurm, "sleep 300"),
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
            submitted.append((key, reply.json()["job_id"]))
        # The operator's command, with the deployment's configuration (and so its policy folder).
        shown = gateway_cli(gw, "compute", "flags", "--config", str(config), "--json")
        assert shown.returncode == 0, shown.stderr
        eu = {f["customer"]: f for f in json.loads(shown.stdout) if f["threshold"] == "eu"}
        group = sorted(str(c) for c, _ in customers)
        for cid in group:
            assert eu[cid]["fraction"] == 1.0 and eu[cid]["group"] == group
            assert len(eu[cid]["jobs"]) == 50 and eu[cid]["flop"] == pytest.approx(50 * 2 * 60 * 989e12 * 0.4)
        one = gateway_cli(gw, "compute", "show", "--customer", group[0], "--config", str(config), "--json")
        view = json.loads(one.stdout)
        assert view["group"] == group
        assert view["flop_expected"] < 2e18  # alone, below the level
        assert next(t for t in view["thresholds"] if t["name"] == "eu")["fraction"] >= 1.0
    finally:
        for key, job_id in submitted:  # free the cluster for the tests that follow
            httpx.delete(gw.url + f"/clusters/lab/slurm/{V}/job/{job_id}",
                         headers={"authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
        gw.stop()
