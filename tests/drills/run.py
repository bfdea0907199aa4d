"""Run the failure drills at full length and print the table the README shows:

    .venv/bin/python tests/drills/run.py [--network-seconds 30] [--seconds 4]

Four gateway replicas on a PostgreSQL server of their own (Debian's binaries, a throwaway folder), behind
a TCP proxy the network drill cuts, under load from 16 clients; the demo upstream answers. Each drill:
calls served, refused (by code), answered calls whose usage event is in the ledger, lost, what the
customer with a hard budget was served of it and beyond it (overshoot), recovery. The disk drill needs
root (it mounts a small tmpfs as one replica's spool folder); without it, it is left out, saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


from gateway.demo.upstream import DemoUpstream
from tests.drills import drills
from tests.drills.harness import table
from tests.e2e.conftest import (
    UPSTREAM_KEY,
    ThreadedServer,
)


async def drill(seconds: float, network_seconds: float) -> None:
    with ThreadedServer(DemoUpstream(api_key=UPSTREAM_KEY)) as upstream:
        cluster, pg = await drills.start(
            upstream.port, "http://127.0.0.1:9/none", Path(tempfile.mkdtemp(prefix="gw-drills-"))
        )
        try:
            outcomes = [
                await drills.replica_killed(cluster, seconds),
                await drills.postgres_restarted(cluster, seconds),
                await drills.key_revoked(cluster, seconds),
                await drills.bad_policy(cluster, seconds),
                await drills.network_cut(cluster, network_seconds),
            ]
            if cluster.disk is not None:
                outcomes.append(await drills.disk_full(cluster, seconds))
            print(table(outcomes))
            if cluster.disk is None:
                print(f"\n(f) left out: {cluster.no_disk}")
        finally:
            await drills.stop(cluster, pg)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="load around each fault (default 4)")
    parser.add_argument("--network-seconds", type=float, default=30.0, help="how long PostgreSQL is cut off")
    args = parser.parse_args()
    asyncio.run(drill(args.seconds, args.network_seconds))
