"""Precision and recall at the default threshold on the committed evaluation set (issue 19).

The set is ``tests/screening_eval``: a seeded synthetic list and labelled queries, plus the
hand-curated hard cases of ``tests/fixtures/screening/eval/hard_cases.toml``, in three splits
(``SEEDS``): ``tune``; ``holdout``, held out for three rounds and tuned on in the fourth; and
``fresh``, added before the fourth round changed the matcher and run once at its end (it has no
hand-curated cases). Here at a smaller size than the bench (4,000 generated entries, 1,200
generated queries per split), so that it runs in seconds; ``tests/bench/bench_screening.py``
prints the full-size figures and the curve.

The goal is recall and precision of at least 0.98, and each split is held to it. Fourth round,
at this size: recall 0.992 tune, 0.988 holdout, 0.992 fresh; precision 0.995, 0.991, 0.995. On
the bench's denser 30,000-entry list: tune 0.987 / 0.984, fresh 0.982 / 0.980, holdout 0.986 /
0.979 (precision a hair short; see tests/bench/README.md).
"""

from __future__ import annotations

import pytest

from gateway.screening import DEFAULT_THRESHOLD, Screener
from tests.screening_eval.evaluate import evaluation_set, figures, hard_cases, run

RECALL_GOAL = 0.98
PRECISION_GOAL = 0.98


@pytest.mark.parametrize("split", ["tune", "holdout", "fresh"])
def test_recall_and_precision_at_the_default_threshold(split: str) -> None:
    evalset = evaluation_set(split, entries=4000, queries=1200)
    outcomes = run(Screener(evalset.entries), evalset, DEFAULT_THRESHOLD)
    found = figures(outcomes, DEFAULT_THRESHOLD)
    assert found.positives > 500 and found.negatives > 500
    assert found.recall >= RECALL_GOAL, found
    assert found.precision >= PRECISION_GOAL, found


def test_the_hand_curated_holdout_cases() -> None:
    evalset = evaluation_set("holdout", entries=2000, queries=0)
    outcomes = run(Screener(evalset.entries), evalset, DEFAULT_THRESHOLD)
    assert {o.query.split for o in outcomes} == {"holdout"}
    found = figures(outcomes, DEFAULT_THRESHOLD)
    assert found.positives >= 15 and found.negatives >= 5
    # Twenty variants: one miss is 0.95. At most two may be missed, at most one name flagged.
    assert found.recall >= 0.9, found
    assert found.false_positive_rate <= 0.15, found


def test_the_hard_cases_file_names_only_entries_it_holds() -> None:
    entries, queries = hard_cases()
    ids = {e.entry_id for e in entries}
    assert len(ids) == len(entries)
    assert all(q.target in ids for q in queries if q.target is not None)
    assert {q.split for q in queries} == {"tune", "holdout"}
