"""Whether two spellings that differ by a letter or two are one name or two.

A customer's "Penridge" against a listed "Pemridge" is a typo or another family; "Nabeel"
against "Nabil" is one name in two transliterations. Edit distance cannot tell them apart, but
two things can:

- *Is the customer's spelling itself a name?* A typo rarely lands on another real name; a
  namesake's name is one. The list is the dictionary at hand: a word it holds as a name (in
  some other entry) is a real spelling, not a slip of the keyboard (spelling correction's
  "real-word" against "non-word" errors).
- *Is the difference one transliterations make?* Vowels ("Nabeel"/"Nabil", "Omar"/"Umar",
  "Shehri"/"Shihri"), doubled letters, a final h, and consonants that scripts map onto several
  Latin letters (c/k/q, g/j/h, b/p, d/t/s/z, f/v/w) vary between honest spellings of one name.
  Any other consonant ("Penridge"/"Pemridge", "Arslan"/"Aslan", "Oliver"/"Olivia") makes
  another name.

So a customer's word that the list holds as a name, against a listed word whose consonants
differ beyond those swaps, is another name: it does not pair (:func:`other_name`). In a Chinese
name the vowels count too, syllable by syllable: "Guoping" and "Guoming", "Fangli" and
"Fanglei" are other characters, so other names, when both are names the list holds (a syllable
two letters off is another name whether or not: :func:`.similarity.word_similarity`). Only in a
name all of whose words are pinyin: "Canaan" reads as pinyin too, and "Reza" and "Riza" are one
Persian name.

Korean syllables are written in several accepted romanisations (McCune-Reischauer as the lists
use it, the South's Revised Romanisation, the spellings people use in passports): 성 is "Song",
"Seong" or "Sung", 승 is "Sung" or "Seung". :data:`KOREAN` holds the accepted spellings of the
syllables common in names; two words that both are such spellings are one syllable if a syllable
accepts both (:func:`korean_same`: "Sung" and "Song" may both be 성), and otherwise two ("Chol"
and "Chun").
"""

from __future__ import annotations

import functools
import re

from .similarity import fold, skeleton, syllables

__all__ = ["KOREAN", "korean_same", "other_name"]

# Consonants that transliterations swap, one letter per class; the rest stand for themselves.
_CLASSES = str.maketrans({"c": "k", "q": "k", "j": "g", "h": "g", "p": "b", "t": "d", "s": "d", "z": "d", "f": "b"})
_DOUBLES = re.compile(r"(.)\1+")

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


@functools.lru_cache(maxsize=65536)
def _consonants(word: str) -> str:
    """The word's consonants, the ones transliterations swap merged into one letter each."""
    return _DOUBLES.sub(r"\1", skeleton(word).translate(_CLASSES))


@functools.lru_cache(maxsize=131072)
def other_name(a: str, b: str, pinyin: bool = False) -> bool:
    """Whether ``a``, a word the list holds as a name, is another name than ``b`` rather than
    a spelling of it: a consonant differs beyond the swaps transliterations make; or, in a
    Chinese name (``pinyin``: every word of both names is pinyin), a syllable differs other than
    by those swaps or by two letters swapped (a typo)."""
    if len(a) < 2 or len(b) < 2 or fold(a) == fold(b):
        return False
    same = korean_same(a, b)
    if same is not None:
        return not same
    if pinyin:
        sa, sb = syllables(a), syllables(b)
        if sa and sb and len(sa) == len(sb):
            return any(
                sorted(x) != sorted(y) and x.translate(_CLASSES) != y.translate(_CLASSES)
                for x, y in zip(sa, sb, strict=True)
            )
    return _consonants(a) != _consonants(b)
