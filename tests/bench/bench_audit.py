"""How fast the audit log appends, and how soon a signed checkpoint includes an entry.

    python tests/bench/bench_audit.py [--entries 4000] [--batch 1] [--samples 3]

On a fresh PostgreSQL database (127.0.0.1:5432; dropped at the end):

- **appends/s, 1 writer**: one process appending ``--entries`` entries, ``--batch`` per transaction
  (1: each entry in a transaction of its own, as a KYC decision logs its entry), 8 at a time on a
  pool, every append locking the log's head (the one total order);
- **appends/s, 4 writers**: four processes doing the same at once, against the same head;
- the same through the **batched writer** (what the hot path's refusals and accesses use: up to 256
  entries per transaction), 1 and 4 processes;
- **append to checkpoint**: a Checkpointer signs every 10 s (the default) in the background; the
  time from an append's commit to the first signed checkpoint that includes it, ``--samples`` times.

The log is verified at the end (every leaf, chain link, subtree and checkpoint). See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import machine_lines

from gateway.audit import log
from gateway.audit.checkpoints import Checkpointer
from gateway.audit.entry import entry
from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.audit.note import NoteVerifier
from gateway.audit.verify import verify_log
from gateway.audit.writer import AuditWriter
from gateway.db.migrate import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def writer(url: str, count: int, batch: int, concurrency: int, tag: str) -> float:
    """Append ``count`` entries; the seconds it took."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    left = list(range(0, count, batch))

    async def worker() -> None:
        while left:
            first = left.pop()
            now = dt.datetime.now(dt.UTC)
            items = [
                entry(
                    "bench.append",
                    actor=tag,
                    at=now,
                    subject=f"bench:{i}",
                    data={"i": i, "flop": "1" + "0" * 25},
                )
                for i in range(first, min(first + batch, count))
            ]
            async with pool.acquire() as conn:
                await log.append(conn, items)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


async def batched(url: str, count: int, tag: str) -> float:
    """Record ``count`` entries through the batched writer (the hot path's refusals, accesses) and
    stop it (everything appended); the seconds it took."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    with tempfile.TemporaryDirectory() as spool:
        writer = AuditWriter(pool, Path(spool))
        await writer.start()
        started = time.perf_counter()
        now = dt.datetime.now(dt.UTC)
        for i in range(count):
            writer.record(entry("bench.batched", actor=tag, at=now, subject=f"bench:{i}", data={"i": i}))
            if i % 256 == 255:
                await asyncio.sleep(0)  # as requests would: the writer runs between them
        await writer.stop()
        elapsed = time.perf_counter() - started
    await pool.close()
    return elapsed


def run_writers(url: str, entries: int, extra: list[str]) -> float:
    """Four child processes at once; the wall time."""
    started = time.perf_counter()
    children = [
        subprocess.Popen([sys.executable, __file__, "--writer", url, "--entries", str(entries), *extra],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    outputs = [c.communicate()[0] for c in children]
    assert all(c.returncode == 0 for c in children), outputs
    return time.perf_counter() - started


async def to_checkpoint(url: str, keys: SigningKeys, samples: int) -> list[float]:
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    checkpointer = Checkpointer(pool, keys, interval=10.0)
    checkpointer.start()
    waits = []
    try:
        for s in range(samples):
            await asyncio.sleep(1.7 * (s + 1))  # land at different points of the 10 s cycle
            async with pool.acquire() as conn:
                (seq,) = await log.append(
                    conn, [entry("bench.latency", actor="bench", at=dt.datetime.now(dt.UTC))]
                )
            appended = time.perf_counter()
            while True:
                async with pool.acquire() as conn:
                    last = await log.latest_checkpoint(conn)
                if last is not None and last.size > seq:
                    waits.append(time.perf_counter() - appended)
                    break
                await asyncio.sleep(0.05)
    finally:
        await checkpointer.stop()
        await pool.close()
    return waits


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=4000, help="entries per writer")
    parser.add_argument("--batch", type=int, default=1, help="entries per transaction")
    parser.add_argument("--concurrency", type=int, default=8, help="transactions at once per writer")
    parser.add_argument("--samples", type=int, default=3, help="append-to-checkpoint samples")
    parser.add_argument("--writer", help=argparse.SUPPRESS)  # a child writer: its database URL
    parser.add_argument("--batched", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        if args.batched:
            print(asyncio.run(batched(args.writer, args.entries, "child")))
        else:
            print(asyncio.run(writer(args.writer, args.entries, args.batch, args.concurrency, "child")))
        return

    name = f"gw_bench_{secrets.token_hex(4)}"
    asyncio.run(admin(f"create database {name}"))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:

        async def setup() -> None:
            conn = await asyncpg.connect(url)
            await migrate(conn)
            await conn.close()

        asyncio.run(setup())
        for line in machine_lines(["asyncpg"]):
            print(line)
        print(f"\naudit appends, {args.batch} entr{'y' if args.batch == 1 else 'ies'} per transaction:")
        one = asyncio.run(writer(url, args.entries, args.batch, args.concurrency, "one"))
        print(f"  1 writer    {args.entries / one:10,.0f} entries/s  ({args.entries} in {one:.2f} s)")
        wall = run_writers(
            url, args.entries, ["--batch", str(args.batch), "--concurrency", str(args.concurrency)]
        )
        total = 4 * args.entries
        print(
            f"  4 writers   {total / wall:10,.0f} entries/s  ({total} in {wall:.2f} s, 4 processes at once)"
        )
        print("audit appends through the batched writer (up to 256 per transaction):")
        one = asyncio.run(batched(url, args.entries * 4, "one"))
        print(f"  1 writer    {args.entries * 4 / one:10,.0f} entries/s  ({args.entries * 4} in {one:.2f} s)")
        wall = run_writers(url, args.entries * 4, ["--batched"])
        total = 16 * args.entries
        print(
            f"  4 writers   {total / wall:10,.0f} entries/s  ({total} in {wall:.2f} s, 4 processes at once)"
        )

        keys = SigningKeys.parse("bench.example/audit", new_key_spec())
        waits = asyncio.run(to_checkpoint(url, keys, args.samples))
        print(
            f"\nappend to a signed checkpoint (signed every 10 s): mean {sum(waits) / len(waits):.2f} s,"
            f" max {max(waits):.2f} s over {len(waits)} samples"
        )

        async def check() -> None:
            conn = await asyncpg.connect(url)
            try:
                started = time.perf_counter()
                found = await verify_log(conn, [NoteVerifier.from_vkey(v) for v in keys.vkeys()])
                took = time.perf_counter() - started
            finally:
                await conn.close()
            state = "ok" if found.ok else f"FAILED: {found.problem}"
            print(
                f"verify: {state}, {found.size:,} entries in {took:.2f} s ({found.size / took:,.0f} entries/s)"
            )

        asyncio.run(check())
    finally:
        asyncio.run(admin(f"drop database if exists {name} with (force)"))


if __name__ == "__main__":
    main()
