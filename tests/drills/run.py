"""Run the failure drills at full length and print the table the README shows:

    .venv/bin/python tests/drills/run.py [--network-seconds 30] [--seconds 4]

Four gateway replicas on a fresh database (PostgreSQL at 127.0.0.1:5432, as the tests use), behind a
TCP proxy the network drill cuts, under load from 16 clients; the demo upstream answers. Each drill:
calls served, refused (by code), answered calls whose usage event is in the ledger, lost, recovery.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg

from gateway.db.migrate import migrate
from gateway.demo.upstream import DemoUpstream
from tests.conftest import ADMIN_URL, make_database
from tests.drills import drills
from tests.drills.harness import table
from tests.e2e.conftest import (
    ADMIN_TOKEN,
    UPSTREAM_KEY,
    GatewayProcess,
    ThreadedServer,
    free_port,
    gateway_config,
    with_settings,
)
from tests.tcp_proxy import TcpProxy


async def drill(url: str, seconds: float, network_seconds: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="gw-drills-"))
    gateways: list[GatewayProcess] = []
    proxy: TcpProxy | None = None
    with ThreadedServer(DemoUpstream(api_key=UPSTREAM_KEY)) as upstream:
        try:
            conn = await asyncpg.connect(url)
            await migrate(conn)
            await conn.close()
            direct = urlsplit(url)
            proxy = await TcpProxy(direct.hostname or "127.0.0.1", direct.port or 5432).start()
            through = url.replace(f"{direct.hostname}:{direct.port}", f"127.0.0.1:{proxy.port}")
            policy_dir = folder / "policies"
            policy_dir.mkdir()
            config = folder / "gateway.toml"
            base = gateway_config(upstream.port, free_port(), "http://127.0.0.1:9/none")
            config.write_text(with_settings(base, f'policy_dir = "{policy_dir}"'))
            gateways = [GatewayProcess(config, through, folder / f"state-{i}") for i in range(4)]
            await asyncio.gather(*(asyncio.to_thread(g.start) for g in gateways))
            cluster = drills.Replicas(gateways, url, proxy, policy_dir, ADMIN_TOKEN)
            outcomes = [
                await drills.replica_killed(cluster, seconds),
                await drills.key_revoked(cluster, seconds),
                await drills.bad_policy(cluster, seconds),
                await drills.network_cut(cluster, network_seconds),
            ]
            print(table(outcomes))
        finally:
            await asyncio.gather(*(asyncio.to_thread(g.stop) for g in gateways))
            if proxy is not None:
                await proxy.cut()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="load around each fault (default 4)")
    parser.add_argument("--network-seconds", type=float, default=30.0, help="how long PostgreSQL is cut off")
    args = parser.parse_args()
    database, drop = make_database(ADMIN_URL)  # its own loop: before the drills' one
    try:
        asyncio.run(drill(database, args.seconds, args.network_seconds))
    finally:
        drop()
