"""The screening evaluation set, and precision, recall and alerts per query measured on it.

The set has two parts, each in two splits:

- generated (``generate.py``): a seeded synthetic list and labelled queries; the ``tune``
  split uses one seed, the ``holdout`` split another seed (another list and other queries);
- hand-curated (``tests/fixtures/screening/eval/hard_cases.toml``): real-world-style hard
  cases, each marked ``tune`` or ``holdout``; their entries join the generated list.

Measures, at a threshold:

- recall: the share of true variants whose entry is alerted;
- precision: correct alerts over all alerts, where an alert on an entry the :class:`Oracle`
  finds plausible for that query (same words, nothing to tell them apart; or, for a variant,
  an entry sharing one of its target's names) is set aside;
- false-positive rate: the share of names not on the list that raise any counted alert;
- alerts per query: every alert, set-aside ones included, what a reviewer sees.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.screening import ListEntry, Match, Screener, Subject

from .generate import Oracle, Party, Query, build_list, build_queries

HARD_CASES = Path(__file__).parents[1] / "fixtures" / "screening" / "eval" / "hard_cases.toml"
SEEDS = {"tune": 7, "holdout": 1009}


def hard_cases(path: Path = HARD_CASES) -> tuple[list[ListEntry], list[Query]]:
    """The hand-curated entries, and the queries of both splits."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = [
        ListEntry(
            source="cases",
            entry_id=e["id"],
            kind=e["kind"],
            name=e["name"],
            aliases=tuple(e.get("aliases", ())),
            countries=tuple(e.get("countries", ())),
            birth_dates=tuple(e.get("birth_dates", ())),
            identifiers=tuple(e.get("identifiers", ())),
        )
        for e in data["entry"]
    ]
    known = {e.entry_id for e in entries}
    queries = []
    for q in data["query"]:
        if q["expect"] and q["expect"] not in known:
            raise ValueError(f"{path.name}: query {q['name']!r} expects unknown entry {q['expect']!r}")
        subject = Subject(
            name=q["name"],
            kind=q["kind"],
            countries=tuple(q.get("countries", ())),
            birth_date=q.get("birth_date"),
            identifiers=tuple(q.get("identifiers", ())),
        )
        queries.append(Query(subject, f"case: {q['note']}", q["expect"] or None, split=q["split"]))
    return entries, queries


@dataclass
class EvalSet:
    split: str
    entries: list[ListEntry]
    """The generated entries first (one per party), then the hand-curated ones."""
    queries: list[Query]
    parties: list[Party]


def evaluation_set(split: str, entries: int, queries: int) -> EvalSet:
    """One split: a generated list of ``entries`` with the hard-case entries, ``queries`` generated
    queries and the split's hard cases."""
    rng = random.Random(SEEDS[split])
    listed, parties = build_list(rng, entries)
    generated = build_queries(rng, listed, parties, queries)
    for q in generated:
        q.split = split
    case_entries, case_queries = hard_cases()
    cases = [q for q in case_queries if q.split == split]
    return EvalSet(split, [*listed, *case_entries], [*generated, *cases], parties)


@dataclass
class Outcome:
    """One query's matches at the lowest threshold measured, and the entries plausibly it."""

    query: Query
    matches: list[Match]
    plausible: set[str]


@dataclass
class Figures:
    threshold: float
    recall: float
    precision: float
    false_positive_rate: float
    alerts_per_query: float
    positives: int
    negatives: int


def run(screener: Screener, evalset: EvalSet, lowest: float) -> list[Outcome]:
    oracle = Oracle(evalset.entries)
    return [
        Outcome(q, screener.screen(q.subject, threshold=lowest), oracle.plausible(q.subject, q.target))
        for q in evalset.queries
    ]


def is_correct(outcome: Outcome, match: Match) -> bool:
    return outcome.query.target is not None and match.entry.entry_id == outcome.query.target


def figures(outcomes: Sequence[Outcome], threshold: float) -> Figures:
    positives = [o for o in outcomes if o.query.target is not None]
    negatives = [o for o in outcomes if o.query.target is None]
    correct = wrong = alerts = 0
    for o in outcomes:
        for m in o.matches:
            if m.score < threshold:
                continue
            alerts += 1
            if is_correct(o, m):
                correct += 1
            elif m.entry.entry_id not in o.plausible:
                wrong += 1
    found = sum(any(is_correct(o, m) and m.score >= threshold for m in o.matches) for o in positives)
    flagged = sum(
        any(m.score >= threshold and m.entry.entry_id not in o.plausible for m in o.matches)
        for o in negatives
    )
    return Figures(
        threshold=threshold,
        recall=found / max(len(positives), 1),
        precision=correct / max(correct + wrong, 1),
        false_positive_rate=flagged / max(len(negatives), 1),
        alerts_per_query=alerts / max(len(outcomes), 1),
        positives=len(positives),
        negatives=len(negatives),
    )


def by_category(outcomes: Sequence[Outcome], threshold: float) -> dict[str, list[bool]]:
    """Per kind of query: found (variants) or flagged (names not on the list), one bool per query."""
    rows: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.query.target is not None:
            hit = any(is_correct(o, m) and m.score >= threshold for m in o.matches)
            changes = o.query.category.split(" + ")
            for change in [*changes, "(any two changes at once)"] if len(changes) > 1 else changes:
                rows.setdefault(f"variant, found: {change}", []).append(hit)
        else:
            bad = any(m.score >= threshold and m.entry.entry_id not in o.plausible for m in o.matches)
            rows.setdefault(f"not listed, flagged: {o.query.category}", []).append(bad)
    return rows
