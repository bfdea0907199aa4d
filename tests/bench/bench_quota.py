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
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import best_rate, machine_lines

from gateway.quota import Limit, effective_limits, gcra, window


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
