"""Cluster jobs through the gateway: submissions/s against a real slurmrestd, and the accounting pass.

    python tests/bench/bench_clusters.py [--jobs 200] [--concurrency 8] [--records 1000000]

1. Starts a real single-node Slurm (slurmctld, slurmd, slurmrestd, 8 fake H100s; installed with
   apt-get if missing and running as root) and a gateway fronting it as ``lab``, on a fresh
   database. Submits ``--jobs`` one-GPU ``sleep 0`` jobs straight to slurmrestd (the baseline),
   then the same number through the gateway (each one: identity, KYC, policy, FLOP and
   GPU-second reservations in the database, a workload record, the submission), with
   ``--concurrency`` clients. Prints submissions/s for both, their ratio, and the gateway's
   CPU time per submission.
2. Writes ``--records`` workload records (1,000 customers, two in three linked in pairs through
   a shared owner; 256-GPU jobs of up to a day, a tenth still running, over 400 days) and
   times one full accounting pass: reading the records in the window and the links,
   grouping, and evaluating every training-compute threshold with its evidence (what
   ``gateway compute flags`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
import httpx
from _support import HOST, interrupt_on_signals, machine_lines, tree_cpu_seconds
from bench_proxy import BULK_PLAN, Database, create_key, gateway_cli, gateway_env, start_gateway

from gateway.compute.records import accounting_pass
from gateway.policy.loader import load_policy, shipped_policy_dir
from tests.slurm_cluster import SlurmCluster


def job(workdir: Path) -> dict[str, object]:
    return {
        "script": "#!/bin/bash\ntrue\n",
        "job": {
            "name": "bench",
            "partition": "gpu",
            "gres": "gpu:h100:1",
            "time_limit": 1,
            "current_working_directory": str(workdir),
            "environment": {"PATH": "/usr/bin:/bin"},
        },
    }


async def submit_all(
    url: str, headers: dict[str, str], body: dict[str, object], n: int, clients: int
) -> float:
    done = 0
    failures: list[str] = []

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal done
        while done < n:
            done += 1
            reply = await http.post(url, json=body, headers=headers)
            if reply.status_code != 200:
                failures.append(f"{reply.status_code} {reply.text[:200]}")

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} submissions failed, e.g. {failures[0]}")
    return n / elapsed


async def fill(db_url: str, records: int) -> None:
    """``records`` workloads over 1,000 customers; every third customer shares an owner with two others."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            """
            insert into customers (id, name, kind, country)
            select ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'acct-' || n,
                   'organisation', 'US'
            from generate_series(1, 1000) n on conflict do nothing
            """
        )
        await conn.execute(
            """
            insert into owners (id, customer_id, kind, country, name_index)
            select gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                   'person', 'CY', decode(md5('owner-' || (n / 3)::text), 'hex')
            from generate_series(1, 1000) n where n % 3 <> 2
            """
        )
        await conn.execute(
            """
            insert into workloads
                (id, cluster, job_id, customer_id, kind, api_version, state, accelerator, gpus,
                 time_limit_seconds, peak_flops_per_gpu, utilisation, gpu_seconds_bound, flop_bound,
                 flop_expected, flop_settled, gpu_seconds_settled, submitted_at, ended_at)
            select gen_random_uuid(), 'archive', n::text,
                   ('00000000-0000-4000-8000-' || lpad(to_hex(1 + n % 1000), 12, '0'))::uuid,
                   'slurm', 'v0.0.38', case when n % 10 = 0 then 'running' else 'ended' end, 'h100', 256,
                   86400, 989e12, 0.4, 256 * 86400, 256 * 86400 * 989e12,
                   case when n % 10 = 0 then 256 * 86400 * 989e12 * 0.4 else 0 end,
                   case when n % 10 = 0 then 0 else 256 * 43200 * 989e12 * 0.4 end, 256 * 43200,
                   now() - (n % 400) * interval '1 day', case when n % 10 = 0 then null else now() - (n % 400) * interval '1 day' + interval '6 hours' end
            from generate_series(1, $1) n
            """,
            records,
        )
        await conn.execute("analyze workloads")
    finally:
        await conn.close()


async def timed_pass(db_url: str) -> tuple[float, int, int]:
    policy = load_policy(shipped_policy_dir())
    conn = await asyncpg.connect(db_url)
    try:
        start = time.perf_counter()
        done = await accounting_pass(conn, policy, now=time.time())
        return time.perf_counter() - start, len(done.records), len(done.flags)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    interrupt_on_signals()
    print("\n".join(machine_lines(["granian", "asyncpg", "httpx"])))
    ok, reason = SlurmCluster.install()
    if not ok:
        print(f"real Slurm unavailable: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        slurm = SlurmCluster(workdir / "slurm").start()
        stack.callback(slurm.stop)
        print(f"slurm {slurm.slurm_version}, REST {slurm.api_version}")
        # The gateway submits as the customer's own user (its cluster identity), in its home.
        user = SlurmCluster.ensure_user("gwbench")
        jobs_dir = Path(slurm.jobs_dir) / "gwbench"
        jobs_dir.mkdir()
        jobs_dir.chmod(0o700)
        os.chown(jobs_dir, user.pw_uid, user.pw_gid)
        db = Database()
        db.open()
        stack.callback(db.close)
        env = gateway_env(db.url, workdir / "state")
        root_token = slurm.token("root")
        config = workdir / "gateway.toml"
        policy = workdir / "policy"
        policy.mkdir()
        (policy / "plans.toml").write_text(BULK_PLAN)  # not the shipped 50 requests/s per key
        config.write_text(
            f'policy_dir = "{policy}"\n'
            f'[[clusters]]\nname = "lab"\nkind = "slurm"\nbase_url = "{slurm.base_url}"\nregion = "US"\n'
            f'jwt_key_file = "{slurm.etc}/jwt_hs256.key"\nuser = "root"\npartitions = ["gpu"]\n'
            f'home_root = "{slurm.jobs_dir}"\npoll_seconds = 1.0\n'
        )
        name = f"bench-{uuid.uuid4().hex[:6]}"
        key = create_key(env, name)
        gateway_cli(env, "cluster", "identity", "set", "--config", str(config), "--cluster", "lab",
                    "--customer", name, "--user", "gwbench")  # fmt: skip
        body = job(jobs_dir)
        direct = asyncio.run(
            submit_all(
                f"{slurm.base_url}/slurm/{slurm.api_version}/job/submit",
                {"X-SLURM-USER-NAME": "root", "X-SLURM-USER-TOKEN": root_token},
                body,
                args.jobs,
                args.concurrency,
            )
        )
        gateway, port = start_gateway("granian", config, env, workdir)
        stack.callback(gateway.stop)
        url = f"http://{HOST}:{port}/clusters/lab/slurm/{slurm.api_version}/job/submit"
        cpu_before = tree_cpu_seconds(gateway.pid)
        through = asyncio.run(
            submit_all(url, {"authorization": f"Bearer {key}"}, body, args.jobs, args.concurrency)
        )
        cpu = tree_cpu_seconds(gateway.pid) - cpu_before
        print(f"\nsubmissions, {args.jobs} jobs, {args.concurrency} clients:")
        print(f"  direct to slurmrestd   {direct:8.1f} /s")
        print(f"  through the gateway    {through:8.1f} /s  ({through / direct:.0%} of direct)")
        print(f"  gateway CPU            {cpu / args.jobs * 1e3:8.2f} ms per submission (incl. its follower)")
        gateway.stop()
        print(f"\naccounting pass over {args.records:,} workload records:")
        start = time.perf_counter()
        asyncio.run(fill(db.url, args.records))
        print(f"  written in             {time.perf_counter() - start:8.1f} s")
        seconds, counted, raised = asyncio.run(timed_pass(db.url))
        print(
            f"  one full pass          {seconds:8.2f} s  ({counted:,} records in the window, {raised:,} flags)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
