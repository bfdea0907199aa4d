"""Hits that another hit explains better, for the same customer.

A list holds near namesakes: "Abdullah Nasser Al-Bitar" and "Abdullah Mustafa Al-Bitar", or
"Kavian Shipping Pte. Ltd." and "Kavian Shipping GmbH". A customer "Abdullah Naosser Al-Bitar"
matches the first with a typo, and the second well enough to alert too, by leaving "Naosser"
out. Each score alone is right; together they say more: every word the second entry pairs,
the first pairs at least as well, and the first pairs more. The customer's name is explained by
the first entry; the second matches only through what the first accounts for. So the second
is *outranked*: its score drops by :data:`OUTRANKED`, and its explanation names the entry that
outranks it, so that a reviewer sees why it fell.

One entry outranks another only if its name scores at least 0.75 (a name that barely resembles
the customer's explains nothing), and, for the same name of the customer, each of the customer's
words pairs at least as well with it as with the other, its score with the other fields is at
least the other's (a date of birth or an identifier the outranked entry shares keeps it where
it was), and one of:

- some word of the customer's pairs clearly better with it, and its name score is higher;
- every word pairs equally, and the names differ only in that the other entry has more words,
  all of them generic company words ("Group", "Holding": "Zagros Investment" against
  "Zagros Investment FZE" and "Zagros Investment Group");
- every word pairs equally, no word is left over on either side, and its name score is
  clearly higher (by 0.05): its words come in the customer's order ("Kang Hak Min" against
  "Kang Min Hak");
- every word pairs equally, and its legal form agrees where the other's differs (what tells
  "Kavian Shipping Pte. Ltd." from "Kavian Shipping GmbH" apart).

A listed name with one more word that is a person's name is not outranked: "Ahmed Yassin" may
be the listed "Ahmed Hamza Yassin" without his father's name as well as the listed "Ahmed
Yassin". Entries that match equally ("Jo Bok Song" listed twice, with other dates of birth)
outrank nothing: only a reviewer can tell namesakes apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["GENERIC_WORDS", "OUTRANKED", "Contender", "outranked"]

OUTRANKED = 0.15
"""How much an outranked entry's score drops."""
_CLEARLY = 0.005  # a name score higher by less than this is the same score
_EVEN = 1e-9
# Every word pairing equally and none left over, only the order of the words moves a name score
# this far (a reordering costs a sixth); the length of the word an initial stands for moves it by
# a hundredth or two ("M. Aktuerk": "Mustafa" is longer than "Mehmet", and no better a fit).
_REORDERED = 0.05
_CREDIBLE = 0.75  # an entry whose name scores less explains no one's name
_BETTER = 0.01  # a word pairs clearly better when its similarity is higher by this much
# Company words that name no one: a listed name differing from another only by them is the
# same name with a word more.
GENERIC_WORDS = frozenset(
    {"group", "holding", "holdings", "international", "global", "worldwide", "enterprises", "company"}
)


class Contender(NamedTuple):
    """One entry's best match for one name of the customer."""

    query: int
    """Which of the customer's names (0: the name, then the aliases) it matched."""
    coverage: tuple[float, ...]
    """How well each word of that name paired (0: with nothing)."""
    name_score: float
    form: int
    """The legal form check: 1 agrees, 0 none, -1 differs."""
    score: float
    extra: tuple[str, ...]
    """The entry's words that paired with nothing."""


def _outranks(a: Contender, b: Contender) -> bool:
    if (
        a.query != b.query
        or a.name_score < _CREDIBLE
        or a.score < b.score
        or len(a.coverage) != len(b.coverage)
    ):
        return False
    if any(x < y - _EVEN for x, y in zip(a.coverage, b.coverage, strict=True)):
        return False
    if any(x > y + _BETTER for x, y in zip(a.coverage, b.coverage, strict=True)):
        return a.name_score > b.name_score + _CLEARLY
    if any(abs(x - y) > _EVEN for x, y in zip(a.coverage, b.coverage, strict=True)):
        return False
    if b.extra and set(b.extra) <= GENERIC_WORDS and not a.extra:
        return a.name_score > b.name_score + _CLEARLY
    if not a.extra and not b.extra and a.name_score > b.name_score + _REORDERED:
        return True
    return a.form == 1 and b.form == -1 and a.name_score >= b.name_score - _EVEN


def outranked(contenders: Sequence[Contender]) -> dict[int, int]:
    """For each contender another one outranks: its index -> the index of the best that outranks it."""
    found: dict[int, int] = {}
    order = sorted(range(len(contenders)), key=lambda i: -contenders[i].score)
    for i, b in enumerate(contenders):
        for j in order:
            if j != i and _outranks(contenders[j], b):
                found[i] = j
                break
    return found
