"""Screen a customer against list entries: fuzzy, token-aware name matching, then DOB and country.

How a pair of names is scored (as screening engines do; see Moov Watchman and OpenSanctions'
nomenklatura):

- Both names are normalised (:mod:`.normalise`) and split into words.
- Words are paired one to one, best pairs first, whatever their order. A pair's similarity is
  the mean of Jaro-Winkler (kind to typos late in a word) and optimal-string-alignment
  similarity (strict about different endings, so "Sidorov" is not "Sidorenko"), taken for the
  words as written and *folded* (transliteration variants merged: "Yevgeniy"/"Evgenii",
  "Khalid"/"Halid", "Mohammed"/"Mohamed"), whichever is higher; below 0.75 a pair does not
  count. An initial pairs with any word it begins ("P." ~ "Petrovich").
- The name score is the length-weighted share of matched words. An unpaired word facing an
  unpaired word on the other side is a *conflict* ("Petrovich" vs "Nikolaevich": a namesake)
  and counts in full; a word with no counterpart (a middle name one side left out) counts
  only a third.
- Two adjacent words may pair with one word on the other side ("Hua Wei" ~ "Huawei", "Tian
  Jin" from 天津 ~ "Tianjin"), and whole names are also compared with all spaces removed.

Each entry's best name (its primary name or an alias, against the subject's name or aliases)
is then adjusted: the same birth year raises the score, birth years more than a year apart
lower it, a shared country raises it slightly, disjoint countries lower it, and a person
matched against an organisation (or the reverse) is lowered. The reasons are kept.

Speed: each screen must not score every entry. Words (as written and folded, and adjacent
pairs joined) index the names they occur in, with every one-letter deletion of each word as a
further key (the "symmetric delete" trick of SymSpell), so a word within an edit of a list word
is found by dictionary lookups alone. Candidate names are ranked by how much of the query they
share, rare words counting more (inverse document frequency), and only the best few are
scored in full.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .entries import ListEntry
from .normalise import normalise

__all__ = ["DEFAULT_THRESHOLD", "Match", "Screener", "Subject"]

DEFAULT_THRESHOLD: float = 0.82
"""Scores at or above this go to review. Calibrated with ``tests/bench/bench_screening.py``."""

# Name scoring.
_MIN_WORD_SIMILARITY = 0.75
_INITIAL_SIMILARITY = 0.9
_EXTRA_WORD_WEIGHT = 1 / 3  # share of its length an unpaired word without a rival counts
_COMPACT_DISCOUNT = 0.98  # a match only once spaces are removed is never perfect
_FOLDED_EQUAL = 0.98  # nor is one only once transliteration variants are merged
# Adjustments. A namesake with the same name, another birth year and another country ends at
# 1 - 0.15 - 0.05 = 0.80, under the threshold; either fact alone leaves it above, for review.
_SAME_DATE, _SAME_YEAR, _OTHER_YEAR = 0.05, 0.03, -0.15
_SAME_COUNTRY, _OTHER_COUNTRY = 0.02, -0.05
_OTHER_KIND = -0.15
_MAX_RAISE = _SAME_DATE + _SAME_COUNTRY
# Candidate search.
_CANDIDATES = 40  # names scored in full per subject name, at most
_CANDIDATE_SHARE = 0.4  # ... and only those sharing at least this share of the best one's weight
_UBIQUITOUS_SHARE = 0.02  # a word in more names than this (and 500) is not counted at all
_MIN_DELETE_LENGTH = 4  # shorter words are looked up as written only


class Subject(msgspec.Struct, frozen=True):
    """Who is screened: a customer, a beneficial owner, a company."""

    name: str
    kind: Literal["person", "organisation"]
    countries: tuple[str, ...] = ()
    birth_date: str | None = None
    """ISO date or year."""
    aliases: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    """Passport, national id, registration or tax numbers."""


class Match(msgspec.Struct, frozen=True):
    """A list entry that may be the subject, and why."""

    entry: ListEntry
    score: float
    """0..1, after the date-of-birth, country and kind adjustments."""
    matched_name: str
    """The entry's name or alias that matched best."""
    reasons: tuple[str, ...]


_FOLDS = (
    ("dzh", "j"),
    ("zh", "j"),
    ("kh", "h"),
    ("ph", "f"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("ck", "k"),
    ("w", "v"),
    ("q", "k"),
    ("x", "ks"),
    ("y", "i"),
)
_DOUBLES = re.compile(r"(.)\1+")
_YO = re.compile(r"(?<=[bcdfgklmnprstvz])yo")  # ё: "Fyodor"/"Fedor", "Pyotr"/"Petr", "Artyom"/"Artem"


@functools.lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """A normalised word with transliteration variants merged ("yevgeniy" and "evgenii" -> "evgeni")."""
    if word.startswith("ye"):  # Yevgeny/Evgeny, Yelena/Elena, Yekaterina/Ekaterina
        word = word[1:]
    word = _YO.sub("e", word)
    for old, new in _FOLDS:
        word = word.replace(old, new)
    return _DOUBLES.sub(r"\1", word)


@functools.lru_cache(maxsize=131072)
def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return _INITIAL_SIMILARITY if a[0] == b[0] else 0.0
    jaro_winkler = JaroWinkler.normalized_similarity(a, b)
    if jaro_winkler < 2 * _MIN_WORD_SIMILARITY - 1:  # the mean cannot reach the minimum
        return 0.0
    score = (jaro_winkler + OSA.normalized_similarity(a, b)) / 2
    return score if score >= _MIN_WORD_SIMILARITY else 0.0


@functools.lru_cache(maxsize=131072)
def word_similarity(a: str, b: str) -> float:
    """Similarity of two normalised words, as written or folded, 0 when they should not be paired.

    Both forms are compared because folding can also hurt: "Sepehr" folds to "sefr". Words equal
    only once folded score a little under 1, so that the spelling as given wins a tie.
    """
    return max(_similarity(a, b), min(_similarity(fold(a), fold(b)), _FOLDED_EQUAL))


def name_similarity(query: Sequence[str], candidate: Sequence[str]) -> float:
    """Similarity of two names given as normalised words, order-independent, 0..1."""
    if not query or not candidate:
        return 0.0
    if query == candidate:
        return 1.0
    pairs: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = [
        (score, (i,), (j,))
        for i, a in enumerate(query)
        for j, b in enumerate(candidate)
        if (score := word_similarity(a, b)) > 0
    ]
    # Two adjacent words on one side may be one word on the other: "Hua Wei" and "Huawei",
    # "Tian Jin" (from 天津) and "Tianjin". Only worth trying when the word counts differ.
    if len(query) != len(candidate):
        pairs += _joined_pairs(query, candidate, flip=False)
        pairs += _joined_pairs(candidate, query, flip=True)
    # Best pairs first; at equal score, the one covering more words.
    pairs.sort(key=lambda p: (p[0], len(p[1]) + len(p[2])), reverse=True)
    used_query: set[int] = set()
    used_candidate: set[int] = set()
    matched = matched_length = 0.0
    for score, qs, cs in pairs:
        if used_query.intersection(qs) or used_candidate.intersection(cs):
            continue
        used_query.update(qs)
        used_candidate.update(cs)
        length = sum(len(query[i]) for i in qs) + sum(len(candidate[j]) for j in cs)
        matched += score * length
        matched_length += length
    penalty = 0.0
    if len(used_query) < len(query) or len(used_candidate) < len(candidate):
        left_query = sorted((len(w) for i, w in enumerate(query) if i not in used_query), reverse=True)
        left_candidate = sorted(
            (len(w) for j, w in enumerate(candidate) if j not in used_candidate), reverse=True
        )
        n = min(len(left_query), len(left_candidate))
        conflict = sum(left_query[:n]) + sum(left_candidate[:n])
        penalty = conflict + _EXTRA_WORD_WEIGHT * (sum(left_query[n:]) + sum(left_candidate[n:]))
    words = matched / (matched_length + penalty) if matched_length else 0.0
    if words >= _COMPACT_DISCOUNT:
        return words
    # All spaces removed ("H U A W E I"). Each edit counts double: this comparison is only meant
    # to forgive spacing, and long names would otherwise hide a whole different word.
    compact = 1 - 2 * Levenshtein.normalized_distance("".join(query), "".join(candidate))
    return max(words, compact * _COMPACT_DISCOUNT)


def _joined_pairs(
    side: Sequence[str], other: Sequence[str], *, flip: bool
) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """Pairs of two adjacent words of ``side``, joined, with one word of ``other``."""
    found: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    for k in range(len(side) - 1):
        joined = side[k] + side[k + 1]
        for j, word in enumerate(other):
            if word[0] != joined[0] or abs(len(word) - len(joined)) > 2:
                continue
            if (score := word_similarity(joined, word)) > 0:
                score *= _COMPACT_DISCOUNT
                found.append((score, (j,), (k, k + 1)) if flip else (score, (k, k + 1), (j,)))
    return found


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _forms(words: Sequence[str]) -> list[set[str]]:
    """What to look each word of a name up as: written and folded; then adjacent words joined.

    Both spellings, because folding can lengthen a typo: "walland" is one edit from "waltland",
    but folded ("valand", "valtland") two.
    """
    forms = [{w, fold(w)} for w in words]
    forms += [{words[k] + words[k + 1]} for k in range(len(words) - 1)]
    return forms


def _year(value: str) -> int | None:
    return int(value[:4]) if len(value) >= 4 and value[:4].isdigit() else None


class _Name:
    __slots__ = ("entry", "text", "words")

    def __init__(self, entry: int, text: str, words: tuple[str, ...]) -> None:
        self.entry = entry
        self.text = text
        self.words = words


class Screener:
    """An in-memory index of list entries, built once per list version and shared by every screen."""

    def __init__(self, entries: Iterable[ListEntry]) -> None:
        self._entries: list[ListEntry] = list(entries)
        self._names: list[_Name] = []
        vocabulary: dict[str, int] = {}
        postings: list[list[int]] = []
        single: set[str] = set()
        for index, entry in enumerate(self._entries):
            seen: set[tuple[str, ...]] = set()
            for text in (entry.name, *entry.aliases):
                words = tuple(normalise(text).split())
                if not words or words in seen:
                    continue
                seen.add(words)
                name_id = len(self._names)
                self._names.append(_Name(index, text, words))
                single.update(form for w in words for form in (w, fold(w)))
                for key in set().union(*_forms(words)):
                    word_id = vocabulary.setdefault(key, len(postings))
                    if word_id == len(postings):
                        postings.append([])
                    postings[word_id].append(name_id)
        self._postings = postings
        self._vocabulary = list(vocabulary)  # word id -> word
        total = max(len(self._names), 1)
        self._weights = [math.log(1 + total / len(p)) for p in postings]
        self._ubiquitous = max(500, int(total * _UBIQUITOUS_SHARE))
        # Every word (not the joined pairs: too many) is also found under each one-letter deletion.
        self._keys: dict[str, list[int]] = {}
        for word, word_id in vocabulary.items():
            self._keys.setdefault(word, []).append(word_id)
            if word in single and len(word) >= _MIN_DELETE_LENGTH:
                for variant in _deletes(word):
                    self._keys.setdefault(variant, []).append(word_id)

    def __len__(self) -> int:
        return len(self._entries)

    def screen(self, subject: Subject, threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
        """Entries scoring at least ``threshold``, one match per entry (its best), best first."""
        best: dict[int, tuple[float, int]] = {}
        queried: set[tuple[str, ...]] = set()
        for text in (subject.name, *subject.aliases):
            query = tuple(normalise(text).split())
            if not query or query in queried:
                continue
            queried.add(query)
            for name_id in self._candidates(query):
                name = self._names[name_id]
                score = name_similarity(query, name.words)
                held = best.get(name.entry)
                # On a tie the entry's earlier name wins: its primary name before its aliases.
                if held is None or score > held[0] or (score == held[0] and name_id < held[1]):
                    best[name.entry] = (score, name_id)
        matches = []
        for entry_index, (name_score, name_id) in best.items():
            if name_score + _MAX_RAISE < threshold:
                continue
            entry = self._entries[entry_index]
            score, reasons = adjust(subject, entry, name_score)
            if score >= threshold:
                matches.append(Match(entry, score, self._names[name_id].text, reasons))
        matches.sort(key=lambda m: (-m.score, m.entry.source, m.entry.entry_id))
        return matches

    def _candidates(self, query: tuple[str, ...]) -> list[int]:
        """Names sharing the most and rarest words of ``query``, give or take an edit."""
        scores: dict[int, float] = {}
        ubiquitous: list[int] = []
        for forms in _forms(query):
            # Each query word counts once per name: with the weight of its best hit in that name.
            hits: dict[int, float] = {}  # word id -> similarity
            for form in forms:
                keys = {form} | _deletes(form) if len(form) >= _MIN_DELETE_LENGTH else {form}
                for key in keys:
                    for word_id in self._keys.get(key, ()):
                        # A shared deletion proves little ("iung" and "king" share "ing"): check the pair.
                        similarity = _similarity(form, self._vocabulary[word_id])
                        if similarity > hits.get(word_id, 0.0):
                            hits[word_id] = similarity
            found: dict[int, float] = {}
            for word_id, similarity in hits.items():
                posting = self._postings[word_id]
                if len(posting) > self._ubiquitous:
                    ubiquitous.append(word_id)
                    continue
                # Near misses ("jong" for "yong") count less than the word itself.
                weight = self._weights[word_id] * (similarity - 0.5) / 0.5
                get = found.get
                for name_id in posting:
                    if weight > get(name_id, 0.0):
                        found[name_id] = weight
            for name_id, weight in found.items():
                scores[name_id] = scores.get(name_id, 0.0) + weight
        if not scores and ubiquitous:
            # Nothing but the commonest words ("Mohammed Ali"): the shortest names holding the two rarest.
            ubiquitous.sort(key=lambda w: len(self._postings[w]))
            chosen = set(self._postings[ubiquitous[0]])
            if len(ubiquitous) > 1:
                chosen &= set(self._postings[ubiquitous[1]])
            return sorted(chosen, key=lambda n: (len(self._names[n].words), n))[:_CANDIDATES]
        best = heapq.nlargest(_CANDIDATES, scores, key=scores.__getitem__)
        # Names sharing much less of the query than the best ones cannot score near them.
        floor = scores[best[0]] * _CANDIDATE_SHARE if best else 0.0
        return [n for n in best if scores[n] >= floor]


def adjust(subject: Subject, entry: ListEntry, name_score: float) -> tuple[float, tuple[str, ...]]:
    """The name score raised or lowered by birth date, country and kind, with the reasons."""
    score = name_score
    reasons = [f"name {name_score:.2f}"]
    subject_year = _year(subject.birth_date) if subject.birth_date else None
    entry_years = [y for y in (_year(d) for d in entry.birth_dates) if y is not None]
    if subject_year is not None and entry_years:
        gap = min(abs(subject_year - y) for y in entry_years)
        if subject.birth_date in entry.birth_dates and len(subject.birth_date or "") == 10:
            score += _SAME_DATE
            reasons.append("birth date matches")
        elif gap == 0:
            score += _SAME_YEAR
            reasons.append("birth year matches")
        elif gap == 1:
            reasons.append("birth year within a year")
        else:
            score += _OTHER_YEAR
            reasons.append(f"birth year differs by {gap}")
    subject_countries = {c.upper() for c in subject.countries}
    if subject_countries and entry.countries:
        shared = sorted(subject_countries.intersection(entry.countries))
        if shared:
            score += _SAME_COUNTRY
            reasons.append(f"country matches ({', '.join(shared)})")
        else:
            score += _OTHER_COUNTRY
            reasons.append("country differs")
    if entry.kind != "unknown" and entry.kind != subject.kind:
        score += _OTHER_KIND
        reasons.append(f"kind differs ({subject.kind} vs {entry.kind})")
    return round(min(1.0, max(0.0, score)), 4), tuple(reasons)
