"""What the ledger writer's COPY costs per row, in this process's CPU: call features through asyncpg's
codecs (``copy_records_to_table``, the path before issue 20) against our own binary COPY stream
(``gateway/ledger/copy_binary.py`` + ``copy_to_table``), in the same run; usage events beside them.

    python tests/bench/bench_ledger_copy.py [--rows 2000] [--repeat 7]

Each figure is the best of ``--repeat`` runs of one COPY of ``--rows`` rows (the table truncated
before each), CPU time of this process only (the database's own work is another process). Rows
come from ``extract`` of the short chat body (16 band keys). Needs PostgreSQL on 127.0.0.1:5432
(user postgres, trust); creates and drops one ``gw_bench_*`` database. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_features import bodies, event

from gateway.db.migrate import migrate
from gateway.detect.features import FEATURE_COLUMNS, extract
from gateway.ledger.copy_binary import features_copy
from gateway.ledger.events import USAGE_COLUMNS
from gateway.ledger.writer import _features_row, _usage_row

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def best_per_row(
    conn: asyncpg.Connection, table: str, rows: int, repeat: int, copy: Callable[[], Awaitable[object]]
) -> float:
    out = float("inf")
    for _ in range(repeat):
        await conn.execute(f"truncate {table}")
        start = time.process_time()
        await copy()
        out = min(out, time.process_time() - start)
    return out / rows * 1e6


async def run(rows: int, repeat: int) -> None:
    name = f"gw_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"create database {name}")
    await admin.close()
    try:
        conn = await asyncpg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        await migrate(conn)
        body = bodies()["short chat"]
        features = [extract(event(), body) for _ in range(rows)]
        usage = [event() for _ in range(rows)]

        async def through_asyncpg() -> None:
            records = [_features_row(f) for f in features]
            await conn.copy_records_to_table("call_features", records=records, columns=FEATURE_COLUMNS)

        async def ours() -> None:
            data = memoryview(features_copy(features))
            await conn.copy_to_table("call_features", source=data, columns=FEATURE_COLUMNS, format="binary")

        async def usage_events() -> None:
            records = [_usage_row(e) for e in usage]
            await conn.copy_records_to_table("usage_events", records=records, columns=USAGE_COLUMNS)

        # Alternated, so that a disturbance of the machine falls on both.
        a = b = u = float("inf")
        for _ in range(2):
            a = min(a, await best_per_row(conn, "call_features", rows, repeat, through_asyncpg))
            b = min(b, await best_per_row(conn, "call_features", rows, repeat, ours))
            u = min(u, await best_per_row(conn, "usage_events", rows, repeat, usage_events))
        encode = float("inf")
        for _ in range(repeat):
            start = time.process_time()
            features_copy(features)
            encode = min(encode, (time.process_time() - start) / rows * 1e6)
        print(f"call_features, asyncpg's codecs (before):  {a:6.2f} µs/row")
        print(
            f"call_features, own binary COPY (after):    {b:6.2f} µs/row  ({a / b:.1f}x), of which encoding {encode:.2f}"
        )
        print(f"usage_events, asyncpg's codecs (reference): {u:6.2f} µs/row")
        await conn.close()
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f"drop database if exists {name} with (force)")
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.repeat))


if __name__ == "__main__":
    main()
