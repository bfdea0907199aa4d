"""The screen's shortcuts give what the plain computations they replace give (issue 19: the
per-name CPU brought down with the same results)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.screening import Screener
from gateway.screening.matcher import _CANDIDATE_SHARE, best_candidates
from gateway.screening.normalise import normalise
from gateway.screening.similarity import _opening, explained, score, word_similarity
from tests.screening_eval.evaluate import evaluation_set


def plain_best(scores: dict[int, float], size: int) -> list[int]:
    ranked = sorted(scores, key=lambda n: (-scores[n], n))[:size]
    floor = scores[ranked[0]] * _CANDIDATE_SHARE if ranked else 0.0
    return [n for n in ranked if scores[n] >= floor]


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.integers(0, 500), st.sampled_from([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 7.25]), max_size=120
    ),
    st.integers(1, 50),
)
def test_best_candidates_are_the_plain_sorts_top(scores: dict[int, float], size: int) -> None:
    # Few distinct weights: many ties, which the list's order must settle the same way.
    assert best_candidates(scores, size) == plain_best(scores, size)


def _words() -> list[str]:
    evalset = evaluation_set("tune", entries=600, queries=300)
    names = [n for e in evalset.entries for n in (e.name, *e.aliases)]
    names += [q.subject.name for q in evalset.queries]
    return sorted({w for n in names for w in normalise(n, "person").split()})


WORDS = _words()


def test_pairs_skipped_unlooked_up_never_pair() -> None:
    # Every pair of a sample of the evaluation set's words, in every script it is written in.
    rng = random.Random(3)
    sample = rng.sample(WORDS, min(400, len(WORDS)))
    skipped = 0
    for a in sample:
        bare, first, folded = _opening(a)
        for b in sample:
            other = _opening(b)
            if bare == other[0] and first != other[1] and folded != other[2]:
                skipped += 1
                assert word_similarity(a, b) == 0.0, (a, b)
    assert skipped > len(sample) ** 2 // 2  # the shortcut does skip most pairs


def test_found_takes_each_names_best_hit() -> None:
    evalset = evaluation_set("tune", entries=1000, queries=0)
    screener = Screener(evalset.entries)
    rng = random.Random(5)
    word_ids = list(range(len(screener._postings)))
    for _ in range(200):
        hits = {w: rng.choice([0.75, 0.8, 0.9, 1.0]) for w in rng.sample(word_ids, rng.randint(1, 12))}
        ubiquitous: list[int] = []
        common: list[tuple[int, float]] = []
        plain: dict[int, float] = {}
        for word_id, similarity in hits.items():
            weight = screener._weights[word_id] * (similarity - 0.5) / 0.5
            for name_id in screener._postings[word_id]:
                plain[name_id] = max(plain.get(name_id, 0.0), weight)
        assert screener._found(hits, ubiquitous, common) == plain
        assert ubiquitous == [] and common == []  # no word is that common in a list this short


def test_the_initial_flag_is_what_the_spelt_out_pairs_say() -> None:
    # The screen decides "matched in part" from the flag, the explanation from the pairs.
    rng = random.Random(7)
    initials = 0
    for _ in range(600):
        a = tuple(rng.sample(WORDS, rng.randint(1, 4)))
        b = tuple(rng.sample(WORDS, rng.randint(1, 4)))
        if rng.random() < 0.5:  # against a variant of itself, some words as initials
            b = tuple(w[0] if rng.random() < 0.3 else w for w in rng.sample(a, len(a)))
        scored = score(a, b)
        pairs = explained(a, b, scored).pairs
        assert scored.initial == any(p.how == "initial" for p in pairs), (a, b)
        initials += scored.initial
    assert initials > 20
