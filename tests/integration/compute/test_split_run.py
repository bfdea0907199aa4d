"""A training run split over 50 jobs and 3 customers who share a beneficial owner.

No customer reaches the EU level (1e25 FLOP) alone; together they do, and `gateway compute
flags` names all three, with the jobs and the link. Customers with the same jobs but owners of
their own stay below it.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
import uuid

import asyncpg

from gateway.kyc.models import OwnerIn
from tests.conftest import kyc_service

PER_JOB = 1.2e25 / 50  # the run: 1.2e25 FLOP in 50 jobs


async def linked_customers(conn: asyncpg.Connection, owner: str, country: str, n: int = 3) -> list[uuid.UUID]:
    kyc = kyc_service()
    made = []
    for i in range(n):
        c = await kyc.create_customer(conn, f"split-{uuid.uuid4().hex[:6]}-{i}", "organisation", "US")
        await kyc.add_owner(conn, c.id, OwnerIn(name=owner, kind="person", percent=60, country=country))
        made.append(c.id)
    return made


async def add_jobs(conn: asyncpg.Connection, customers: list[uuid.UUID], tag: str) -> None:
    for n in range(50):
        customer = customers[n % 3]
        ended = n % 2 == 0  # half done (settled), half still running (expected)
        await conn.execute(
            """
            insert into workloads
                (id, cluster, job_id, customer_id, kind, api_version, state, accelerator, gpus,
                 time_limit_seconds, peak_flops_per_gpu, utilisation, gpu_seconds_bound, flop_bound,
                 flop_expected, flop_settled, gpu_seconds_settled, submitted_at, ended_at)
            values ($1, 'retired-cluster', $2, $3, 'slurm', 'v0.0.38', $4, 'h100', 256, 86400, 989e12, 0.4,
                    256 * 86400, $5 / 0.4, $5, $6, 1000, now() - interval '2 days',
                    case when $4 = 'ended' then now() - interval '1 day' end)
            """,
            uuid.uuid4(),
            f"{tag}-{n}",
            customer,
            "ended" if ended else "running",
            0.0 if ended else PER_JOB,
            PER_JOB if ended else 0.0,
        )


def flags(database_url: str) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=database_url, GATEWAY_KYC_KEYS=os.environ["GATEWAY_KYC_KEYS"])
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "compute", "flags", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_a_split_run_crosses_the_level_only_as_a_linked_group(conn, database_url) -> None:
    # A name of this test's own: customers of other tests in this database must not join the group.
    owner = "Ivan " + "".join(random.choice(string.ascii_lowercase) for _ in range(10)) + " Sidorov"
    linked = await linked_customers(conn, owner, "CY")
    await add_jobs(conn, linked, f"linked-{uuid.uuid4().hex[:6]}")
    apart = []
    for i in range(3):  # the same jobs, but each customer with an owner of its own
        apart += await linked_customers(conn, f"Unrelated Owner {uuid.uuid4().hex[:6]} {i}", "CY", n=1)
    await add_jobs(conn, apart, f"apart-{uuid.uuid4().hex[:6]}")

    raised = flags(database_url)
    eu = {f["customer"]: f for f in raised if f["threshold"] == "eu"}
    group = sorted(str(c) for c in linked)
    for c in group:
        assert eu[c]["fraction"] == 1.0, eu[c]
        assert eu[c]["group"] == group
        assert len(eu[c]["jobs"]) == 50
        assert eu[c]["flop"] >= 1e25
        assert "beneficial owner" in eu[c]["links"][0]["reason"]
    for c in apart:
        # Alone, each holds a third of the run: below the level (an early alert, not the level).
        assert eu.get(str(c), {"fraction": 0.0})["fraction"] < 1.0
        assert eu.get(str(c), {"group": [str(c)]})["group"] == [str(c)]
