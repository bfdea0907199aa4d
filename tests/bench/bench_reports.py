"""How long a usage report takes as the ledger grows: seconds per size.

    python tests/bench/bench_reports.py [--sizes 100000,1000000,10000000] [--customers 1000] [--repeat 3]

On a fresh PostgreSQL database (127.0.0.1:5432; dropped at the end), ``--customers`` customers in
26 countries (a third of them in EU member states); then, for each of ``--sizes``, the ledger is
emptied and that many usage events are COPYed in (as the ledger's writer does, in time order),
spread evenly over September, October and November 2026, 8 % of them refused (403/429), with one
compute event per 100 calls. At each size, after ``VACUUM ANALYZE``, it times (best of ``--repeat``):

- ``EU, November``: the usage report of the EU for one month (a third of the rows);
- ``US, November``: the provider's home, every customer, the same month;
- ``US, Sep-Nov``: the home report over the whole table;

and prints the rows each report reads, the time, the rows per second, and the plan PostgreSQL
chose for the one big query (the aggregation of ``usage_events`` over the period). Building,
signing and storing the report on top is constant (a few ms). See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import secrets
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import machine_lines

from gateway.audit.keys import SigningKeys, new_key_spec
from gateway.db.migrate import migrate
from gateway.policy import load_policy
from gateway.reports import queries
from gateway.reports.generate import Issuer
from gateway.reports.model import Provider, canonical

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
NOVEMBER = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
COUNTRIES = ["DE", "FR", "NL", "IT", "ES", "PL", "SE", "IE", "AT", "BE",  # EU
             "US", "US", "US", "US", "US", "GB", "CA", "JP", "KR", "IN",
             "BR", "MX", "AU", "SG", "CH", "NO", "TR", "AE", "ZA", "IL"]  # fmt: skip
USAGE_COLUMNS = ["request_id", "occurred_at", "customer_id", "project_id", "key_id", "route", "model",
                 "status", "error_code", "prompt_tokens", "completion_tokens", "usage_complete", "duration_ms",
                 "bytes_in", "bytes_out"]  # fmt: skip
COMPUTE_COLUMNS = ["workload_id", "occurred_at", "customer_id", "cluster", "kind", "job_id", "accelerator",
                   "gpus", "submitted_at", "run_seconds", "gpu_seconds", "flop_bound", "flop_expected",
                   "flop_settled", "bio"]  # fmt: skip


class Nothing:
    """Large-training reports are not timed: no KYC record is opened."""

    async def facts(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> None:
        return None

    async def owners(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[object]:
        return []


async def make_customers(conn: asyncpg.Connection, count: int, rng: random.Random) -> list[uuid.UUID]:
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(count)]
    countries = [COUNTRIES[i % len(COUNTRIES)] for i in range(count)]
    await conn.executemany(
        "insert into customers (id, name, country, kyc_status, jurisdictions, created_at)"
        " values ($1, $2, $3, 'verified', jsonb_build_array(jsonb_build_object('country', $3::text,"
        " 'source', 'account')), $4)",
        [
            (cid, f"bench-{i}", c, START - dt.timedelta(days=1))
            for i, (cid, c) in enumerate(zip(ids, countries, strict=True))
        ],
    )
    return ids


async def fill(conn: asyncpg.Connection, customers: list[uuid.UUID], total: int, rng: random.Random) -> float:
    """``total`` rows spread evenly over the three months, in time order (as the ledger's writer
    appends them); seconds taken."""
    began = time.perf_counter()
    span = (END - START).total_seconds()
    chunk = 200_000
    for lo in range(0, total, chunk):
        hi = min(total, lo + chunk)
        records = []
        jobs = []
        for i in range(lo, hi):
            when = START + dt.timedelta(seconds=span * i / total)
            cid = customers[i % len(customers)]
            roll = rng.random()
            if roll < 0.05:
                status, code, prompt, completion = 429, "budget_exhausted", 0, 0
            elif roll < 0.08:
                status, code, prompt, completion = 403, "jurisdiction_denied", 0, 0
            else:
                status, code, prompt, completion = 200, None, rng.randrange(10, 4000), rng.randrange(1, 800)
            records.append((uuid.UUID(int=i + 1), when, cid, cid, "0123456789abcdef", "/v1/chat/completions",
                            "gpt-bench", status, code, prompt, completion, True, 12.5, 900, 1800))  # fmt: skip
            if i % 100 == 0:
                gpu_s = 8 * rng.randrange(600, 86400)
                jobs.append((uuid.UUID(int=i + 1), when, cid, "hpc", "slurm", str(i), "h100", 8,
                             when - dt.timedelta(hours=2), gpu_s / 8, float(gpu_s), gpu_s * 989e12,
                             gpu_s * 989e12 * 0.4, gpu_s * 989e12 * 0.4 * rng.random(), False))  # fmt: skip
        await conn.copy_records_to_table("usage_events", columns=USAGE_COLUMNS, records=records)
        if jobs:
            await conn.copy_records_to_table("compute_events", columns=COMPUTE_COLUMNS, records=jobs)
    return time.perf_counter() - began


async def plan(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> str:
    rows = await conn.fetch("explain " + queries._USAGE, since, until)
    lines = [r[0].strip() for r in rows]
    return " / ".join(
        line.split("  (")[0].lstrip("-> ") for line in lines if "Scan" in line or "Aggregate" in line
    )


async def timed(conn: asyncpg.Connection, issuer: Issuer, code: str, since: dt.datetime, until: dt.datetime,
                repeat: int) -> tuple[float, bytes]:  # fmt: skip
    from gateway.reports.generate import usage_report

    best = float("inf")
    body = b""
    for _ in range(repeat):
        began = time.perf_counter()
        body = canonical(await usage_report(conn, issuer, jurisdiction=code, since=since, until=until))
        best = min(best, time.perf_counter() - began)
    return best, body


async def main(args: argparse.Namespace) -> int:
    name = f"gw_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'create database "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    rng = random.Random(7)
    try:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        customers = await make_customers(conn, args.customers, rng)
        issuer = Issuer(
            policy=load_policy(),
            keys=SigningKeys.parse("bench.example/audit", new_key_spec(1)),
            kyc=Nothing(),  # type: ignore[arg-type]
            provider=Provider(name="bench.example", country="US", audit_log="bench.example/audit"),
            actor="bench",
        )
        for line in machine_lines(["asyncpg", "msgspec", "rfc8785"]):
            print(line)
        print(
            f"customers: {args.customers} in {len(set(COUNTRIES))} countries; repeat: best of {args.repeat}\n"
        )
        header = f"{'rows in table':>14}  {'report':<14}{'rows read':>12}{'seconds':>10}{'rows/s':>14}  plan"
        print(header)
        for size in sorted(int(s) for s in args.sizes.split(",")):
            await conn.execute("truncate usage_events, compute_events")
            took = await fill(conn, customers, size, rng)
            await conn.execute("vacuum analyze usage_events")
            await conn.execute("vacuum analyze compute_events")
            print(f"# {size:,} rows: this step's COPY took {took:.1f} s")
            for code, since, label in (("EU", NOVEMBER, "EU, November"), ("US", NOVEMBER, "US, November"),
                                       ("US", START, "US, Sep-Nov")):  # fmt: skip
                read = await conn.fetchval(
                    "select count(*) from usage_events where occurred_at >= $1 and occurred_at < $2",
                    since,
                    END,
                )
                seconds, body = await timed(conn, issuer, code, since, END, args.repeat)
                how = await plan(conn, since, END)
                print(f"{size:>14,}  {label:<14}{read:>12,}{seconds:>10.3f}{read / seconds:>14,.0f}  {how}")
                sys.stdout.flush()
                assert body  # built and canonical
        version = await conn.fetchval("show server_version")
        print(f"\nPostgreSQL {version}")
        await conn.close()
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    sys.exit(asyncio.run(main(parser.parse_args())))
