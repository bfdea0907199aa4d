"""How fast the pure quota core is: GCRA decisions/s and window() calls/s.

    python tests/bench/bench_quota.py [--calls 200000] [--repeat 5] [--seed 7]

Times, on one core, what the quota stage does per request before any storage call:

- ``gcra(...)`` on 1000 counters with seeded random arrivals at twice the rate they allow;
- ``window(limit, now, tz)`` for each period, in UTC and in ``America/New_York``, at seeded random
  instants (rolling windows too);
- ``effective_limits(...)`` over three small rule sets (what a cache miss per customer costs).

Each figure is the best of ``--repeat`` runs (the machine is shared; the best run is the least
disturbed). No database, no network. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import best_rate, machine_lines

from gateway.identity import Principal
from gateway.kyc.jurisdictions import policy_facts
from gateway.kyc.standing import Standing
from gateway.policy.decide import compile_entitlement
from gateway.policy.loader import load_policy, shipped_policy_dir
from gateway.quota import Limit, Usage, effective_limits, gcra, window
from gateway.quota.admission import Admission
from gateway.quota.leases import Lease
from gateway.quota.meter import QuotaMeter
from gateway.quota.store import Counter


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for line in machine_lines(["msgspec"]):
        print(line)
    rng = random.Random(args.seed)

    # 1000 counters at 100 per second with a burst of 20; arrivals at about twice the rate.
    counters = 1000
    arrivals: list[tuple[int, float]] = []
    now = 1.7e9
    for _ in range(args.calls):
        now += rng.expovariate(200_000)
        arrivals.append((rng.randrange(counters), now))
    outcome = {"admitted": 0}

    def run_gcra() -> None:
        tats = [0.0] * counters
        admitted = 0
        for counter, at in arrivals:
            ok, tats[counter], _, _ = gcra(tats[counter], at, rate=100, period_seconds=1, burst=20)
            admitted += ok
        outcome["admitted"] = admitted

    best_rate("gcra() decisions", len(arrivals), args.repeat, run_gcra)
    print(f"  ({outcome['admitted'] / len(arrivals):.0%} admitted)")

    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    instants = [start + dt.timedelta(seconds=rng.uniform(0, 366 * 86400)) for _ in range(args.calls // 10)]
    for tz_name in ("UTC", "America/New_York"):
        tz = ZoneInfo(tz_name)
        for limit in [
            Limit(dimension="requests", period="minute", limit=60),
            Limit(dimension="output_tokens", period="day", limit=1e6),
            Limit(dimension="flop", period="month", limit=5e23, hard=True),
            Limit(dimension="gpu_seconds", rolling_days=90, limit=1e5),
        ]:
            label = f"window() {limit.period or f'rolling {limit.rolling_days}d'} in {tz_name}"

            def run_window(limit: Limit = limit, tz: ZoneInfo = tz) -> None:
                for at in instants:
                    window(limit, at, tz)

            best_rate(label, len(instants), args.repeat, run_window)

    plan = [Limit(dimension="requests", period="minute", limit=600, source="plan:tier2")]
    plan += [Limit(dimension="output_tokens", period="day", limit=5e6, source="plan:tier2")]
    policy = [Limit(dimension="flop", period="month", limit=5e23, hard=True, source="policy:caps")]
    overrides = [Limit(dimension="requests", period="minute", limit=60, source="override:1")]
    resolves = args.calls // 10

    def run_resolve() -> None:
        for _ in range(resolves):
            effective_limits(overrides, plan, policy)

    best_rate("effective_limits() over 3 rule sets", resolves, args.repeat, run_resolve)
    meter_admissions(args)
    return 0


class _NoOverrides:
    def get(self, _customer: uuid.UUID) -> tuple[()]:
        return ()


def meter_admissions(args: argparse.Namespace) -> None:
    """What the proxy's quota stage does per request when leases cover it: no database."""
    policy = load_policy(shipped_policy_dir())
    facts = policy_facts(str(uuid.uuid4()), '[{"country": "US", "source": "incorporation"}]', "standard")
    standing = Standing("verified", None, "none", facts, compile_entitlement(facts, policy))
    # The wall clock stands still: a per-second window that rolled over would need a lease from
    # the database (there is none), and every later call would be refused, not measured.
    now = time.time()
    meter = QuotaMeter(
        None,  # type: ignore[arg-type]  # never reached: every window holds a lease
        _NoOverrides(),  # type: ignore[arg-type]
        lambda: policy,
        wall=lambda: now,
    )
    who = Principal(uuid.uuid4(), uuid.uuid4(), "key1")
    local = meter.local
    applied = meter.limits(who, standing)
    estimate = Usage(requests=1, input_tokens=40, output_tokens=256)
    actual = Usage(requests=1, input_tokens=31, output_tokens=87)
    # Rates generous enough to admit every call of the run; budgets with a lease in memory.
    for a in applied:
        slot = local.slot(a, now, standing.tz)
        slot.leases.append(Lease(uuid.uuid4(), 1e15, time.monotonic() + 3600))
        slot.last = Counter(a.limit.limit, 0.0, 0.0, 1e15)  # as the lease call left it
    n = args.calls // 4
    print(f"quota stage: {len(applied)} limits ({', '.join(a.name for a in applied)})")

    def run_admit() -> None:
        for _ in range(n):
            local.tats.clear()  # keep the plan's 50/s rate from refusing a tight loop
            applied = meter.limits(who, standing)
            charges, refills = local.take(applied, estimate, standing.tz)
            assert charges and not refills  # admitted from memory, or the figure means nothing
            local.settle(Admission(local, charges, estimate), actual)

    best_rate("admit + settle from leases (per request)", n, args.repeat, run_admit)

    def run_admit_with_headers() -> None:
        for _ in range(n):
            local.tats.clear()
            applied = meter.limits(who, standing)
            charges, refills = local.take(applied, estimate, standing.tz)
            assert charges and not refills
            admission = Admission(local, charges, estimate)
            assert admission.headers()
            local.settle(admission, actual)

    best_rate(
        "the same, with the success response's rate-limit headers", n, args.repeat, run_admit_with_headers
    )


if __name__ == "__main__":
    sys.exit(main())
