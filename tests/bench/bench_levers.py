"""The pipeline's own costs per call, this checkout against an earlier one, in one run (issue 20).

    python tests/bench/bench_levers.py --baseline-tree DIR [--rounds 3] [--calls 1280] [--rows 2000]

``DIR`` is a checkout of the commit to compare with (``git worktree add DIR <commit>``, or
``git archive <commit> gateway policies | tar -x -C DIR``). Each figure is measured in a child process per
checkout, the checkouts alternating for ``--rounds`` rounds, and the best (lowest) CPU time of this
process is kept: on a shared machine the least disturbed run. Only APIs both checkouts have are
called, so the same harness measures both:

- **features**: ``FeatureTap.take`` then ``drain`` (what the tap's background task does), µs per
  call, on ``tests/traffic``'s generated mix (the detector's test traffic: ordinary customers and
  planted campaigns, about 450 bytes a body, few skeletons repeated), on ``bench_proxy.py``'s
  request (every body the same), on distinct short chats (one word differs: no skeleton shared)
  and on ``bench_features.py``'s four bodies made distinct;
- **ledger COPY**: ``LedgerWriter``'s flush of ``--rows`` call features into ``call_features``, µs
  per row (this process only; the database's own work is another process);
- **quota**: admit and settle from leases, and the served response's rate-limit headers
  (``bench_quota.py``'s set-up), µs per request;
- **metrics**: ``Metrics.observe`` (the request counter and latency histogram), µs per request.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) for the COPY; creates and drops one
``gw_bench_*`` database. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def best_cpu(run: Callable[[], object], repeat: int) -> float:
    out = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        out = min(out, time.process_time() - start)
    return out


# -- measured in a child, against the checkout on sys.path ------------------------------------------


def measure_features(calls: int, repeat: int) -> dict[str, float]:
    from _support import chat_body
    from bench_features import bodies, distinct_bodies, event

    from gateway.detect.tap import FeatureTap

    mix = list(bodies().values())
    import itertools

    import msgspec

    from tests.traffic.generator import Config, generate

    generated = generate(Config.small()).calls()
    workloads = {
        "features: tests/traffic's generated mix": [
            msgspec.json.encode(call.body()) for call in itertools.islice(generated, 2 * calls)
        ],
        "features: bench_proxy's request (all the same)": [chat_body("bench-model", False)] * calls,
        "features: distinct short chats": distinct_bodies(bodies()["short chat"], calls),
        "features: bench_features' four bodies, distinct": [
            b for i in range(calls // len(mix)) for b in distinct_bodies(mix[i % len(mix)], 1 + i)[-1:]
        ],
    }
    out = {}
    for name, block in workloads.items():
        events = [event() for _ in block]
        sink: list[object] = []

        def run(block: list[bytes] = block, events: list[object] = events, sink: list[object] = sink) -> None:
            tap = FeatureTap(sink.append)
            for e, b in zip(events, block, strict=True):
                tap.take(e, b)  # type: ignore[arg-type]
            asyncio.run(tap.drain())
            sink.clear()

        out[name] = best_cpu(run, repeat) / len(block) * 1e6
    return out


def measure_copy(url: str, rows: int, repeat: int) -> dict[str, float]:
    import asyncpg
    from bench_features import bodies, event

    from gateway.detect.features import extract
    from gateway.ledger.writer import LedgerWriter

    body = bodies()["short chat"]
    made = [extract(event(), body) for _ in range(rows)]

    async def run() -> float:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        best = float("inf")
        with tempfile.TemporaryDirectory() as spool:
            writer = LedgerWriter(pool, Path(spool), batch_size=rows)
            for _ in range(repeat):
                async with pool.acquire() as conn:
                    await conn.execute("truncate call_features")
                for f in made:
                    writer.record_features(f)
                start = time.process_time()
                ok = await writer._flush_once(writer._features)
                best = min(best, time.process_time() - start)
                assert ok and not writer._features.buffer
        await pool.close()
        return best / rows * 1e6

    return {"ledger: COPY of call features, per row": asyncio.run(run())}


def measure_quota(calls: int, repeat: int) -> dict[str, float]:
    from gateway.identity import Principal
    from gateway.kyc.jurisdictions import policy_facts
    from gateway.kyc.standing import Standing
    from gateway.policy.decide import compile_entitlement
    from gateway.policy.loader import load_policy, shipped_policy_dir
    from gateway.quota import Usage
    from gateway.quota.admission import Admission
    from gateway.quota.leases import Lease
    from gateway.quota.meter import QuotaMeter
    from gateway.quota.store import Counter

    class NoOverrides:
        def get(self, _customer: uuid.UUID) -> tuple[()]:
            return ()

    policy = load_policy(shipped_policy_dir())
    facts = policy_facts(str(uuid.uuid4()), '[{"country": "US", "source": "incorporation"}]', "standard")
    standing = Standing("verified", None, "none", facts, compile_entitlement(facts, policy))
    now = time.time()
    meter = QuotaMeter(None, NoOverrides(), lambda: policy, wall=lambda: now)  # type: ignore[arg-type]
    who = Principal(uuid.uuid4(), uuid.uuid4(), "key1")
    local = meter.local
    for a in meter.limits(who, standing):
        slot = local.slot(a, now, standing.tz)
        slot.leases.append(Lease(uuid.uuid4(), 1e15, time.monotonic() + 3600))
        slot.last = Counter(a.limit.limit, 0.0, 0.0, 1e15)
    estimate = Usage(requests=1, input_tokens=40, output_tokens=256)
    actual = Usage(requests=1, input_tokens=31, output_tokens=87)
    n = calls * 10

    def admit(headers: bool) -> None:
        for _ in range(n):
            local.tats.clear()
            charges, refills = local.take(meter.limits(who, standing), estimate, standing.tz)
            assert charges and not refills
            admission = Admission(local, charges, estimate)
            if headers:
                assert admission.headers()
            local.settle(admission, actual)

    plain = best_cpu(lambda: admit(False), repeat) / n * 1e6
    with_headers = best_cpu(lambda: admit(True), repeat) / n * 1e6
    return {
        "quota: admit + settle from leases": plain,
        "quota: the served response's rate-limit headers": with_headers - plain,
    }


def measure_metrics(calls: int, repeat: int) -> dict[str, float]:
    from gateway.metrics import Metrics

    metrics = Metrics()
    n = calls * 100
    latencies = [0.0004, 0.003, 0.012, 0.2] * (n // 4)

    def run() -> None:
        observe = metrics.observe
        for seconds in latencies:
            observe("/v1/chat/completions", 200, seconds)

    return {
        "metrics: observe (request counter, latency histogram)": best_cpu(run, repeat) / len(latencies) * 1e6
    }


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, args.tree)
    # Imported first: bench_features puts this checkout on sys.path, but `gateway` and its
    # subpackages then come from the package already imported, the measured checkout's.
    import gateway

    sys.path.insert(1, str(HERE))
    figures = measure_features(args.calls, args.repeat)
    figures |= measure_copy(args.url, args.rows, args.repeat)
    figures |= measure_quota(args.calls, args.repeat)
    figures |= measure_metrics(args.calls, args.repeat)
    for module in [m for name, m in sys.modules.items() if name.startswith("gateway")]:
        assert Path(module.__file__ or args.tree).resolve().is_relative_to(Path(args.tree).resolve()), module
    assert gateway.__file__
    print(json.dumps(figures))


# -- the parent: one database, the checkouts in turn --------------------------------------------------


async def new_database(tree: Path) -> tuple[str, str]:
    import asyncpg

    sys.path.insert(0, str(tree))
    from gateway.db.migrate import migrate

    name = f"gw_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"create database {name}")
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return name, url


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f"drop database if exists {name} with (force)")
    await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-tree", required=False, help="the checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1280)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    this = HERE.parents[1]
    trees = [("after (this checkout)", this)]
    if args.baseline_tree:
        trees.insert(
            0, ("before (" + Path(args.baseline_tree).name + ")", Path(args.baseline_tree).resolve())
        )
    name, url = asyncio.run(new_database(this))
    best: dict[str, dict[str, float]] = {label: {} for label, _ in trees}
    try:
        for _ in range(args.rounds):
            for label, tree in trees:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", "--tree", str(tree), "--url", url,
                     "--calls", str(args.calls), "--rows", str(args.rows), "--repeat", str(args.repeat)],
                    capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(tree)},
                )  # fmt: skip
                if out.returncode != 0:
                    raise SystemExit(f"the measurement failed for {tree}:\n{out.stderr}")
                for k, v in json.loads(out.stdout.splitlines()[-1]).items():
                    best[label][k] = min(v, best[label].get(k, float("inf")))
    finally:
        asyncio.run(drop_database(name))
    labels = [label for label, _ in trees]
    print(
        f"{'CPU µs per call (best of ' + str(args.rounds) + ' rounds)':58}"
        + "".join(f"{s:>24}" for s in labels)
    )
    for k in best[labels[-1]]:
        row = f"{k:58}" + "".join(f"{best[label][k]:24.2f}" for label in labels)
        if len(labels) == 2 and best[labels[1]][k] > 0:
            row += f"   {best[labels[0]][k] / best[labels[1]][k]:5.1f}x"
        print(row)


if __name__ == "__main__":
    main()
