"""How fast and how well sanctions screening works: names/s, precision, recall, rescreening time.

    python tests/bench/bench_screening.py [--entries 30000] [--queries 3000] [--split tune|holdout|fresh]
                                          [--rescreen 100000]

Builds the evaluation set of ``tests/screening_eval`` (a seeded synthetic list of realistic
size, people and organisations from several cultures with aliases in other spellings and
scripts, labelled queries, and the hand-curated hard cases of one split), then prints the build
time, the screening speed, precision / recall / false-positive rate / alerts per query at
several thresholds, and optionally the time to rescreen that many customers against the list.
No database, no network. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import machine_lines

from gateway.screening import DEFAULT_THRESHOLD, Screener
from tests.screening_eval.evaluate import (
    SEEDS,
    EvalSet,
    by_category,
    causes,
    evaluation_set,
    figures,
    run,
)
from tests.screening_eval.generate import build_queries


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--entries", type=int, default=30_000, help="generated list entries (default 30000)")
    p.add_argument(
        "--queries",
        type=int,
        default=3_000,
        help="generated labelled queries, half true variants (default 3000)",
    )
    p.add_argument("--split", choices=sorted(SEEDS), default="tune", help="which split (default tune)")
    p.add_argument("--thresholds", default="0.70,0.75,0.78,0.80,0.82,0.85,0.90", help="comma-separated")
    p.add_argument("--rescreen", type=int, default=0, help="also time rescreening this many customers")
    p.add_argument("--show", type=int, default=0, help="print this many missed variants and false positives")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for line in machine_lines(["rapidfuzz", "anyascii", "msgspec", "pypinyin"]):
        print(line)
    evalset = evaluation_set(args.split, args.entries, args.queries)
    entries, queries = evalset.entries, evalset.queries
    names = sum(1 + len(e.aliases) for e in entries)
    print(f"split {args.split} (seed {SEEDS[args.split]}): list of {len(entries)} entries, {names} names")

    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    screener = Screener(entries)
    print(f"build: {time.perf_counter() - started:.2f} s, peak RSS +{rss_mb() - before:.0f} MB")

    # Warm up on other names first: a running gateway has screened many before this one.
    rng = random.Random(SEEDS[args.split] + 1)
    for q in build_queries(rng, entries[: len(evalset.parties)], evalset.parties, min(500, len(queries))):
        screener.screen(q.subject)
    started, cpu = time.perf_counter(), time.process_time()
    for q in queries:
        screener.screen(q.subject)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"screen at {DEFAULT_THRESHOLD:.2f}: {len(queries) / elapsed:.0f} names/s on one core "
        f"({elapsed / len(queries) * 1e3:.2f} ms per name, CPU {cpu / len(queries) * 1e3:.2f} ms)"
    )

    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {DEFAULT_THRESHOLD})
    outcomes = run(screener, evalset, min(thresholds))
    first = figures(outcomes, DEFAULT_THRESHOLD)
    print(
        f"queries: {len(queries)}: {first.positives} true variants of list entries, {first.negatives} not on the list"
    )
    print()
    print(f"{'threshold':>9}  {'recall':>7}  {'precision':>9}  {'false pos.':>10}  {'alerts/query':>12}")
    for t in thresholds:
        f = figures(outcomes, t)
        mark = "  <- DEFAULT_THRESHOLD" if t == DEFAULT_THRESHOLD else ""
        print(
            f"{t:>9.2f}  {f.recall:>7.3f}  {f.precision:>9.3f}  {f.false_positive_rate:>10.3f}"
            f"  {f.alerts_per_query:>12.2f}{mark}"
        )

    t = DEFAULT_THRESHOLD
    print(f"\nby kind of query, at {t:.2f}:")
    for key, outcomes_of in sorted(by_category(outcomes, t).items()):
        if ": case:" not in key:
            print(f"  {key:<60} {len(outcomes_of):>5}  {sum(outcomes_of) / len(outcomes_of):.3f}")
    cases = {k: v for k, v in by_category(outcomes, t).items() if ": case:" in k}
    found = sum(sum(v) for k, v in cases.items() if k.startswith("variant"))
    flagged = sum(sum(v) for k, v in cases.items() if not k.startswith("variant"))
    print(
        f"  hand-curated cases: {found} of {sum(len(v) for k, v in cases.items() if k.startswith('variant'))}"
        f" variants found, {flagged} of {sum(len(v) for k, v in cases.items() if not k.startswith('variant'))}"
        " names not on the list flagged"
    )

    false, missed = causes(outcomes, t)
    print(f"\ncounted false alerts at {t:.2f}, by cause: {sum(false.values())}")
    for key, n in sorted(false.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<90} {n:>4}")
    print(f"variants missed at {t:.2f}, by cause: {sum(missed.values())}")
    for key, n in sorted(missed.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<90} {n:>4}")

    shown_missed = shown_false = 0
    for o in outcomes:
        q = o.query
        missed = q.target is not None and not any(
            m.entry.entry_id == q.target and m.score >= t for m in o.matches
        )
        if missed and shown_missed < args.show:
            best = next((m for m in o.matches if m.entry.entry_id == q.target), None)
            got = f"{best.score} {best.reasons}" if best else "not proposed"
            target = next(e for e in entries if e.entry_id == q.target)
            print(f"missed ({q.category}): {q.subject.name!r} for {target.name!r} {target.aliases}: {got}")
            shown_missed += 1
        for m in o.matches:
            if (
                shown_false < args.show
                and m.score >= t
                and m.entry.entry_id != q.target
                and m.entry.entry_id not in o.plausible
            ):
                print(
                    f"false alert ({q.category}): {q.subject.name!r} {q.subject.birth_date} {q.subject.countries}"
                    f" ~ {m.matched_name!r} {m.entry.birth_dates} {m.entry.countries}: {m.score} {m.reasons}"
                )
                shown_false += 1

    if args.rescreen:
        rescreen(screener, evalset, args.rescreen)
    return 0


def rescreen(screener: Screener, evalset: EvalSet, customers: int) -> None:
    """Every customer screened once against the whole list, as after a list update. The
    customers are new queries of the same mix (half of them near a list entry, which is far more
    than a real customer base, so this errs on the slow side)."""
    rng = random.Random(SEEDS[evalset.split] + 2)
    listed = evalset.entries[: len(evalset.parties)]
    subjects = [q.subject for q in build_queries(rng, listed, evalset.parties, customers)]
    started, cpu = time.perf_counter(), time.process_time()
    hits = 0
    for s in subjects:
        hits += len(screener.screen(s))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"\nrescreen: {customers} customers against {len(screener)} entries in {elapsed:.0f} s"
        f" (CPU {cpu:.0f} s, one core; {customers / elapsed:.0f} customers/s, {hits} hits)"
    )


if __name__ == "__main__":
    sys.exit(main())
