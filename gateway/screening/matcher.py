"""Screen a customer against list entries: fuzzy, token-aware name matching, then the other fields.

How a pair of names is scored is in :mod:`.similarity` (as screening engines do; see Moov
Watchman and OpenSanctions' nomenklatura); what the list's other fields add or take away, in
:mod:`.evidence`. Each entry's best name (its primary name or an alias, against the subject's
name or aliases) is weighed with the fields, and a hit carries an :class:`~.evidence.Explanation`:
the word pairs and each field's check.

Speed: each screen must not score every entry. Words (as written, folded, as consonants, and
adjacent pairs joined) index the names they occur in, with every one-letter deletion of each
word as a further key (the "symmetric delete" trick of SymSpell), so a word within an edit of
a list word is found by dictionary lookups alone. Candidate names are ranked by how much of
the query they share, rare words counting more (inverse document frequency), and only the
best few are scored in full.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from operator import itemgetter

import msgspec

from .entries import ListEntry
from .evidence import MAX_RAISE, Explanation, FieldCheck, Subject, explain, weigh
from .normalise import normalise
from .ranking import OUTRANKED, Contender, outranked
from .similarity import (
    EXTRA_WORD_WEIGHT,
    Alignment,
    Scored,
    explained,
    fold,
    name_similarity,
    similarity,
    skeleton,
    voweless,
)
from .similarity import score as score_names
from .spellings import other_name

__all__ = [
    "DEFAULT_THRESHOLD",
    "Explanation",
    "FieldCheck",
    "Match",
    "Screener",
    "Subject",
    "name_similarity",
]

DEFAULT_THRESHOLD: float = 0.82
"""Scores at or above this go to review. Calibrated with ``tests/bench/bench_screening.py``."""

# Candidate search.
_CANDIDATES = 40  # names scored in full per subject name, at most
_CANDIDATE_SHARE = 0.4  # ... and only those sharing at least this share of the best one's weight
_UBIQUITOUS_SHARE = 0.02  # a word in more names than this (and 500) is not counted at all
_MIN_DELETE_LENGTH = 4  # shorter words are looked up as written only
_MIN_SPLIT_LENGTH = 8  # a word found nowhere is tried as two words from this length
_INITIAL_WEIGHT = 1.0  # what an initial adds to a name with a word it begins (a common word's weight)
# Name scoring: a word in more than this share of the list's names counts less, down to a floor.
_RARE_SHARE = 0.001
_RARE_NAMES = 20  # ... and in more than this many: in a short list, no word is common
_COMMON_WEIGHT = 0.35
_ORGANISATION_EXTRA_WORD = 0.8


class Match(msgspec.Struct, frozen=True):
    """A list entry that may be the subject, and why."""

    entry: ListEntry
    score: float
    """0..1, after the identifier, date-of-birth, country and kind adjustments."""
    matched_name: str
    """The entry's name or alias that matched best."""
    reasons: tuple[str, ...]
    """The explanation in words, one line per fact (what the review screens show and store)."""
    explanation: Explanation


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _forms(words: Sequence[str], *, listed: bool = False) -> list[set[str]]:
    """What to look each word of a name up as: written, folded and as consonants; then adjacent
    words joined.

    Both spellings, because folding can lengthen a typo: "walland" is one edit from "waltland",
    but folded ("valand", "valtland") two. Consonants, because Arabic and Persian script write
    no short vowels: "mhmd" is found under "mohammed". Two consonants are a key too ("ld" for
    "walid", "zd" for "ziad"), but only for a word written without vowels: in any other word
    they would find thousands of names.
    """
    forms = []
    for w in words:
        bare = skeleton(w)
        keep = len(bare) >= 3 or (len(bare) == 2 and (listed or voweless(w)))
        forms.append({w, fold(w)} | ({bare} if keep else set()))
    forms += [{words[k] + words[k + 1]} for k in range(len(words) - 1)]
    return forms


def best_candidates(scores: dict[int, float], size: int = _CANDIDATES) -> list[int]:
    """The ``size`` names of highest weight, best first and, among equals, the list's earlier
    names; less than ``_CANDIDATE_SHARE`` of the best one's weight and a name cannot score near it.

    Two sorts in C (the second is stable, also in reverse) of the names at or above the best
    ones' lowest weight, rather than a heap walked in Python.
    """
    if len(scores) > size:
        cutoff = sorted(scores.values(), reverse=True)[size - 1]
        top = [item for item in scores.items() if item[1] >= cutoff]
    else:
        top = list(scores.items())
    top.sort()
    top.sort(key=itemgetter(1), reverse=True)
    ranked = top[:size]
    floor = ranked[0][1] * _CANDIDATE_SHARE if ranked else 0.0
    return [n for n, weight in ranked if weight >= floor]


def _contender(
    query: tuple[str, ...],
    score: float,
    checks: tuple[FieldCheck, ...],
    query_index: int,
    alignment: Alignment,
) -> Contender:
    """What :func:`.ranking.outranked` compares of a hit: how well each word of the name paired."""
    paired: dict[str, float] = {}
    for pair in alignment.pairs:
        for word in pair.subject.split():
            paired[word] = max(paired.get(word, 0.0), pair.similarity)
    form = next((c.outcome for c in checks if c.field == "legal_form"), None)
    return Contender(
        query_index,
        tuple(paired.get(w, 0.0) for w in query),
        alignment.score,
        1 if form == "agrees" else -1 if form == "differs" else 0,
        score,
        alignment.unpaired_listed,
    )


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
                words = tuple(normalise(text, entry.kind).split())
                if not words or words in seen:
                    continue
                seen.add(words)
                name_id = len(self._names)
                self._names.append(_Name(index, text, words))
                single.update(w for w in words)
                single.update(fold(w) for w in words)
                for key in set().union(*_forms(words, listed=True)):
                    word_id = vocabulary.setdefault(key, len(postings))
                    if word_id == len(postings):
                        postings.append([])
                    postings[word_id].append(name_id)
        self._single = frozenset(single)
        self._postings = postings
        self._vocabulary = list(vocabulary)  # word id -> word
        self._word_ids = vocabulary
        self._name_count = max(len(self._names), 1)
        self._rarities: dict[str, float] = {}
        total = max(len(self._names), 1)
        self._weights = [math.log(1 + total / len(p)) for p in postings]
        self._ubiquitous = max(500, int(total * _UBIQUITOUS_SHARE))
        # Every word (not the joined pairs nor the consonants: too many) is also found under
        # each one-letter deletion.
        self._keys: dict[str, list[int]] = {}
        for word, word_id in vocabulary.items():
            self._keys.setdefault(word, []).append(word_id)
            if word in single and len(word) >= _MIN_DELETE_LENGTH:
                for variant in _deletes(word):
                    self._keys.setdefault(variant, []).append(word_id)

    def __len__(self) -> int:
        return len(self._entries)

    def _apart(self, word: str, listed: str, pinyin: bool) -> bool:
        """Whether the customer's ``word``, spelt differently from the ``listed`` one, is another
        name: it is a name the list holds itself, and differs as names do, not as spellings of
        one name (:func:`.spellings.other_name`)."""
        return word in self._single and other_name(word, listed, pinyin)

    def _rarity(self, word: str) -> float:
        """How much a word says about who a name is: 1 for a word in few names, down to
        ``_COMMON_WEIGHT`` for one in very many ("trading", "mohammed", "kim")."""
        found = self._rarities.get(word)
        if found is None:
            word_id = self._word_ids.get(fold(word))
            names = len(self._postings[word_id]) if word_id is not None else 0
            rare = max(_RARE_NAMES, _RARE_SHARE * self._name_count)
            found = 1.0 if names <= rare else max(_COMMON_WEIGHT, (rare / names) ** 0.5)
            self._rarities[word] = found
        return found

    def screen(self, subject: Subject, threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
        """Entries scoring at least ``threshold``, one match per entry (its best), best first."""
        # entry -> (name score, name id, query index, the pairing that gave the score)
        best: dict[int, tuple[float, int, int, Scored]] = {}
        # People leave out middle names and patronymics; companies rarely leave out a word.
        extra = EXTRA_WORD_WEIGHT if subject.kind == "person" else _ORGANISATION_EXTRA_WORD
        queried: list[tuple[str, ...]] = []
        said: list[str] = []  # each of them as the subject wrote it
        for text in (subject.name, *subject.aliases):
            query = tuple(normalise(text, subject.kind).split())
            if not query or query in queried:
                continue
            queried.append(query)
            said.append(text)
            for name_id in self._candidates(query):
                name = self._names[name_id]
                scored = score_names(query, name.words, self._rarity, extra, self._apart)
                held = best.get(name.entry)
                # On a tie the entry's earlier name wins: its primary name before its aliases.
                if held is None or scored.score > held[0] or (scored.score == held[0] and name_id < held[1]):
                    best[name.entry] = (scored.score, name_id, len(queried) - 1, scored)
        hits: list[tuple[ListEntry, float, tuple[FieldCheck, ...], _Name, int, Alignment]] = []
        for entry_index, (name_score, name_id, query_index, scored) in best.items():
            if name_score + MAX_RAISE < threshold:
                continue
            entry = self._entries[entry_index]
            partial = bool(scored.left_query or scored.left_candidate or scored.initial)
            total, checks = weigh(subject, entry, name_score, partial=partial)
            if total >= threshold:
                name = self._names[name_id]
                alignment = explained(queried[query_index], name.words, scored)
                hits.append((entry, total, checks, name, query_index, alignment))
        beaten = (
            outranked([_contender(queried[h[4]], *h[1:3], *h[4:]) for h in hits]) if len(hits) > 1 else {}
        )
        matches = []
        for k, (entry, score, checks, name, query_index, alignment) in enumerate(hits):
            if k in beaten:
                other = hits[beaten[k]][0]
                checks = (
                    *checks,
                    FieldCheck(
                        "ranking",
                        "differs",
                        f"outranked: {other.source} {other.entry_id} matches the name better",
                        -OUTRANKED,
                    ),
                )
                score = round(max(0.0, score - OUTRANKED), 4)
                if score < threshold:
                    continue
            explanation = explain(said[query_index], name.text, alignment, score, checks)
            matches.append(Match(entry, score, name.text, explanation.reasons(), explanation))
        matches.sort(key=lambda m: (-m.score, m.entry.source, m.entry.entry_id))
        return matches

    def _lookup(self, form: str, hits: dict[int, float]) -> None:
        """The list words within an edit of ``form``, with their similarity, into ``hits``."""
        keys = {form} | _deletes(form) if len(form) >= _MIN_DELETE_LENGTH else {form}
        for key in keys:
            for word_id in self._keys.get(key, ()):
                # A shared deletion proves little ("iung" and "king" share "ing"): check the pair.
                found = similarity(form, self._vocabulary[word_id])
                if found > hits.get(word_id, 0.0):
                    hits[word_id] = found

    def _found(
        self, hits: dict[int, float], ubiquitous: list[int], common: list[tuple[int, float]]
    ) -> dict[int, float]:
        """Name id -> the weight of the best of ``hits`` (list words, with their similarity)
        each name holds; the ubiquitous words are set aside into ``ubiquitous`` and ``common``."""
        groups: list[tuple[float, list[int]]] = []
        for word_id, word_similarity in hits.items():
            posting = self._postings[word_id]
            if len(posting) > self._ubiquitous:
                ubiquitous.append(word_id)
                common.append((word_id, word_similarity))
                continue
            # Near misses ("jong" for "yong") count less than the word itself.
            groups.append((self._weights[word_id] * (word_similarity - 0.5) / 0.5, posting))
        # Each name takes its best weight: lowest first, every higher one written over it (in C).
        groups.sort(key=itemgetter(0))
        found: dict[int, float] = {}
        for weight, posting in groups:
            found.update(dict.fromkeys(posting, weight))
        return found

    def _candidates(self, query: tuple[str, ...]) -> list[int]:
        """Names sharing the most and rarest words of ``query``, give or take an edit."""
        ubiquitous: list[int] = []
        common: list[list[tuple[int, float]]] = []  # per query word: its ubiquitous hits
        per_word: list[dict[int, float]] = []  # per query word: name id -> weight of its best hit
        for position, forms in enumerate(_forms(query)):
            # Each query word counts once per name: with the weight of its best hit in that name.
            hits: dict[int, float] = {}  # word id -> similarity
            # An initial stands for any word it begins, so it is no rare word: looked up as one
            # (or joined to the next word, "kbrookwell"), "J." would find the few listed names
            # that hold a "J." and crowd out every "José" and "John" (it breaks ties below instead).
            k = position - len(query)
            if len(query[position]) > 1 if k < 0 else len(query[k]) > 1 and len(query[k + 1]) > 1:
                for form in forms:
                    self._lookup(form, hits)
            common.append([])
            if not hits and position < len(query) and len(query[position]) >= _MIN_SPLIT_LENGTH:
                # Two words written as one, one of them misspelt ("crytalharbor"): look up the
                # halves, where one of them is a word of the list; a name counts the best hit of
                # either half, as it would for the two words written apart.
                word = query[position]
                lefts: dict[int, float] = {}
                rights: dict[int, float] = {}
                for cut in range(3, len(word) - 2):
                    left, right = word[:cut], word[cut:]
                    if left in self._word_ids or right in self._word_ids:
                        self._lookup(left, lefts)
                        self._lookup(right, rights)
                found = self._found(lefts, ubiquitous, common[-1])
                get = found.get
                for name_id, weight in self._found(rights, ubiquitous, common[-1]).items():
                    found[name_id] = get(name_id, 0.0) + weight
            else:
                found = self._found(hits, ubiquitous, common[-1])
            if position < len(query):
                per_word.append(found)
                continue
            # Two words joined ("shanghai" for "shang hai", from 上海) stand for both words, and
            # count for each as much as the best hit of the word alone would.
            k = position - len(query)
            for side in (per_word[k], per_word[k + 1]):
                get = side.get
                side.update({n: weight for n, weight in found.items() if weight > get(n, 0.0)})
        # Summed word by word in query order (a copy first: 0.0 + weight is the weight).
        scores: dict[int, float] = dict(per_word[0]) if per_word else {}
        for found in per_word[1:]:
            get = scores.get
            scores.update({n: get(n, 0.0) + weight for n, weight in found.items()})
        initials = {w for w in query if len(w) == 1}
        if initials and scores:
            # Among the names the other words found, those with a word the initial begins.
            names = self._names
            for name_id in scores:
                if any(w[0] in initials for w in names[name_id].words):
                    scores[name_id] += _INITIAL_WEIGHT
        if not scores and ubiquitous:
            # Nothing but the commonest words ("Mohammed Ali"): the shortest names holding the two rarest.
            ubiquitous.sort(key=lambda w: len(self._postings[w]))
            chosen = set(self._postings[ubiquitous[0]])
            if len(ubiquitous) > 1:
                chosen &= set(self._postings[ubiquitous[1]])
            names = self._names
            return sorted(
                chosen,
                key=lambda n: (
                    not any(w[0] in initials for w in names[n].words) if initials else False,
                    len(names[n].words),
                    n,
                ),
            )[:_CANDIDATES]
        if len(scores) > _CANDIDATES:
            # More names than are scored in full share the rarer words ("mhmd hsn slh" written in
            # Arabic script shares consonants with thousands): let the common words break the tie,
            # among those names only.
            for word_hits in common:
                extra: dict[int, float] = {}
                for word_id, word_similarity in word_hits:
                    weight = self._weights[word_id] * (word_similarity - 0.5) / 0.5
                    for name_id in self._postings[word_id]:
                        if name_id in scores and weight > extra.get(name_id, 0.0):
                            extra[name_id] = weight
                for name_id, weight in extra.items():
                    scores[name_id] += weight
        return best_candidates(scores)
