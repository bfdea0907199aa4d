"""Sizing: what one replica does under load, and what it asks of PostgreSQL per call.

    .venv/bin/python tests/drills/sizing.py [--replicas 1] [--seconds 10] [--clients 32]

Replicas on a PostgreSQL server of their own, under chat calls from many clients and customers. It
prints answered calls a second (every answered call, served or refused, is one usage event), the
gateway's CPU per call, and PostgreSQL's work per call from ``pg_stat_database`` (transactions,
rows inserted and updated): the figures the README's sizing uses.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg

from gateway.demo.upstream import DemoUpstream
from tests.drills import drills
from tests.drills.harness import Load
from tests.e2e.conftest import UPSTREAM_KEY, ThreadedServer

_STATS = "select xact_commit, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = 'postgres'"


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its children that are still running (the server's workers)."""
    total = 0.0
    pids = [pid]
    for parent in pids:
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            pids.extend(int(c) for c in children.read_text().split())
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in clock ticks (100 Hz)
    return total


async def measure(replicas: int, seconds: float, clients: int) -> None:
    with ThreadedServer(DemoUpstream(api_key=UPSTREAM_KEY)) as upstream:
        folder = Path(tempfile.mkdtemp(prefix="gw-sizing-"))
        cluster, pg = await drills.start(
            upstream.port, "http://127.0.0.1:9/none", folder, replicas, as_shipped=True
        )
        try:
            keys = await cluster.keys("sizing", count=16)
            conn = await asyncpg.connect(pg.url)
            load = Load(cluster.urls, keys, clients=clients)
            before = await conn.fetchrow(_STATS)
            cpu_before = sum(cpu_seconds(g.proc.pid) for g in cluster.gateways if g.proc is not None)

            async def run(load: Load) -> dict[str, object]:
                await asyncio.sleep(seconds)
                return {}

            await load.during(run)
            cpu = sum(cpu_seconds(g.proc.pid) for g in cluster.gateways if g.proc is not None) - cpu_before
            await asyncio.sleep(1.0)  # the last batches flush (every 0.25 s)
            after = await conn.fetchrow(_STATS)
            await conn.close()
            answered = sum(1 for a in load.answers if a.request_id is not None)
            served = sum(1 for a in load.answers if a.status == 200)
            per = {
                k: (after[k] - before[k]) / answered for k in ("xact_commit", "tup_inserted", "tup_updated")
            }
            print(f"replicas {replicas}, clients {clients}, {seconds:g} s")
            print(
                f"answered calls/s        {answered / seconds:8.0f}   ({served} served, {answered - served} refused)"
            )
            print(f"per replica calls/s     {answered / seconds / replicas:8.0f}")
            print(f"gateway CPU per call    {cpu / answered * 1e6:8.0f} us")
            print(f"transactions per call   {per['xact_commit']:8.3f}")
            print(f"rows inserted per call  {per['tup_inserted']:8.3f}")
            print(f"rows updated per call   {per['tup_updated']:8.3f}")
        finally:
            await drills.stop(cluster, pg)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(measure(args.replicas, args.seconds, args.clients))
