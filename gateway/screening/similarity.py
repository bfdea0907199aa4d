"""How alike two names are, word by word, and which words paired with which.

- Words are paired one to one, best pairs first, whatever their order. A pair's similarity is
  the mean of Jaro-Winkler (kind to typos late in a word) and optimal-string-alignment
  similarity (strict about different endings, so "Sidorov" is not "Sidorenko"), taken for the
  words as written and *folded* (transliteration variants merged: "Yevgeniy"/"Evgenii",
  "Khalid"/"Halid", "Mohammed"/"Mohamed", Revised Romanisation onto McCune-Reischauer
  "Seong"/"Song", "Park"/"Pak"), whichever is higher; below 0.75 a pair does not count.
- A misspelling rarely changes a word's first letter, so two words that differ there pair only
  if the letters are sounds that transliterations swap (vowels; c/k/q; g/j; b/p; d/t; f/v/w;
  s/z): "Bridge" and "Ridge" are two names, "Osama" and "Usama" one. Words of three letters or
  fewer pair only when equal (as written or folded): "Al" is not "Ali".
- An initial pairs with any word it begins as written ("P." ~ "Petrovich"; "Y." not ~ "Ibrahim",
  though "Yusuf" and "Ibrahim" fold alike at the start).
- A word written without vowels comes from Arabic or Persian script (محمد -> "mhmd"); it is
  compared with the other word's consonants ("mohammed" -> "mhmd"), and scores at most 0.9.
- The name score is the length-weighted share of matched words. An unpaired word facing an
  unpaired word on the other side is a *conflict* ("Petrovich" vs "Nikolaevich": a namesake)
  and counts in full; a word with no counterpart (a middle name one side left out) counts
  only a third, and a patronymic ("Vyacheslavovich", "Ivanovna", "Aliyevich", "oglu") a tenth:
  Russian international passports and most documents in Latin script do not carry it, so
  leaving it out is the norm, not a difference.
- Two adjacent words may pair with one word on the other side ("Hua Wei" ~ "Huawei", "Tian
  Jin" from 天津 ~ "Tianjin"), and whole names are also compared with all spaces removed.
"""

# ruff: noqa: RUF002, RUF003 -- Arabic script in the docstrings and comments is the point.

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from ._korean import KOREAN, korean_name, korean_same, korean_similarity

__all__ = [
    "Alignment",
    "Scored",
    "WordPair",
    "align",
    "explained",
    "fold",
    "name_similarity",
    "score",
    "skeleton",
    "word_similarity",
]

MIN_WORD_SIMILARITY = 0.75
_INITIAL_SIMILARITY = 0.9
_SKELETON_SIMILARITY = 0.9  # a word matched by its consonants alone is never certain
EXTRA_WORD_WEIGHT = 1 / 3  # share of its length an unpaired word without a rival counts
_COMPACT_DISCOUNT = 0.98  # a match only once spaces are removed is never perfect
_FOLDED_EQUAL = 0.98  # nor is one only once transliteration variants are merged
_SHUFFLED = 0.85  # factor for a name whose words pair in another order than a rotation
_LONE_SYLLABLE = 1.0  # share of its length a left-out word that is one pinyin syllable counts
_PATRONYMIC_WEIGHT = 0.1  # ... and a patronymic
# East Slavic patronymics as OFAC, ICAO and popular transliterations end them, and the Turkic ones.
_PATRONYMIC = re.compile(r"(?:[oe]vi?ch|[oe]vych|[oe]vna|ivna|ichna|ogl[yu]|kyzy|qizi)$")

# Whole words that are one name in two romanisations: Korean surnames (South -> North, as the
# sanctions lists write them) and the Arabic article.
_SAME_WORD = {
    "lee": "ri", "yi": "ri", "rhee": "ri", "li": "li",
    "park": "pak", "bak": "pak",
    "choi": "choe", "chwe": "choe",
    "gim": "kim",
    "jung": "jong", "jeong": "jong", "chung": "jong", "cheong": "jong", "chong": "jong",
    "yoon": "yun",
    "cho": "jo",
    "yoo": "ryu", "ryoo": "ryu", "rhyu": "ryu",
    "el": "al", "ul": "al", "ar": "al", "ash": "al", "as": "al", "ad": "al", "adh": "al", "az": "al",
    "abdel": "abdul", "abdal": "abdul", "abdol": "abdul",
}  # fmt: skip
_FOLDS = (
    ("dzh", "j"),
    ("zh", "j"),
    ("kh", "h"),
    ("gh", "k"),  # Persian and Arabic ق/غ: "Sadeghi"/"Sadeqi", "Ghorbani"/"Qorbani"
    ("ph", "f"),
    ("sch", "sh"),
    ("tch", "ch"),
    ("ck", "k"),
    ("eo", "o"),  # Revised Romanisation: "seong"/"song", "cheol"/"chol"
    ("eu", "u"),  # "seung"/"sung"
    ("w", "v"),
    ("q", "k"),
    ("x", "ks"),
    ("y", "i"),
)
_DOUBLES = re.compile(r"(.)\1+")
_YO = re.compile(r"(?<=[bcdfgklmnprstvz])yo")  # ё: "Fyodor"/"Fedor", "Pyotr"/"Petr", "Artyom"/"Artem"
_VOWEL = re.compile(r"[aeiou]")
_NOT_CONSONANT = re.compile(r"[aeiouyvw]")
# A pinyin syllable (a loose pattern: it also admits a few that Mandarin does not use). Two
# different runs of syllables are two Chinese names ("Longgang", "Longyong"), not a typo.
_SYLLABLE = (
    r"(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|a|o|e|i|u)"
    r"|ang|eng|ai|ei|ao|ou|an|en|er|a|o|e)"
)
_PINYIN = re.compile(f"{_SYLLABLE}+")
_ONE_SYLLABLE = re.compile(_SYLLABLE)
# First letters that transliterations swap; any other difference there is another name.
_FIRST_LETTER = {
    c: i for i, group in enumerate(("aeiouy", "ckq", "gj", "bp", "dt", "fvw", "sz")) for c in group
}


@functools.lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """A normalised word with transliteration variants merged ("yevgeniy" and "evgenii" -> "evgeni")."""
    word = _SAME_WORD.get(word, word)
    if word.startswith("ye"):  # Yevgeny/Evgeny, Yelena/Elena, Yekaterina/Ekaterina
        word = word[1:]
    word = _YO.sub("e", word)
    for old, new in _FOLDS:
        word = word.replace(old, new)
    return _DOUBLES.sub(r"\1", word)


@functools.lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """The word's consonants, folded: what Arabic and Persian script write ("mohammed" -> "mhmd").

    A word that is consonants already (from Arabic script) is not folded: its letters are not a
    Latin spelling, and "zh" there is ز then ه, not one sound.
    """
    if voweless(word):
        base = word.replace("kh", "h").replace("gh", "k").replace("q", "k").replace("w", "v")
    else:
        base = fold(word)
    # ض is "d" in Arabic and "z" in Persian ("Ramadan", "Reza"): one letter here. A final h
    # goes: ة and ه end names as "-a" or "-ah" ("Hamza", "Hamzah").
    bare = _DOUBLES.sub(r"\1", _NOT_CONSONANT.sub("", base).replace("z", "d"))
    return bare[:-1] if len(bare) > 2 and bare.endswith("h") else bare


@functools.lru_cache(maxsize=65536)
def voweless(word: str) -> bool:
    return len(word) > 1 and not _VOWEL.search(word)


@functools.lru_cache(maxsize=131072)
def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return _INITIAL_SIMILARITY if a[0] == b[0] else 0.0
    if min(len(a), len(b)) <= 3:
        return 0.0
    if a[0] != b[0] and _FIRST_LETTER.get(a[0], -1) != _FIRST_LETTER.get(b[0], -2):
        return 0.0
    jaro_winkler = JaroWinkler.normalized_similarity(a, b)
    if jaro_winkler < 2 * MIN_WORD_SIMILARITY - 1:  # the mean cannot reach the minimum
        return 0.0
    score = (jaro_winkler + OSA.normalized_similarity(a, b)) / 2
    return score if score >= MIN_WORD_SIMILARITY else 0.0


# Plain similarity of two words as written, 0 below the minimum: what the candidate search uses,
# thousands of times a screen (the cached function itself, not a wrapper around it).
similarity = _similarity


@functools.lru_cache(maxsize=65536)
def syllables(word: str) -> tuple[str, ...]:
    """The word as the fewest pinyin syllables ("weiming" -> "wei", "ming"), or () if it is not pinyin."""
    if _PINYIN.fullmatch(word) is None:
        return ()
    best: list[tuple[str, ...] | None] = [()] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head, held = best[start], best[end]
            if (
                head is not None
                and (held is None or len(head) + 1 < len(held))
                and _ONE_SYLLABLE.fullmatch(word, start, end)
            ):
                best[end] = (*head, word[start:end])
    return best[-1] or ()


@functools.lru_cache(maxsize=65536)
def pinyin_name(words: tuple[str, ...]) -> bool:
    """Whether every word of a name is pinyin syllables (a Chinese name, or one that could be)."""
    return all(map(syllables, words))


def _other_syllable(a: str, b: str) -> bool:
    """Whether two pinyin words differ by a whole syllable ("longgang", "longyong"): two letters
    or more, and not the same letters swapped ("taolei", "taolie"), which is a typo."""
    sa, sb = syllables(a), syllables(b)
    if not sa or not sb or len(sa) != len(sb):
        return False
    return any(
        x != y and sorted(x) != sorted(y) and Levenshtein.distance(x, y) >= 2
        for x, y in zip(sa, sb, strict=True)
    )


@functools.lru_cache(maxsize=131072)
def word_similarity(a: str, b: str) -> float:
    """Similarity of two normalised words, as written or folded, 0 when they should not be paired.

    Both forms are compared because folding can also hurt: "Sepehr" folds to "sefr". Words equal
    only once folded score a little under 1, so that the spelling as given wins a tie.
    """
    if len(a) == 1 or len(b) == 1:
        # An initial is the letter as written: folded, "Y." would stand for "Ibrahim" ("y" -> "i").
        return _similarity(a, b)
    if a != b and fold(a) != fold(b) and _other_syllable(a, b):
        return 0.0
    score = max(_similarity(a, b), min(_similarity(fold(a), fold(b)), _FOLDED_EQUAL))
    if voweless(a) != voweless(b):
        bare_a, bare_b = skeleton(a), skeleton(b)
        if bare_a and bare_a == bare_b:  # "zyz" (عزيز) and "aziz" are both "z" once doubles go
            score = max(score, _SKELETON_SIMILARITY)
        elif len(bare_a) >= 2 and len(bare_b) >= 2:
            match = _similarity(bare_a, bare_b)
            if match >= MIN_WORD_SIMILARITY:
                score = max(score, match * _SKELETON_SIMILARITY)
    return score


class WordPair(msgspec.Struct, frozen=True):
    """Words of the subject's name paired with words of the list's name, and how alike they are."""

    subject: str
    listed: str
    similarity: float
    how: str
    """``same``, ``spelling`` (within an edit or two), ``transliteration`` (equal once folded),
    ``initial``, ``consonants`` (a name written without vowels) or ``joined`` (two words as one)."""


class Alignment(msgspec.Struct, frozen=True):
    score: float
    pairs: tuple[WordPair, ...]
    unpaired_subject: tuple[str, ...]
    unpaired_listed: tuple[str, ...]
    compact: bool = False
    """The score came from comparing the names with their spaces removed."""


def _how(a: str, b: str, score: float) -> str:
    if a == b:
        return "same"
    if len(a) == 1 or len(b) == 1:
        return "initial"
    if fold(a) == fold(b) or korean_same(a, b):
        return "transliteration"
    if _similarity(a, b) == 0 and _similarity(fold(a), fold(b)) == 0 and score > 0:
        return "consonants"
    return "spelling"


def name_similarity(
    query: Sequence[str],
    candidate: Sequence[str],
    weight: Callable[[str], float] | None = None,
    extra: float = EXTRA_WORD_WEIGHT,
) -> float:
    """Similarity of two names given as normalised words, order-independent, 0..1."""
    if not query or not candidate:
        return 0.0
    if query == candidate:
        return 1.0
    return align(tuple(query), tuple(candidate), weight, extra).score


class Scored(NamedTuple):
    """A name pair scored, before its word pairs are spelt out (:func:`explained`): what the
    screen keeps for every candidate, most of which are never shown."""

    score: float
    chosen: tuple[tuple[float, tuple[int, ...], tuple[int, ...]], ...]
    """The pairs taken: (similarity, query word indices, candidate word indices)."""
    left_query: tuple[str, ...]
    left_candidate: tuple[str, ...]
    compact: bool
    initial: bool
    """Some pair is an initial and a word."""


def align(
    query: tuple[str, ...],
    candidate: tuple[str, ...],
    weight: Callable[[str], float] | None = None,
    extra: float = EXTRA_WORD_WEIGHT,
) -> Alignment:
    """The pairing of ``query``'s words with ``candidate``'s, and the name score it gives.

    Each word counts by its length times ``weight(word)``: the screener passes how rare the
    word is on the list, so that "Al Noor" decides more than "Global Trading" does.
    """
    return explained(query, candidate, score(query, candidate, weight, extra))


def explained(query: tuple[str, ...], candidate: tuple[str, ...], scored: Scored) -> Alignment:
    """The :class:`Alignment` of a scored pair: each word pair with how its words matched."""
    pairs = []
    for similarity, qs, cs in scored.chosen:
        a, b = " ".join(query[i] for i in qs), " ".join(candidate[j] for j in cs)
        how = "joined" if len(qs) + len(cs) > 2 else _how(a, b, similarity)
        pairs.append(WordPair(a, b, round(similarity, 4), how))
    return Alignment(
        scored.score, tuple(pairs), scored.left_query, scored.left_candidate, compact=scored.compact
    )


def score(
    query: tuple[str, ...],
    candidate: tuple[str, ...],
    weight: Callable[[str], float] | None = None,
    extra: float = EXTRA_WORD_WEIGHT,
    apart: Callable[[str, str, bool], bool] | None = None,
) -> Scored:
    """:func:`align`'s score and pairing, without spelling out the pairs.

    ``apart(a, b, pinyin)``: whether a word of the query, spelt differently from a word of the
    candidate (not equal, not equal once folded), is another name all the same; such words do
    not pair, and the names are then not compared without spaces either (that would pair them
    again). ``pinyin``: every word of both names is pinyin. The screener passes what the list
    knows (:mod:`.spellings`).
    """
    size: Callable[[str], float] = (lambda w: len(w) * weight(w)) if weight is not None else len
    if query == candidate:
        same = tuple((1.0, (i,), (i,)) for i in range(len(query)))
        return Scored(1.0, same, (), (), False, False)
    keys = [_opening(b) for b in candidate]
    scored: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    pinyin: bool | None = None  # both names all pinyin: worked out when first needed
    # Korean names go by the table of syllable spellings (nor are they compared without spaces,
    # which would pair two syllables again); all others by their letters.
    korean = refused = query[0] in KOREAN and korean_name(query) and korean_name(candidate)
    has_initial = False
    for i, a in enumerate(query):
        if len(a) == 1:
            has_initial = True
        if korean:
            for j, b in enumerate(candidate):
                if similarity := 1.0 if a == b else korean_similarity(a, b, word_similarity(a, b)):
                    scored.append((similarity, (i,), (j,)))
            continue
        bare, first, folded = _opening(a)
        for j, b in enumerate(candidate):
            other = keys[j]
            # Words that open with sounds no spelling swaps, as written and folded, cannot pair
            # (unless one is written without vowels): skip the pair without looking it up.
            if bare == other[0] and first != other[1] and folded != other[2]:
                continue
            if (similarity := word_similarity(a, b)) > 0:
                if apart is not None and similarity < _FOLDED_EQUAL:
                    if pinyin is None:
                        pinyin = pinyin_name(query) and pinyin_name(candidate)
                    if apart(a, b, pinyin):
                        refused = True
                        continue
                scored.append((similarity, (i,), (j,)))
    # Two adjacent words on one side may be one word on the other: "Hua Wei" and "Huawei",
    # "Tian Jin" (from 天津) and "Tianjin". Only worth trying when the word counts differ.
    if len(query) != len(candidate):
        scored += _joined_pairs(query, candidate, flip=False)
        joined = _joined_pairs(candidate, query, flip=True)
        if apart is not None and joined:
            # A customer's word against two listed words written as one: "Guoping" is not
            # "Guo Ming" any more than it is "Guoming".
            if pinyin is None:
                pinyin = pinyin_name(query) and pinyin_name(candidate)
            kept = [
                pair
                for pair in joined
                if pair[0] >= _FOLDED_EQUAL * _COMPACT_DISCOUNT
                or not apart(query[pair[1][0]], "".join(candidate[j] for j in pair[2]), pinyin)
            ]
            refused = refused or len(kept) < len(joined)
            joined = kept
        scored += joined
    if has_initial and len(candidate) > 1:
        scored = _initials_for_given_names(query, candidate, scored)
    # Best pairs first; at equal score, the one covering more words.
    scored.sort(key=_pair_order, reverse=True)
    used_query: set[int] = set()
    used_candidate: set[int] = set()
    matched = matched_length = 0.0
    chosen = []
    initial = False
    for pair in scored:
        similarity, qs, cs = pair
        if used_query.intersection(qs) or used_candidate.intersection(cs):
            continue
        used_query.update(qs)
        used_candidate.update(cs)
        chosen.append(pair)
        length = sum(size(query[i]) for i in qs) + sum(size(candidate[j]) for j in cs)
        matched += similarity * length
        matched_length += length
        if len(qs) == 1 and len(cs) == 1:
            a, b = query[qs[0]], candidate[cs[0]]
            initial = initial or ((len(a) == 1 or len(b) == 1) and a != b)
    left_query = tuple(w for i, w in enumerate(query) if i not in used_query)
    left_candidate = tuple(w for j, w in enumerate(candidate) if j not in used_candidate)
    penalty = 0.0
    if left_query or left_candidate:
        lq = sorted(left_query, key=len, reverse=True)
        lc = sorted(left_candidate, key=len, reverse=True)
        n = min(len(lq), len(lc))
        conflict = sum(map(len, lq[:n])) + sum(map(len, lc[:n]))
        # A word left out counts a share of its length, but a lone Chinese syllable in full:
        # "Zhao Wei" is not "Zhao Weiyong" (a given name is one or two syllables).
        penalty = conflict + sum(len(w) * _left_out(w, extra) for w in lq[n:] + lc[n:])
    words = matched / (matched_length + penalty) if matched_length else 0.0
    if len(chosen) >= 3 and not _in_turn([(qs[0], cs[0]) for _, qs, cs in chosen]):
        words *= _SHUFFLED
    if words < _COMPACT_DISCOUNT and not refused:
        # All spaces removed ("H U A W E I"). Each edit counts double: this comparison is only
        # meant to forgive spacing, and long names would otherwise hide a whole different word.
        compact = (
            1 - 2 * Levenshtein.normalized_distance("".join(query), "".join(candidate))
        ) * _COMPACT_DISCOUNT
        if compact > words and not (
            apart is not None and _apart_again(query, candidate, left_query, left_candidate, apart)
        ):
            return Scored(round(compact, 6), tuple(chosen), left_query, left_candidate, True, initial)
    return Scored(words, tuple(chosen), left_query, left_candidate, False, initial)


def _apart_again(
    query: tuple[str, ...],
    candidate: tuple[str, ...],
    left_query: tuple[str, ...],
    left_candidate: tuple[str, ...],
    apart: Callable[[str, str, bool], bool],
) -> bool:
    """Whether words left unpaired because the customer's is another name would pair again
    without spaces ("Bridge" and "Ridge", "Tanturk" and "Canturk": a letter apart, both names)."""
    pinyin: bool | None = None
    for a in left_query:
        for b in left_candidate:
            if len(a) > 1 and Levenshtein.distance(a, b, score_cutoff=2) <= 2:
                if pinyin is None:
                    pinyin = pinyin_name(query) and pinyin_name(candidate)
                if apart(a, b, pinyin):
                    return True
    return False


@functools.lru_cache(maxsize=65536)
def _opening(word: str) -> tuple[bool, object, object]:
    """What decides whether a word can pair with another at all: written without vowels or not,
    and the group of its first letter as written and folded (:data:`_FIRST_LETTER`)."""
    folded = fold(word) or word
    return (
        voweless(word),
        _FIRST_LETTER.get(word[0], word[0]),
        _FIRST_LETTER.get(folded[0], folded[0]),
    )


def _initials_for_given_names(
    query: tuple[str, ...],
    candidate: tuple[str, ...],
    scored: list[tuple[float, tuple[int, ...], tuple[int, ...]]],
) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """The pairs without an initial of the customer's that cannot stand where it is put, when a
    whole word of the customer's pairs with nothing (their own first name or surname): people
    shorten given names, so the initial stands neither for the listed surname (its last word:
    "Denis D. Yarov" is not "Denis Dolin") nor, after that unpaired word, for any listed word
    (a middle initial: "Boris Y. Tikhov" is not "Yurii Tihov"). "M. Carl Lindfield" may still be
    "Mary Lindfield" with a middle name more."""
    paired = {qs[0] for _, qs, cs in scored if len(qs) == 1 and len(cs) == 1}
    lonely = [i for i, w in enumerate(query) if len(w) > 1 and i not in paired]
    if not lonely:
        return scored
    first, last = lonely[0], len(candidate) - 1

    def barred(qs: tuple[int, ...], cs: tuple[int, ...]) -> bool:
        if len(qs) != 1 or len(query[qs[0]]) != 1:
            return False
        return qs[0] > first or (cs == (last,) and len(candidate[last]) > 1)

    return [pair for pair in scored if not barred(pair[1], pair[2])]


def _pair_order(pair: tuple[float, tuple[int, ...], tuple[int, ...]]) -> tuple[float, int]:
    return pair[0], len(pair[1]) + len(pair[2])


def _left_out(word: str, extra: float) -> float:
    """The share of its length a word with no counterpart counts."""
    if _ONE_SYLLABLE.fullmatch(word):
        return _LONE_SYLLABLE
    if len(word) >= 4 and _PATRONYMIC.search(word):
        return min(extra, _PATRONYMIC_WEIGHT)
    return extra


def _in_turn(order: list[tuple[int, int]]) -> bool:
    """Whether the paired words come in the same order on both sides, give or take a rotation.

    "Sidorenko Ivan Petrovich" is "Ivan Petrovich Sidorenko" with the surname moved: a rotation.
    "Han Myong Hyok" is not "Han Hyok Myong": the given names' order is part of the name.
    """
    if len(order) < 3:
        return True
    sequence = [c for _, c in sorted(order)]
    descents = sum(1 for x, y in itertools.pairwise(sequence) if y < x)
    return descents == 0 or (descents == 1 and sequence[-1] < sequence[0])


def _joined_pairs(
    side: Sequence[str], other: Sequence[str], *, flip: bool
) -> list[tuple[float, tuple[int, ...], tuple[int, ...]]]:
    """Pairs of two adjacent words of ``side``, joined, with one word of ``other``."""
    found: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
    bare = [voweless(word) for word in other]
    for k in range(len(side) - 1):
        if len(side[k]) == 1 or len(side[k + 1]) == 1:
            continue  # an initial run into a word is no spacing of it
        joined = side[k] + side[k + 1]
        for j, word in enumerate(other):
            # A word without vowels is as long as the consonants of the joined words.
            length = len(skeleton(joined)) if bare[j] else len(joined)
            if abs(len(word) - length) > 2:
                continue
            if (score := word_similarity(joined, word)) > 0:
                score *= _COMPACT_DISCOUNT
                found.append((score, (j,), (k, k + 1)) if flip else (score, (k, k + 1), (j,)))
    return found
