"""Korean syllables in the romanisations lists and people use, to tell one syllable's spellings
from two syllables.

A Korean name is written syllable by syllable, and each syllable has several accepted Latin
spellings: McCune-Reischauer as the sanctions lists write it (without breves: 성 "Song", 광
"Kwang"), the South's Revised Romanisation (성 "Seong", 광 "Gwang") and the spellings people use
in passports (성 "Sung", 정 "Chung"). Edit distance gets them wrong both ways: "Kwang" and
"Gwang" start with letters no spelling swaps, "Jong" and "Chong" too, while "Song" and "Sung" are
a letter apart and may be one syllable (성) or two (송 and 승). So, when every word of both names
is a syllable of this table, :func:`korean_similarity` says how alike two of them are.
"""

from __future__ import annotations

import functools

__all__ = ["EQUAL", "KOREAN", "WEAK", "korean_name", "korean_same", "korean_similarity"]

EQUAL = 0.98  # as two spellings equal once folded (:mod:`.similarity`)
WEAK = 0.75  # the least similarity a pair of words counts with

# Hangul syllables common in names -> their accepted romanisations: McCune-Reischauer without
# breves (the lists' spelling), Revised Romanisation, and the popular passport spellings.
_KOREAN_SYLLABLES: dict[str, tuple[str, ...]] = {
    "김": ("kim", "gim"), "리": ("ri", "lee", "yi", "rhee", "li"), "박": ("pak", "park", "bak"),
    "최": ("choe", "choi", "chwe"), "정": ("jong", "chong", "jeong", "chung", "jung", "cheong"),
    "강": ("kang", "gang"), "한": ("han",), "류": ("ryu", "yoo", "yu", "ryoo"), "조": ("jo", "cho"),
    "윤": ("yun", "yoon"), "성": ("song", "seong", "sung"), "송": ("song",), "승": ("sung", "seung"),
    "호": ("ho",), "철": ("chol", "cheol", "chul"), "일": ("il",), "남": ("nam",),
    "용": ("yong", "ryong"), "수": ("su", "soo"), "혁": ("hyok", "hyeok", "hyuk"),
    "명": ("myong", "myeong", "myung"), "춘": ("chun",), "광": ("kwang", "gwang"), "학": ("hak",),
    "민": ("min",), "진": ("jin", "chin"), "덕": ("dok", "deok", "duk", "tok"), "만": ("man",),
    "원": ("won",), "국": ("guk", "kuk", "gook", "kook"), "복": ("bok", "pok"), "웅": ("ung", "woong"),
    "영": ("yong", "yeong", "young"), "현": ("hyon", "hyeon", "hyun"), "준": ("jun", "joon", "chun"),
    "동": ("dong", "tong"), "경": ("kyong", "gyeong", "kyung"), "은": ("un", "eun"),
    "혜": ("hye",), "희": ("hui", "hee"), "석": ("sok", "seok", "suk"), "순": ("sun", "soon"),
}  # fmt: skip
KOREAN: dict[str, frozenset[str]] = {}
"""A romanised Korean syllable -> the Hangul syllables it may stand for."""
for _hangul, _spellings in _KOREAN_SYLLABLES.items():
    for _spelling in _spellings:
        KOREAN[_spelling] = KOREAN.get(_spelling, frozenset()) | {_hangul}


def korean_same(a: str, b: str) -> bool | None:
    """Whether two romanised Korean syllables may be one (a syllable accepts both spellings);
    None if either is not a syllable of the table."""
    ours, theirs = KOREAN.get(a), KOREAN.get(b)
    if ours is None or theirs is None:
        return None
    return bool(ours & theirs)


def korean_similarity(a: str, b: str, letters: float) -> float:
    """How alike two syllables of Korean names are, given how alike their letters are:

    - spellings of the same syllables only ("Kwang" and "Gwang": 광; "Jong" and "Chong": 정)
      are one syllable, however their letters differ: at least ``equal``;
    - spellings that may be one syllable or two ("Sung" is 성 or 승, "Song" 성 or 송) are as
      alike as their letters, and never less than a weak pair (``weak``);
    - spellings of no common syllable ("Chol" and "Chun") are two syllables: 0.
    """
    ours, theirs = KOREAN[a], KOREAN[b]
    if ours == theirs:
        return max(letters, EQUAL)
    if ours & theirs:
        return max(letters, WEAK)
    return 0.0


@functools.lru_cache(maxsize=65536)
def korean_name(words: tuple[str, ...]) -> bool:
    """Whether every word of a name is a romanised Korean syllable of the table."""
    return bool(words) and all(w in KOREAN for w in words)
