"""Distillation / abuse detection on planted campaigns: precision, recall, false alerts, time to
flag, detector throughput, and how its cost grows with the ledger.

    python tests/bench/bench_detect.py [--events 200000] [--days 3] [--seed 7] [--sample 200]
                                       [--scales 1000000,10000000] [--load import|synthetic]

1. Generates ``--days`` of mixed traffic (``tests/traffic``) of about ``--events`` calls, ending now,
   with planted campaigns; seeds its customers (verified, with KYC facts and real keys) into a fresh
   database.
2. Sends ``--sample`` calls (the last ones of a few accounts of every kind) through the real gateway
   in front of the demo upstream, and the rest through the usage import path (``--load import``,
   the seam ``tests.traffic.seams.load_calls``) or straight into the ledger with synthetic features
   (``--load synthetic``). A second database gets every call through the same load path.
3. Runs the detector (``--detect MODULE:FUNC``, default the seam ``tests.traffic.seams.ENGINE``)
   every ``--every-hours`` of simulated time over the policy's window, on both databases; prints
   per campaign type precision and recall, false alerts, time to flag (``tests/traffic/evaluate.py``
   has the matching rules), and whether both databases gave the sampled accounts the same result.
4. For each of ``--scales``: a database of that many events, COPYed in with *synthetic* features
   (``tests/traffic/synthetic.py``; the extractor is not run at that size), one detector run over
   the whole window: seconds, events/s, and precision/recall at that size.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust); creates and drops ``gw_bench_*``
databases (``--keep`` keeps them). Exit status 1 when a goal of issue 16 is missed or the two
paths disagree. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import (
    HOST,
    PYTHON,
    Child,
    free_port,
    interrupt_on_signals,
    machine_lines,
    start_demo_upstream,
    wait_http_ok,
)

from gateway.db.migrate import migrate
from gateway.kyc.crypto import new_key_spec
from gateway.kyc.service import KycService
from gateway.policy import load_policy
from gateway.settings import load_settings
from tests.traffic import seams
from tests.traffic.evaluate import Flag, Report, evaluate, table
from tests.traffic.generator import Traffic, for_events, generate
from tests.traffic.harness import Detect, counted_records, detection_runs, planted
from tests.traffic.model import ANTHROPIC_ROUTE, Call
from tests.traffic.seed import seed_customers
from tests.traffic.synthetic import copy_calls

ADMIN_URL = f"postgresql://postgres@{HOST}:5432/postgres"
KYC_KEYS = os.environ.get("GATEWAY_KYC_KEYS") or new_key_spec(1)
BULK_PLAN = """\
[plans.default]
title = "Benchmark bulk plan"
limits = [
  { dimension = "requests", period = "second", limit = 1e6, scope = "key" },
  { dimension = "requests", period = "minute", limit = 6e7 },
  { dimension = "output_tokens", period = "day", limit = 1e13 },
]
"""
SAMPLED = ("ring_linked", "ring_unlinked", "extractor", "reseller", "legit_heavy", "ordinary")


# -- databases ------------------------------------------------------------------------


class Databases:
    def __init__(self, keep: bool) -> None:
        self.created: list[str] = []
        self.keep = keep

    async def new(self) -> str:
        name = f"gw_bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(f"create database {name}")
        finally:
            await conn.close()
        self.created.append(name)
        url = f"postgresql://postgres@{HOST}:5432/{name}"
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return url

    async def drop_all(self) -> None:
        if self.keep:
            print(f"kept databases: {', '.join(self.created)}")
            return
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            for name in self.created:
                await conn.execute(f"drop database if exists {name} with (force)")
        finally:
            await conn.close()


def kyc() -> KycService:
    return KycService.from_settings(load_settings(None, environ={"GATEWAY_KYC_KEYS": KYC_KEYS}))


async def seeded(dbs: Databases, traffic: Traffic, *, jurisdictions: bool) -> str:
    url = await dbs.new()
    conn = await asyncpg.connect(url)
    try:
        await seed_customers(conn, traffic.customers, kyc(), now=traffic.start - dt.timedelta(days=30),
                             jurisdictions=jurisdictions)  # fmt: skip
    finally:
        await conn.close()
    return url


async def load(pool: asyncpg.Pool, traffic: Traffic, how: str, skip: set[uuid.UUID]) -> int:
    """Every call but ``skip`` through the chosen path; the accounts active in the whole traffic."""
    active: set[uuid.UUID] = set()
    if how == "import":
        await seams.load_calls(pool, counted_records(traffic, active, skip))
    else:
        by_id = {c.id: c for c in traffic.customers}

        def calls() -> Iterator[Call]:
            for call in traffic.calls():
                active.add(call.customer_id)
                if call.request_id not in skip:
                    yield call

        await copy_calls(pool, calls(), by_id)
    return len(active)


# -- the sample through the gateway -----------------------------------------------------


def pick_sample(traffic: Traffic, size: int) -> list[Call]:
    """The last calls of three accounts of every kind, ``size`` in all (close to now: the gateway
    stamps its own time on what it records), in time order."""
    chosen: list[uuid.UUID] = []
    for label in SAMPLED:
        chosen += [c.id for c in traffic.labelled(label)[:3]]  # type: ignore[arg-type]
    each = max(1, size // len(chosen))
    last: dict[uuid.UUID, deque[Call]] = {c: deque(maxlen=each) for c in chosen}
    for call in traffic.calls():
        if call.customer_id in last:
            last[call.customer_id].append(call)
    return sorted((c for q in last.values() for c in q), key=lambda c: c.at)[-size:]


def gateway_config(folder: Path, upstream_port: int) -> Path:
    policy = folder / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "plans.toml").write_text(BULK_PLAN)
    openai = '"gpt-4.1", "gpt-4.1-mini", "o4-mini", "gpt-5.1"'
    anthropic = '"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-5"'
    path = folder / "gateway.toml"
    path.write_text(
        f'policy_dir = "{policy}"\ntrusted_proxies = ["127.0.0.1/32"]\n'
        f'[[upstreams]]\nname = "bench-openai"\nkind = "openai"\nbase_url = "http://{HOST}:{upstream_port}/v1"\n'
        f'models = [{openai}]\nregion = "US"\n'
        f'[[upstreams]]\nname = "bench-anthropic"\nkind = "anthropic"\nbase_url = "http://{HOST}:{upstream_port}"\n'
        f'models = [{anthropic}]\nregion = "US"\n'
    )
    return path


async def through_gateway(
    url: str, sample: list[Call], workdir: Path, secrets_by_key: dict[str, str]
) -> tuple[dict[str, int], int]:
    """Send the sample through a real gateway; the count of each response status (and error code),
    and the ``call_features`` rows the gateway wrote for them."""
    upstream, port = start_demo_upstream(workdir)
    gw_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATABASE_URL=url, GATEWAY_STATE_DIR=str(workdir / "state"),
               GATEWAY_LOG_LEVEL="warning", GATEWAY_KYC_KEYS=KYC_KEYS)  # fmt: skip
    argv = [PYTHON, "-m", "gateway", "serve", "--config", str(gateway_config(workdir, port))]
    gateway = Child("gateway", [*argv, "--host", HOST, "--port", str(gw_port)], workdir / "gateway.log", env)
    statuses: dict[str, int] = {}
    featured = 0
    try:
        wait_http_ok(f"http://{HOST}:{gw_port}/readyz", gateway, timeout=90)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{gw_port}", timeout=30) as client:
            for call in sample:
                secret = secrets_by_key[call.key_id]
                headers = {"x-forwarded-for": call.client_ip}
                if call.route == ANTHROPIC_ROUTE:
                    headers |= {"x-api-key": secret, "anthropic-version": "2023-06-01"}
                else:
                    headers["authorization"] = f"Bearer {secret}"
                resp = await client.post(call.route, json=call.body(), headers=headers)
                outcome = str(resp.status_code)
                if resp.status_code != 200:
                    with contextlib.suppress(ValueError, AttributeError):
                        outcome += f" {resp.json()['error'].get('code') or resp.json()['error'].get('type')}"
                statuses[outcome] = statuses.get(outcome, 0) + 1
        # The ledger writes in batches: wait until the sample's rows are in (or 15 s).
        conn = await asyncpg.connect(url)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                n = await conn.fetchval("select count(*) from usage_events where upstream like 'bench-%'")
                if n >= statuses.get("200", 0):
                    break
                await asyncio.sleep(0.2)
            featured = await conn.fetchval(
                "select count(*) from call_features f join usage_events u using (request_id, occurred_at)"
                " where u.upstream like 'bench-%'"
            )
            print(f"gateway sample: the gateway recorded {n} usage events and {featured} call_features rows")
        finally:
            await conn.close()
    finally:
        gateway.stop()
        upstream.stop()
    return statuses, featured


# -- detection ------------------------------------------------------------------------------


def resolve(spec: str) -> Detect:
    module, _, name = spec.partition(":")
    detect: Detect = getattr(importlib.import_module(module), name)
    return detect


async def run_detection(
    url: str, detect: Detect, traffic: Traffic, end: dt.datetime, every: dt.timedelta
) -> tuple[list[Flag], float, float]:
    """Flags of the stepped runs, the last (whole-window) run's seconds and the events it read."""
    policy = load_policy()
    async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
        flags = []
        if end - every > traffic.start:
            flags = await detection_runs(pool, detect, policy, traffic.start, end - every, every=every)
        async with pool.acquire() as conn:
            events = await conn.fetchval("select count(*) from call_features where occurred_at < $1", end)
            began = time.perf_counter()
            findings = await detect(
                conn,
                policy,
                max(traffic.start, end - dt.timedelta(days=policy.detection.window_days)),
                end,
                now=end,
            )
            seconds = time.perf_counter() - began
    cutoff = policy.detection.actions.flag
    flags += [
        Flag(f.kind, frozenset(f.members), end, f.first_seen, f.score) for f in findings if f.score >= cutoff
    ]
    return flags, seconds, float(events)


def score(traffic: Traffic, flags: list[Flag], active: int, end: dt.datetime) -> Report:
    legit = {c.id for c in traffic.labelled("legit_heavy")}
    days = (end - traffic.start).total_seconds() / 86_400
    return evaluate(planted(traffic), flags, legit_heavy=legit, active_accounts=active, days=days)


def verdicts(flags: list[Flag], accounts: set[uuid.UUID], at: dt.datetime) -> dict[uuid.UUID, frozenset[str]]:
    """Per account, the kinds it was flagged under in the run at ``at``."""
    out: dict[uuid.UUID, set[str]] = {a: set() for a in accounts}
    for f in flags:
        if f.flagged_at == at:
            for m in f.members & accounts:
                out[m].add(f.kind)
    return {a: frozenset(k) for a, k in out.items()}


# -- main -----------------------------------------------------------------------------

MIXES: dict[str, dict[str, object]] = {
    "one": {},
    # Several campaigns of every type and size, several legitimate heavy users of each kind.
    "many": {
        "ring_linked": (20, 60, 150, 500),
        "ring_unlinked": (20, 60, 150),
        "resellers": 3,
        "extractors": 3,
        "legit_heavy": 3,
    },
}


async def evaluation(args: argparse.Namespace, dbs: Databases, detect: Detect, workdir: Path) -> int:
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    mix = MIXES[args.campaigns]
    config = for_events(
        args.events, days=args.days, seed=args.seed, start=now - dt.timedelta(days=args.days), **mix
    )
    traffic = generate(config)
    print(f"traffic: {len(traffic.customers)} customers, {len(traffic.campaigns)} campaigns, "
          f"~{traffic.expected_calls():,.0f} calls over {args.days} days (seed {args.seed}), load path: {args.load}")  # fmt: skip
    sample = pick_sample(traffic, args.sample) if args.sample else []
    skip = {c.request_id for c in sample}
    secrets_by_key = {k.id: k.secret for c in traffic.customers for k in c.keys}

    mixed = await seeded(dbs, traffic, jurisdictions=bool(sample))
    began = time.perf_counter()
    async with asyncpg.create_pool(mixed, min_size=1, max_size=2) as pool:
        active = await load(pool, traffic, args.load, skip)
    print(
        f"mixed database: {args.load} of every call but the {len(skip)} sampled took {time.perf_counter() - began:.1f} s"
    )
    statuses: dict[str, int] = {}
    featured = 0
    if sample:
        statuses, featured = await through_gateway(mixed, sample, workdir, secrets_by_key)
    problems = []
    if sample:
        print(f"gateway sample: {len(sample)} calls, statuses {dict(sorted(statuses.items()))}")
        if not featured:
            problems.append(
                "the gateway wrote no call_features rows for the sample (is the hand-off merged?)"
            )
    end = max(traffic.end, dt.datetime.now(dt.UTC)) + dt.timedelta(seconds=1)
    every = dt.timedelta(hours=args.every_hours)
    flags, seconds, events = await run_detection(mixed, detect, traffic, end, every)
    report = score(traffic, flags, active, end)
    print(f"\n{table(report)}")
    print(
        f"detector, last run over the whole window: {events:,.0f} events in {seconds:.2f} s = {events / seconds:,.0f} events/s"
    )
    misses = problems + report.meets()
    if sample:
        only_import = await seeded(dbs, traffic, jurisdictions=False)
        async with asyncpg.create_pool(only_import, min_size=1, max_size=2) as pool:
            await load(pool, traffic, args.load, set())
        other, _, _ = await run_detection(only_import, detect, traffic, end, every)
        accounts = {c.customer_id for c in sample}
        a, b = verdicts(flags, accounts, end), verdicts(other, accounts, end)
        differ = sorted(str(x) for x in accounts if a[x] != b[x])
        print(f"gateway sample vs import only: same detection result for {len(accounts) - len(differ)} of "
              f"{len(accounts)} sampled accounts" + (f"; differ: {differ}" if differ else ""))  # fmt: skip
        if differ:
            misses.append("the gateway and import paths disagree")
    for miss in misses:
        print(f"MISS {miss}")
    return 1 if misses else 0


async def scaling(args: argparse.Namespace, dbs: Databases, detect: Detect) -> None:
    print("\nscaling (call_features COPYed from SYNTHETIC features, not the extractor):")
    print(
        f"{'events':>12s} {'customers':>9s} {'copy s':>8s} {'detect s':>9s} {'events/s':>10s} {'findings':>8s}  recall/precision per type"
    )
    for size in args.scales:
        config = for_events(size, days=args.days, seed=args.seed, **MIXES[args.campaigns])
        traffic = generate(config)
        url = await seeded(dbs, traffic, jurisdictions=False)
        began = time.perf_counter()
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            active = await load(pool, traffic, "synthetic", set())
            async with pool.acquire() as conn:
                await conn.execute("vacuum analyze usage_events")
                await conn.execute("vacuum analyze call_features")
                rows = await conn.fetchval("select count(*) from call_features")
        copied = time.perf_counter() - began
        flags, seconds, _ = await run_detection(
            url, detect, traffic, traffic.end, traffic.end - traffic.start
        )
        report = score(traffic, flags, active, traffic.end)
        per_type = ", ".join(
            f"{t} {r.recall or 0:.2f}/{'-' if r.precision is None else f'{r.precision:.2f}'}"
            for t, r in report.types.items()
        )
        print(
            f"{rows:12,d} {len(traffic.customers):9,d} {copied:8.1f} {seconds:9.2f} {rows / seconds:10,.0f} {len(flags):8d}  {per_type}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sample", type=int, default=200, help="calls through the real gateway (0: none)")
    p.add_argument("--every-hours", type=float, default=12.0, help="simulated hours between detector runs")
    p.add_argument("--load", choices=("import", "synthetic"), default="import")
    p.add_argument("--campaigns", choices=tuple(MIXES), default="many",
                   help="one campaign of each type, or many of every type and size")  # fmt: skip
    p.add_argument("--scales", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                   help="comma-separated event counts for the scaling runs, e.g. 1000000,10000000")  # fmt: skip
    p.add_argument("--detect", default=seams.ENGINE, help="the detector, MODULE:FUNCTION")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    for line in machine_lines(["asyncpg", "numpy", "networkx"]):
        print(line)
    detect = resolve(args.detect)
    print(f"detector: {args.detect}")
    dbs = Databases(args.keep)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-detect-") as folder:
            status = await evaluation(args, dbs, detect, Path(folder))
        if args.scales:
            await scaling(args, dbs, detect)
    finally:
        await dbs.drop_all()
    return status


def main(argv: list[str] | None = None) -> int:
    interrupt_on_signals()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(amain(parse_args(argv)))
    return 130


if __name__ == "__main__":
    sys.exit(main())
